"""The SQL of gap analysis: every lead classified by why it is (not) attributed, in one query.

A lead is, in this order (docs/operations.md has the reasoning):

- ``no_identity``: no active link;
- ``no_origin``: linked, but no origin row points at the lead record at all (a link written
  before origins existed: ``backfill origins`` repairs it);
- ``inconsistent_origin``: linked and the lead has an origin, but none on the person its link
  points to (the origin belongs to another person), or every origin of that person is
  ``discarded``;
- ``resolved``: linked, the lead's origin sits on the linked person, and that person has at
  least one origin that is not discarded.

Risk: ``high`` for ``inconsistent_origin`` and for ``no_identity`` at least ``high_days`` old;
``medium`` for any other unresolved lead at least ``medium_days`` old; ``low`` otherwise.
Ages compare the lead date (``event_date``) with day cut-offs computed from ``now``, so the
classification, the filters and the counts all run in the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Link, Origin, SourceRecord

GAP_REASONS = ("resolved", "no_identity", "no_origin", "inconsistent_origin")
RISKS = ("high", "medium", "low")
DISCARDED = "discarded"


@dataclass(frozen=True)
class GapCutoffs:
    """Leads dated on or before these days are old enough for the risk."""

    medium: dt.date
    high: dt.date

    @classmethod
    def at(cls, now: dt.datetime, medium_days: int, high_days: int) -> GapCutoffs:
        today = now.date()
        return cls(today - dt.timedelta(days=medium_days), today - dt.timedelta(days=high_days))


def gap_query(cutoffs: GapCutoffs) -> Select[Any]:
    """(record_id, lead_id, event_date, person_key, gap_reason, risk) for every lead."""
    lead_origin = aliased(Origin)
    own_origin = aliased(Origin)
    live_origin = aliased(Origin)
    has_any_origin = exists().where(lead_origin.record_id == SourceRecord.id)
    has_own_origin = exists().where(
        own_origin.record_id == SourceRecord.id, own_origin.person_key == Link.person_key
    )
    has_live_origin = exists().where(
        live_origin.person_key == Link.person_key, live_origin.status != DISCARDED
    )
    reason = case(
        (Link.id.is_(None), literal("no_identity")),
        (~has_any_origin, literal("no_origin")),
        (~has_own_origin | ~has_live_origin, literal("inconsistent_origin")),
        else_=literal("resolved"),
    )
    risk = case(
        (reason == "inconsistent_origin", literal("high")),
        (and_(reason == "no_identity", SourceRecord.event_date <= cutoffs.high), literal("high")),
        (and_(reason != "resolved", SourceRecord.event_date <= cutoffs.medium), literal("medium")),
        else_=literal("low"),
    )
    return (
        select(
            SourceRecord.id.label("record_id"),
            SourceRecord.source_pk.label("lead_id"),
            SourceRecord.event_date.label("event_date"),
            Link.person_key.label("person_key"),
            reason.label("gap_reason"),
            risk.label("risk"),
        )
        .select_from(SourceRecord)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source == "leads")
    )


def summary(session: Session, cutoffs: GapCutoffs) -> dict[str, dict[str, int]]:
    """gap_reason -> risk -> number of leads (every lead, no filter)."""
    sub = gap_query(cutoffs).subquery()
    rows = session.execute(
        select(sub.c.gap_reason, sub.c.risk, func.count()).group_by(sub.c.gap_reason, sub.c.risk)
    )
    out: dict[str, dict[str, int]] = {r: {} for r in GAP_REASONS}
    for reason, risk, n in rows:
        out[reason][risk] = int(n)
    return out


# The orders a reader may choose besides the working order (None: high risk first, then
# oldest, then lead id). Each ends on the lead id, unique among leads, so pages never overlap.
SORTS = ("lead_date", "-lead_date", "lead_id", "-lead_id")


def _order(sub: Any, sort: str | None) -> tuple[Any, ...]:
    if sort == "lead_date":
        return (sub.c.event_date, sub.c.lead_id)
    if sort == "-lead_date":
        return (sub.c.event_date.desc(), sub.c.lead_id)
    if sort == "lead_id":
        return (sub.c.lead_id,)
    if sort == "-lead_id":
        return (sub.c.lead_id.desc(),)
    risk_rank = case((sub.c.risk == "high", 0), (sub.c.risk == "medium", 1), else_=2)
    return (risk_rank, sub.c.event_date, sub.c.lead_id)


def leads(
    session: Session,
    cutoffs: GapCutoffs,
    *,
    reasons: Sequence[str] = (),
    risks: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
    sort: str | None = None,
) -> list[dict[str, Any]]:
    """One page of the leads matching the filters, in ``sort`` order (one of ``SORTS``;
    None: high risk first, then oldest first, then by lead id)."""
    sub = gap_query(cutoffs).subquery()
    query = select(sub)
    if reasons:
        query = query.where(sub.c.gap_reason.in_(list(reasons)))
    if risks:
        query = query.where(sub.c.risk.in_(list(risks)))
    query = query.order_by(*_order(sub, sort))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [dict(r._mapping) for r in session.execute(query)]


def count_unresolved_since(session: Session, cutoffs: GapCutoffs) -> tuple[int, list[str]]:
    """Unresolved leads dated on or before the high cut-off, and a few of their ids."""
    sub = gap_query(cutoffs).subquery()
    old = and_(sub.c.gap_reason != "resolved", sub.c.event_date <= cutoffs.high)
    n = session.scalar(select(func.count()).select_from(sub).where(old)) or 0
    sample = session.scalars(
        select(sub.c.lead_id).where(old).order_by(sub.c.event_date, sub.c.lead_id).limit(10)
    )
    return int(n), list(sample)
