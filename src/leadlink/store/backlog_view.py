"""The backlog segments' summary tables: written by the jobs and decisions that change their
inputs, read by every surface (docs/summaries.md; the segments' definitions are in
``store.segments`` and docs/recovery.md, "Backlog segments").

``backlog_lead`` holds, for every lead with no active link, what does not depend on the
calendar: its candidate and the candidate's trips inside the lead's window. The calendar part
(past its grace period? window open? claims expired?) is ``segments._split`` over ``lead_date``,
applied when read, so the rows stay true as days pass. ``backlog_day`` counts the same rows per
day, so the summary adds up days, not leads; each segment's page is one range of an index.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session

from leadlink.store.backlog import cutoff
from leadlink.store.models import Link, SourceRecord, Unmatched
from leadlink.store.money_tables import BacklogDay, BacklogLead, table_of
from leadlink.store.scopes import RECORDS, records_in
from leadlink.store.segments import (
    EXPIRED,
    NOT_MATCHED,
    SEGMENTS,
    SegmentRules,
    _candidate_trips,
    _has_lead,
    _split,
    candidate,
)
from leadlink.store.windows import as_date, ladder_amount

LIMIT = 50
COLUMNS = ("record_id", "lead_id", "lead_date", "reason", "candidate", "has_candidate",
           "candidate_trips", "candidate_amount")  # fmt: skip


def lead_rows(rules: SegmentRules, record_ids: Collection[int] | None = None) -> Select[Any]:
    """``COLUMNS`` for every lead with no active link (only ``record_ids`` when given): the
    one definition the refresh writes and ``check summaries`` compares with.

    Two materialised steps, so each lookup runs once per lead (a planner that inlines them
    repeats a lookup for every expression reading it): the leads with their candidate, then
    the candidate's trips inside the lead's window.
    """
    ids = None if record_ids is None else sorted(record_ids)
    return _lead_rows(rules.review_threshold, rules.window_days, rules.ladder, ids)


def _lead_rows(
    threshold: float, window_days: int, ladder: Sequence[tuple[str, int, float]],
    record_ids: Sequence[int] | None,
) -> Select[Any]:  # fmt: skip
    linked = exists().where(Link.record_id == SourceRecord.id, Link.active)
    base = (
        select(
            SourceRecord.id.label("record_id"),
            SourceRecord.source_pk.label("lead_id"),
            SourceRecord.event_date.label("lead_date"),
            Unmatched.reason.label("reason"),
            candidate(SourceRecord.id, threshold).label("candidate"),
        )
        .select_from(SourceRecord)
        .outerjoin(Unmatched, Unmatched.record_id == SourceRecord.id)
        .where(SourceRecord.source == "leads", ~linked)
    )
    if record_ids is not None:
        base = base.where(SourceRecord.id.in_(records_in(record_ids)))
    lead = base.cte("unlinked_lead").prefix_with("MATERIALIZED")
    has = lead.c.candidate.is_not(None)
    # A candidate who already has a lead claims through that lead: nothing more at stake.
    trips = case(
        (and_(has, ~_has_lead(lead.c.candidate)),
         _candidate_trips(lead.c.candidate, lead.c.lead_date, window_days)),
        else_=literal(0),
    )  # fmt: skip
    valued = select(*lead.c, has.label("has_candidate"), trips.label("candidate_trips"))
    valued_cte = valued.cte("valued_lead").prefix_with("MATERIALIZED")
    c = valued_cte.c
    return select(
        c.record_id, c.lead_id, c.lead_date, c.reason, c.candidate, c.has_candidate,
        c.candidate_trips, ladder_amount(c.candidate_trips, ladder).label("candidate_amount"),
    )  # fmt: skip


def refresh(
    session: Session,
    rules: SegmentRules,
    *,
    leads: Collection[int] | None = None,
    persons: Collection[str] = (),
) -> int:
    """Rewrite the rows of ``leads`` (lead record ids) and of the leads whose candidate is one
    of ``persons``; everything when ``leads`` is None. Returns the rows stored (in full) or
    the leads looked at (in part)."""
    if leads is None:
        session.execute(delete(BacklogDay))
        session.execute(delete(BacklogLead))
        _insert(session, rules, None)
        _count_days(session, None)
        return int(session.scalar(select(func.count()).select_from(BacklogLead)) or 0)
    scope = set(leads)
    if persons:
        scope |= set(session.scalars(
            select(BacklogLead.record_id).where(BacklogLead.candidate.in_(sorted(persons)))
        ))  # fmt: skip
    if not scope:
        return 0
    ids = sorted(scope)
    on_days = select(SourceRecord.event_date).where(SourceRecord.id.in_(ids))
    stored_days = select(BacklogLead.lead_date).where(BacklogLead.record_id.in_(ids))
    days = {d for q in (on_days, stored_days) for d in session.scalars(q) if d is not None}
    session.execute(delete(BacklogLead).where(BacklogLead.record_id.in_(ids)))
    _insert(session, rules, scope)
    _count_days(session, days)
    return len(ids)


def _insert(session: Session, rules: SegmentRules, scope: Collection[int] | None) -> None:
    if scope is None:
        rows = lead_rows(rules)
        session.execute(insert(table_of(BacklogLead)).from_select(list(COLUMNS), rows))
        return
    stmt = _scoped_insert(rules.review_threshold, rules.window_days, rules.ladder)
    session.execute(stmt, {RECORDS: sorted(scope)})


@functools.lru_cache(maxsize=8)
def _scoped_insert(
    threshold: float, window_days: int, ladder: tuple[tuple[str, int, float], ...]
) -> Insert:
    """The insert of some leads' rows, built once per configuration: a decision's touch runs
    it with its lead ids. Building the statement (aliases, correlated lookups) cost several
    times what SQLite then took to run it for a handful of leads."""
    rows = _lead_rows(threshold, window_days, ladder, ())
    return insert(table_of(BacklogLead)).from_select(list(COLUMNS), rows)


def _count_days(session: Session, days: Collection[dt.date] | None) -> None:
    """Recount ``backlog_day`` for ``days`` (every day when None)."""
    bl = BacklogLead
    rows = select(bl.lead_date, bl.has_candidate, bl.candidate_amount,
                  func.coalesce(bl.reason, literal("")).label("reason_key"))  # fmt: skip
    rows = rows.where(bl.lead_date.is_not(None))
    if days is not None:
        if not days:
            return
        chosen = sorted(days)
        session.execute(delete(BacklogDay).where(BacklogDay.lead_date.in_(chosen)))
        rows = rows.where(bl.lead_date.in_(chosen))
    r = rows.subquery("keyed")
    query = select(r.c.lead_date, r.c.has_candidate, r.c.reason_key, func.count(),
                   func.sum(r.c.candidate_amount)).group_by(
        r.c.lead_date, r.c.has_candidate, r.c.reason_key)  # fmt: skip
    cols = ["lead_date", "has_candidate", "reason", "leads", "amount"]
    session.execute(insert(table_of(BacklogDay)).from_select(cols, query))


def _derived(
    rules: SegmentRules, has: Any, day: Any, reason: Any, amount: Any, leads: Any
) -> dict[str, ColumnElement[Any]]:
    """Segment, loss reason and money at stake of a lead (or of a day's leads: ``leads``
    many, ``amount`` summed) from its stored columns and the calendar, as SQL (the deadline
    is ``_deadline``, in Python on the rows read)."""
    recoverable, waiting = _split(has, day, rules)
    segment = case((recoverable, literal("recoverable")), (waiting, literal("waiting")),
                   else_=literal("lost"))  # fmt: skip
    loss = case(
        (or_(recoverable, waiting), null()),
        (has, literal(EXPIRED)),
        else_=func.coalesce(func.nullif(reason, literal("")), literal(NOT_MATCHED)),
    )
    at_stake = case((recoverable, amount), (waiting, leads * literal(rules.full_ladder)),
                    else_=literal(0.0))  # fmt: skip
    return {"segment": segment, "loss_reason": loss, "at_stake": at_stake,
            "recoverable": recoverable, "waiting": waiting}  # fmt: skip


def _deadline(rules: SegmentRules, has_candidate: bool, day: dt.date | None) -> dt.date | None:
    """Recoverable: lead + window + expiry (after it the claims expire); waiting and lost
    without a candidate: lead + window (the window closes, or closed)."""
    if day is None:
        return None
    days = rules.window_days + (rules.expiry_days if has_candidate else 0)
    return day + dt.timedelta(days=days)


def summary(session: Session, rules: SegmentRules) -> dict[str, dict[str, Any]]:
    """segment -> {"leads", "at_stake", "next_deadline", "by_reason"} over the whole backlog
    (``next_deadline``: the nearest deadline still ahead, None when none is)."""
    d = BacklogDay
    f = _derived(rules, d.has_candidate, d.lead_date, d.reason, d.amount, d.leads)
    query = (
        select(f["segment"], f["loss_reason"], d.has_candidate, func.sum(d.leads),
               func.sum(f["at_stake"]), func.min(d.lead_date))
        .where(d.lead_date < cutoff(rules.now, rules.grace_days))
        .group_by(f["segment"], f["loss_reason"], d.has_candidate)
    )  # fmt: skip
    out: dict[str, dict[str, Any]] = {
        s: {"leads": 0, "at_stake": 0.0, "next_deadline": None, "by_reason": {}} for s in SEGMENTS
    }
    for segment, loss, has, n, stake, first in session.execute(query):
        entry = out[segment]
        entry["leads"] += int(n)
        entry["at_stake"] = round(entry["at_stake"] + float(stake or 0.0), 2)
        if loss is not None:
            entry["by_reason"][loss] = entry["by_reason"].get(loss, 0) + int(n)
        nearest = _deadline(rules, bool(has), as_date(first))
        ahead = nearest is not None and nearest > rules.today
        if ahead and (entry["next_deadline"] is None or nearest < entry["next_deadline"]):
            entry["next_deadline"] = nearest
    return out


# The orders a reader may choose besides the working order (None), each with a unique
# tiebreaker: both are ix_backlog_lead_day read forwards or backwards, filtered by segment.
# Money at stake, the deadline or days left would each need an index of their own (the
# deadline is lead_date plus a per-segment number of days: no index on lead_date orders it).
SORTS: dict[str, tuple[Any, ...]] = {
    "-lead_date": (BacklogLead.lead_date.desc(), BacklogLead.lead_id),
    "lead_date": (BacklogLead.lead_date, BacklogLead.lead_id.desc()),
}


def _row(rules: SegmentRules, row: Any) -> dict[str, Any]:
    lead: BacklogLead = row[0]
    day = as_date(lead.lead_date)
    shown = lead.candidate_trips if row.segment == "recoverable" else 0
    return {
        "record_id": lead.record_id, "lead_id": lead.lead_id, "lead_date": day,
        "segment": row.segment, "loss_reason": row.loss_reason, "reason": lead.reason,
        "candidate": lead.candidate, "candidate_trips": shown,
        "deadline": _deadline(rules, lead.has_candidate, day),
        "at_stake": float(row.at_stake or 0.0),
    }  # fmt: skip


def _page_query(rules: SegmentRules) -> tuple[Select[Any], dict[str, ColumnElement[Any]]]:
    b = BacklogLead
    f = _derived(rules, b.has_candidate, b.lead_date, b.reason, b.candidate_amount, literal(1))
    red = b.lead_date < cutoff(rules.now, rules.grace_days)
    query = select(b, f["segment"].label("segment"), f["loss_reason"].label("loss_reason"),
                   f["at_stake"].label("at_stake")).where(red)  # fmt: skip
    return query, f


def sorted_page(
    session: Session, rules: SegmentRules, sort: str, segments: Sequence[str], limit: int,
    offset: int, losses: Sequence[str] = (),
) -> list[dict[str, Any]]:  # fmt: skip
    """One page of the chosen segments' leads (of the lost ones with one of ``losses``) in
    ``sort`` order (a key of ``SORTS``)."""
    query, f = _page_query(rules)
    if segments:
        query = query.where(f["segment"].in_(list(segments)))
    if losses:
        query = query.where(f["loss_reason"].in_(list(losses)))
    query = query.order_by(*SORTS[sort]).limit(limit).offset(offset)
    return [_row(rules, row) for row in session.execute(query)]


def _segment_page(
    session: Session, rules: SegmentRules, segment: str, limit: int, offset: int,
    losses: Sequence[str] = (),
) -> list[dict[str, Any]]:  # fmt: skip
    """One segment's leads in working order: recoverable by deadline then most money,
    waiting by deadline, lost most recent first; lead id breaks ties (stable paging)."""
    b = BacklogLead
    query, f = _page_query(rules)
    order: tuple[Any, ...]
    if segment == "recoverable":
        where, order = f["recoverable"], (b.lead_date, b.candidate_amount.desc(), b.lead_id)
    elif segment == "waiting":
        where, order = f["waiting"], (b.lead_date, b.lead_id)
    else:
        where = and_(~f["recoverable"], ~f["waiting"])
        order = (b.lead_date.desc(), b.lead_id)
    if losses:
        where = and_(where, f["loss_reason"].in_(list(losses)))
    query = query.where(where).order_by(*order).limit(limit).offset(offset)
    return [_row(rules, row) for row in session.execute(query)]


def leads(
    session: Session,
    rules: SegmentRules,
    counts: dict[str, int],
    *,
    segments: Sequence[str] = (),
    limit: int = LIMIT,
    offset: int = 0,
    losses: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One page of the backlog in working order (recoverable, waiting, lost), across the
    chosen segments; ``counts`` (the summary's leads per segment, under ``losses``) place the
    page without a pass over the backlog: at most one index range per segment is read.
    ``losses`` (loss reasons) keep lost leads only, those lost for one of them."""
    out: list[dict[str, Any]] = []
    for segment in SEGMENTS:
        if segments and segment not in segments:
            continue
        n = counts.get(segment, 0)
        if offset >= n:
            offset -= n
            continue
        want = limit - len(out)
        if want <= 0:
            break
        out += _segment_page(session, rules, segment, want, offset, losses)
        offset = 0
    return out


def expiring(
    session: Session, rules: SegmentRules, until: dt.date, sample: int = 10
) -> tuple[int, float, list[str]]:
    """Recoverable leads whose deadline falls on or before ``until``: how many, the soles at
    stake, and the lead ids of the nearest deadlines."""
    b = BacklogLead
    recoverable, _waiting = _split(b.has_candidate, b.lead_date, rules)
    last_day = until - dt.timedelta(days=rules.window_days + rules.expiry_days)
    soon = and_(recoverable, b.lead_date < cutoff(rules.now, rules.grace_days),
                b.lead_date <= last_day)  # fmt: skip
    n, stake = session.execute(
        select(func.count(), func.coalesce(func.sum(b.candidate_amount), 0.0)).where(soon)
    ).one()
    ids = session.scalars(select(b.lead_id).where(soon).order_by(b.lead_date, b.lead_id)
                          .limit(sample))  # fmt: skip
    return int(n), round(float(stake), 2), list(ids)


def differences(session: Session, rules: SegmentRules, sample: int = 5) -> list[str]:
    """Lead ids whose stored row differs from what ``lead_rows`` computes now (missing, extra
    or changed), at most ``sample``: the summary tables' invariant (``check summaries``)."""
    live = lead_rows(rules).subquery("live")
    stored = select(*(BacklogLead.__table__.c[c] for c in COLUMNS)).subquery("stored")
    found: list[str] = []
    for one, other in ((live, stored), (stored, live)):
        only = select(*(one.c[c] for c in COLUMNS)).except_(select(*(other.c[c] for c in COLUMNS)))
        diff = only.subquery("diff")
        for lead_id in session.scalars(select(diff.c.lead_id).order_by(diff.c.lead_id)
                                       .limit(sample)):  # fmt: skip
            if lead_id not in found:
                found.append(str(lead_id))
    return sorted(found)[:sample]


def lead(session: Session, rules: SegmentRules, record_id: int) -> dict[str, Any] | None:
    """One lead's row as a page of its segment shows it, plus ``kpi_red`` (past its grace
    period: in the backlog's counts); None when the lead has no row (it is linked)."""
    b = BacklogLead
    f = _derived(rules, b.has_candidate, b.lead_date, b.reason, b.candidate_amount, literal(1))
    red = b.lead_date < cutoff(rules.now, rules.grace_days)
    query = select(b, f["segment"].label("segment"), f["loss_reason"].label("loss_reason"),
                   f["at_stake"].label("at_stake"), red.label("kpi_red")).where(
        b.record_id == record_id)  # fmt: skip
    row = session.execute(query).first()
    if row is None:
        return None
    row_lead: BacklogLead = row[0]
    day = as_date(row_lead.lead_date)
    return {
        "record_id": row_lead.record_id, "lead_id": row_lead.lead_id, "lead_date": day,
        "kpi_red": bool(row.kpi_red), "segment": row.segment, "loss_reason": row.loss_reason,
        "reason": row_lead.reason, "candidate": row_lead.candidate,
        "candidate_trips": row_lead.candidate_trips if row.segment == "recoverable" else 0,
        "deadline": _deadline(rules, row_lead.has_candidate, day),
        "at_stake": float(row.at_stake or 0.0),
    }  # fmt: skip
