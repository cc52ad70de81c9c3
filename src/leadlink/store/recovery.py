"""The SQL of the recovery queue: seeding, claiming, recording attempts, daily metrics, drain.

Every statement is set-based: seeding is one INSERT ... SELECT from the KPI-red backlog,
claiming one SELECT (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never
claim the same item), and a batch's attempts and queue updates are two executemany calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from leadlink.store import audit, recovery_days
from leadlink.store.backlog import kpi_red_ids
from leadlink.store.db import conflict_insert
from leadlink.store.models import (
    JobRun,
    Link,
    RecoveryAttempt,
    RecoveryDaily,
    RecoveryQueue,
    SourceRecord,
)
from leadlink.store.segments import SegmentRules, work_rank

PENDING, MATCHED, UNMATCHED, PARKED, FAILED = "pending", "matched", "unmatched", "parked", "failed"
LIMIT = 20  # examples a check shows


@dataclass(frozen=True)
class Item:
    """A claimed queue item with its lead."""

    queue_id: int
    record_id: int
    source_pk: str
    data: dict[str, Any]
    attempts: int
    failures: int
    linked_to: str | None  # person_key when the lead got linked since it was enqueued


@dataclass(frozen=True)
class Outcome:
    item: Item
    outcome: str  # matched | unmatched | failed
    reason: str | None = None
    error: str | None = None
    person_key: str | None = None


def enqueue(session: Session, now: dt.datetime, grace_days: int) -> int:
    """Add every KPI-red lead not yet in the queue; return how many were added."""
    backlog = kpi_red_ids(now, grace_days).subquery()
    queued = exists().where(RecoveryQueue.record_id == backlog.c.id)
    rows = select(
        backlog.c.id, literal(PENDING), literal(0), literal(0), literal(now), literal(now),
        literal(now),
    ).where(~queued)  # fmt: skip
    stmt = (
        conflict_insert(session, RecoveryQueue.__table__)
        .from_select(
            [
                "record_id",
                "status",
                "attempts",
                "failures",
                "next_attempt_at",
                "enqueued_at",
                "updated_at",
            ],
            rows,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["record_id"])
        .returning(RecoveryQueue.id)  # rowcount of INSERT ... SELECT is -1 on psycopg
    )
    return len(session.execute(stmt).all())


def count_queued_backlog(session: Session, now: dt.datetime, grace_days: int) -> int:
    backlog = kpi_red_ids(now, grace_days).subquery()
    query = (
        select(func.count())
        .select_from(backlog)
        .join(RecoveryQueue, RecoveryQueue.record_id == backlog.c.id)
    )
    return int(session.scalar(query) or 0)


def status_counts(session: Session, now: dt.datetime) -> dict[str, int]:
    rows = session.execute(
        select(RecoveryQueue.status, func.count()).group_by(RecoveryQueue.status)
    ).all()
    counts = {s: 0 for s in (PENDING, MATCHED, UNMATCHED, PARKED)} | {r[0]: r[1] for r in rows}
    due = select(func.count()).where(
        RecoveryQueue.status == PENDING, RecoveryQueue.next_attempt_at <= now
    )
    counts["due"] = int(session.scalar(due) or 0)
    return counts


def parked_items(session: Session, limit: int = LIMIT) -> list[tuple[str, int, str | None]]:
    """(lead source_pk, attempts, last error) of parked items."""
    rows = session.execute(
        select(SourceRecord.source_pk, RecoveryQueue.attempts, RecoveryQueue.last_error)
        .join(SourceRecord, SourceRecord.id == RecoveryQueue.record_id)
        .where(RecoveryQueue.status == PARKED)
        .order_by(RecoveryQueue.id)
        .limit(limit)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def unpark(
    session: Session, now: dt.datetime, lead_ids: Sequence[str] | None, *, actor: str
) -> list[str]:
    """Parked items (all, or those of the given leads) back to pending, due now, failures
    reset; one audit row. Returns the lead ids sent back."""
    query = (
        select(RecoveryQueue.id, SourceRecord.source_pk)
        .join(SourceRecord, SourceRecord.id == RecoveryQueue.record_id)
        .where(RecoveryQueue.status == PARKED)
        .order_by(RecoveryQueue.id)
    )
    if lead_ids is not None:
        query = query.where(SourceRecord.source_pk.in_(list(lead_ids)))
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    session.execute(
        update(RecoveryQueue)
        .where(RecoveryQueue.id.in_(ids))
        .values(status=PENDING, failures=0, next_attempt_at=now, updated_at=now)
    )
    leads = [r[1] for r in rows]
    audit.record(session, actor=actor, action="queue_retry", target=f"recovery_queue:{len(ids)}",
                 detail={"leads": leads}, now=now)  # fmt: skip
    return leads


def claim(
    session: Session,
    now: dt.datetime,
    size: int,
    *,
    skip_locked: bool,
    only_ids: Sequence[int] | None = None,
    rules: SegmentRules | None = None,
) -> list[Item]:
    """Lock up to ``size`` due items: with ``rules``, by backlog segment (recoverable, then
    waiting, then lost: ``segments.work_rank``), then oldest lead (earliest claim deadline).

    With ``skip_locked`` (PostgreSQL) rows another worker holds are skipped, and a row that
    worker finished meanwhile is re-checked against ``status = 'pending'`` after the lock, so
    no item is ever handed to two workers. ``only_ids`` re-claims known items (retry path).
    """
    query = (
        select(
            RecoveryQueue.id,
            RecoveryQueue.record_id,
            SourceRecord.source_pk,
            SourceRecord.data,
            RecoveryQueue.attempts,
            RecoveryQueue.failures,
            Link.person_key,
        )  # fmt: skip
        .join(SourceRecord, SourceRecord.id == RecoveryQueue.record_id)
        .outerjoin(Link, and_(Link.record_id == RecoveryQueue.record_id, Link.active))
        .where(RecoveryQueue.status == PENDING, RecoveryQueue.next_attempt_at <= now)
        .order_by(
            *([] if rules is None
              else [work_rank(RecoveryQueue.record_id, SourceRecord.event_date, rules)]),
            SourceRecord.event_date, RecoveryQueue.id,
        )
        .limit(size)
    )  # fmt: skip
    if only_ids is not None:
        query = query.where(RecoveryQueue.id.in_(list(only_ids)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=RecoveryQueue)
    return [Item(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in session.execute(query)]


def record_outcomes(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    run_id: int,
    now: dt.datetime,
    worker: str,
    max_failures: int,
    backoff_seconds: int,
) -> int:
    """Insert one attempt row per outcome and move each queue item on; return items parked."""
    if not outcomes:
        return 0
    attempts = []
    moves = []
    parked = 0
    for o in outcomes:
        n = o.item.attempts + 1
        attempts.append({"queue_id": o.item.queue_id, "record_id": o.item.record_id,
                         "attempt": n, "outcome": o.outcome, "reason": o.reason,
                         "error": o.error, "person_key": o.person_key, "run_id": run_id,
                         "at": now})  # fmt: skip
        failures = o.item.failures + 1 if o.outcome == FAILED else 0
        if o.outcome != FAILED:
            status, due = o.outcome, now
        elif failures >= max_failures:
            status, due = PARKED, now
            parked += 1
        else:
            status = PENDING
            due = now + dt.timedelta(seconds=backoff_seconds * 4 ** (failures - 1))
        moves.append({"b_id": o.item.queue_id, "b_status": status, "b_attempts": n,
                      "b_failures": failures, "b_due": due, "b_error": o.error,
                      "b_reason": o.reason, "b_worker": worker, "b_now": now})  # fmt: skip
    session.execute(insert(RecoveryAttempt), attempts)
    recovery_days.record(session, attempts)
    queue: Table = RecoveryQueue.__table__  # type: ignore[assignment]
    session.execute(
        update(queue)
        .where(queue.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            failures=bindparam("b_failures"),
            next_attempt_at=bindparam("b_due"),
            last_error=bindparam("b_error"),
            last_reason=bindparam("b_reason"),
            claimed_by=bindparam("b_worker"),
            claimed_at=bindparam("b_now"),
            updated_at=bindparam("b_now"),
        ),  # fmt: skip
        moves,
    )
    return parked


# --- daily metrics ----------------------------------------------------------------------------


def day_span(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


def attempt_totals(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Attempts made in [start, end) (whole days) by outcome, plus processed."""
    totals = {MATCHED: 0, UNMATCHED: 0, FAILED: 0} | recovery_days.by_outcome(session, start, end)
    totals["processed"] = sum(totals.values())
    return totals


def top_fail_reason(session: Session, start: dt.datetime, end: dt.datetime) -> str | None:
    """The most common reason a lead stayed in the backlog in [start, end) (whole days): an
    unmatched reason, or ERROR."""
    return recovery_days.top_reason(session, start, end, besides=MATCHED, blank="ERROR")


def new_in(session: Session, day: dt.date, grace_days: int) -> int:
    """Leads that entered the KPI-red backlog on ``day`` and were not settled by `match`.

    A lead enters on the day its grace period ends, or on the day it was ingested if that is
    later. Leads `match` linked are not backlog; leads still unlinked, or linked by recovery,
    are.
    """
    start, end = day_span(day)
    turns_red = day - dt.timedelta(days=grace_days + 1)  # event_date that turns red on `day`
    entered = or_(
        and_(SourceRecord.event_date == turns_red, SourceRecord.ingested_at < end),
        and_(
            SourceRecord.event_date < turns_red,
            SourceRecord.ingested_at >= start,
            SourceRecord.ingested_at < end,
        ),
    )
    unlinked = ~exists().where(Link.record_id == SourceRecord.id, Link.active)
    recovered = exists().where(
        RecoveryAttempt.record_id == SourceRecord.id, RecoveryAttempt.outcome == MATCHED
    )
    query = select(func.count()).where(
        SourceRecord.source == "leads", entered, or_(unlinked, recovered)
    )
    return int(session.scalar(query) or 0)


def upsert_daily(session: Session, row: dict[str, Any]) -> None:
    """Insert the day's row, or update it keeping the backlog_before of the day's first run."""
    stmt = conflict_insert(session, RecoveryDaily.__table__).values(**row)
    keep = {k: stmt.excluded[k] for k in row if k not in ("day", "backlog_before")}
    session.execute(stmt.on_conflict_do_update(index_elements=["day"], set_=keep))


def daily_rows(session: Session, since: dt.date) -> list[RecoveryDaily]:
    query = select(RecoveryDaily).where(RecoveryDaily.day >= since).order_by(RecoveryDaily.day)
    return list(session.scalars(query))


# --- the drain check --------------------------------------------------------------------------


def matched_still_red(
    session: Session, now: dt.datetime, grace_days: int, sample: int
) -> tuple[int, int, list[str]]:
    """Sample matched queue items; return (sampled, still KPI red, examples)."""
    picked = (
        select(RecoveryQueue.record_id)
        .where(RecoveryQueue.status == MATCHED)
        .order_by(func.random())
        .limit(sample)
        .subquery()
    )
    sampled = int(session.scalar(select(func.count()).select_from(picked)) or 0)
    backlog = kpi_red_ids(now, grace_days)
    red = session.execute(
        select(SourceRecord.source_pk)
        .where(SourceRecord.id.in_(select(picked.c.record_id)), SourceRecord.id.in_(backlog))
        .order_by(SourceRecord.source_pk)
    ).all()
    examples = [f"leads/{r[0]}: recovered as matched but still KPI red" for r in red[:LIMIT]]
    return sampled, len(red), examples


def recover_run_counts(session: Session) -> list[tuple[int, dict[str, Any]]]:
    """(run id, counts) of every finished recover run."""
    rows = session.execute(
        select(JobRun.id, JobRun.counts)
        .where(JobRun.kind == "recover", JobRun.status == "ok")
        .order_by(JobRun.id)
    )
    return [(r[0], r[1] or {}) for r in rows]


def attempts_by_run(session: Session) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(RecoveryAttempt.run_id, RecoveryAttempt.outcome, func.count()).group_by(
            RecoveryAttempt.run_id, RecoveryAttempt.outcome
        )
    )
    out: dict[int, dict[str, int]] = {}
    for run_id, outcome, n in rows:
        out.setdefault(int(run_id or 0), {})[str(outcome)] = int(n)
    return out


def twice_in_one_run(session: Session) -> tuple[int, list[str]]:
    """Queue items attempted more than once by one run."""
    base = (
        select(RecoveryAttempt.run_id, RecoveryAttempt.queue_id, func.count().label("n"))
        .group_by(RecoveryAttempt.run_id, RecoveryAttempt.queue_id)
        .having(func.count() > 1)
        .subquery()
    )
    total = int(session.scalar(select(func.count()).select_from(base)) or 0)
    rows = session.execute(select(base).order_by(base.c.run_id, base.c.queue_id).limit(LIMIT))
    return total, [f"run {r[0]}: queue item {r[1]} attempted {r[2]} times" for r in rows]
