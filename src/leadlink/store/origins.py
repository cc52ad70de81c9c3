"""Origin SQL beyond what `match` writes: backfill for legacy links, status decisions, listing.

Origins are never deleted and never moved to another person: a person gains origins, and a
decision about one changes its ``status``/``decided_by`` and appends an ``origin_history`` row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from leadlink.sources import ORIGIN_OF_SOURCE
from leadlink.store import audit
from leadlink.store.models import Link, Origin, OriginHistory, SourceRecord

# Every status an origin can have (docs/operations.md says who sets each).
STATUSES = ("pending_review", "resolved_auto", "resolved_manual", "marked_legacy", "discarded")
# What an operator may set with `leadlink origins decide`.
MANUAL_STATUSES = ("pending_review", "resolved_manual", "marked_legacy", "discarded")
DECIDERS = ("system", "manual")


def _missing_origin() -> Any:
    return ~exists().where(
        and_(Origin.person_key == Link.person_key, Origin.record_id == Link.record_id)
    )


def add_for_links(
    session: Session,
    links: ColumnElement[bool],
    *,
    decided_by: str,
    status: ColumnElement[str] | str,
    run_id: int | None,
    now: dt.datetime,
) -> None:
    """Origins for the active links ``links`` selects, of origin sources, whose (person, record)
    has none yet: an origin is added, never swapped. Every writer of origins comes here
    (match, backfill, review accept); ``journal_new`` then gives them their first history row.
    """
    status_col = literal(status) if isinstance(status, str) else status
    rows = (
        select(
            Link.person_key,
            Link.record_id,
            case(ORIGIN_OF_SOURCE, value=SourceRecord.source),
            Link.id,
            literal(decided_by),
            status_col,
            literal(run_id, Integer()),
            literal(now),
        )
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(
            links, Link.active, SourceRecord.source.in_(list(ORIGIN_OF_SOURCE)), _missing_origin()
        )
    )
    session.execute(
        insert(Origin).from_select(
            ["person_key", "record_id", "origin", "link_id", "decided_by", "status", "run_id",
             "created_at"],
            rows,
        )
    )  # fmt: skip


def journal_new(
    session: Session,
    origins: ColumnElement[bool],
    *,
    event: str,
    detail: dict[str, Any],
    run_id: int | None,
    now: dt.datetime,
) -> None:
    """A first history row for the origins ``origins`` selects that have none yet."""
    journaled = exists().where(OriginHistory.origin_id == Origin.id)
    session.execute(
        insert(OriginHistory).from_select(
            ["origin_id", "event", "detail", "run_id", "at"],
            select(
                Origin.id,
                literal(event),
                literal(detail, OriginHistory.detail.type),
                literal(run_id, Integer()),
                literal(now),
            ).where(origins, ~journaled),
        )
    )


def links_missing_origin(session: Session) -> list[int]:
    """Ids of active links of origin sources whose (person, record) has no origin, in order."""
    query = (
        select(Link.id)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.active, SourceRecord.source.in_(list(ORIGIN_OF_SOURCE)), _missing_origin())
        .order_by(Link.id)
    )
    return list(session.scalars(query))


def origins_era_start(session: Session) -> dt.datetime | None:
    """When origins started being written: the oldest origin row (None: there are none)."""
    return session.scalar(select(func.min(Origin.created_at)))


def backfill_links(
    session: Session,
    link_ids: list[int],
    *,
    era_start: dt.datetime | None,
    run_id: int,
    now: dt.datetime,
) -> dict[str, int]:
    """Insert the missing origins of these links plus one history row each; status -> count.

    A link created before the origins era (or with no origin anywhere yet) is ``marked_legacy``;
    a later one lost its origin some other way and gets ``resolved_auto`` like `match` gives.
    """
    legacy = Link.created_at < era_start if era_start is not None else literal(True)
    status = case((legacy, literal("marked_legacy")), else_=literal("resolved_auto"))
    add_for_links(session, Link.id.in_(link_ids), decided_by="system", status=status,
                  run_id=run_id, now=now)  # fmt: skip
    journal_new(session, and_(Origin.link_id.in_(link_ids), Origin.run_id == run_id),
                event="backfilled", detail={"by": "backfill origins"}, run_id=run_id,
                now=now)  # fmt: skip
    counts = session.execute(
        select(Origin.status, func.count())
        .where(Origin.link_id.in_(link_ids), Origin.run_id == run_id)
        .group_by(Origin.status)
    )
    return {r[0]: int(r[1]) for r in counts}


def journal_unjournaled(session: Session, *, run_id: int, now: dt.datetime) -> int:
    """Give every origin without any history row (imported by hand, say) a ``journaled`` row."""
    journaled = exists().where(OriginHistory.origin_id == Origin.id)
    # Counted first: drivers do not all report rowcount for INSERT ... SELECT.
    n = int(session.scalar(select(func.count()).select_from(Origin).where(~journaled)) or 0)
    if n:
        session.execute(
            insert(OriginHistory).from_select(
                ["origin_id", "event", "detail", "run_id", "at"],
                select(
                    Origin.id,
                    literal("journaled"),
                    literal({"by": "backfill origins", "note": "origin had no history"},
                            OriginHistory.detail.type),
                    literal(run_id),
                    literal(now),
                ).where(~journaled),
            )
        )  # fmt: skip
    return n


def get(session: Session, origin_id: int) -> Origin | None:
    return session.get(Origin, origin_id)


def decide(
    session: Session, origin: Origin, *, status: str, actor: str, note: str | None,
    now: dt.datetime,
) -> None:  # fmt: skip
    """A person's decision on an origin: new status, decided_by manual, journaled, audited."""
    before = {"status": origin.status, "decided_by": origin.decided_by}
    session.execute(
        update(Origin).where(Origin.id == origin.id).values(status=status, decided_by="manual")
    )
    session.execute(
        insert(OriginHistory).values(
            origin_id=origin.id,
            event="status_changed",
            detail={"from": before, "to": {"status": status, "decided_by": "manual"},
                    "actor": actor, "note": note},
            run_id=None,
            at=now,
        )
    )  # fmt: skip
    # A person's decision is audited like review decisions are.
    audit.record(session, actor=actor, action="origin_decide", target=f"origin:{origin.id}",
                 detail={"from": before, "status": status, "note": note}, now=now)  # fmt: skip


def history(session: Session, origin_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(OriginHistory.event, OriginHistory.detail, OriginHistory.run_id, OriginHistory.at)
        .where(OriginHistory.origin_id == origin_id)
        .order_by(OriginHistory.id)
    )
    return [{"event": r[0], "detail": r[1], "run_id": r[2], "at": r[3].isoformat()} for r in rows]


def listing(
    session: Session, *, status: str | None = None, person_key: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    query = (
        select(Origin.id, Origin.person_key, Origin.origin, SourceRecord.source,
               SourceRecord.source_pk, Origin.status, Origin.decided_by, Origin.created_at)
        .join(SourceRecord, SourceRecord.id == Origin.record_id)
        .order_by(Origin.id)
    )  # fmt: skip
    if status is not None:
        query = query.where(Origin.status == status)
    if person_key is not None:
        query = query.where(Origin.person_key == person_key)
    if limit is not None:
        query = query.limit(limit)
    keys = ("id", "person_key", "origin", "source", "source_pk", "status", "decided_by",
            "created_at")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in session.execute(query)]


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Origin.status, func.count()).group_by(Origin.status))
    return {r[0]: int(r[1]) for r in rows}


def bad_status_or_decider(session: Session) -> tuple[int, list[str]]:
    """Origins whose status or decided_by is not one of the known values."""
    base = select(Origin.id, Origin.status, Origin.decided_by).where(
        (~Origin.status.in_(list(STATUSES))) | (~Origin.decided_by.in_(list(DECIDERS)))
    )
    n = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    examples = [
        f"origin {r[0]}: status {r[1]!r}, decided_by {r[2]!r}"
        for r in session.execute(base.order_by(Origin.id).limit(20))
    ]
    return int(n), examples
