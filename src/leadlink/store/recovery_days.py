"""Recovery attempts counted per day (``recovery_attempt_day``): written in the transaction that
records the attempts, read by the recovery figures of a window (``impact``, the day's row of
``recovery_daily``), compared with the attempts by ``check drain``.

The figures are asked for whole days (``recovery.day_span``); counting every attempt of a 30-day
window took 120 ms per page at 1 M leads after one full recover (205,000 attempts).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from leadlink.store.db import conflict_insert
from leadlink.store.models import RecoveryAttempt
from leadlink.store.money_tables import RecoveryAttemptDay, table_of

NO_REASON = ""  # the key of attempts with no reason (matched, failed)
LIMIT = 20


def record(session: Session, attempts: Sequence[dict[str, Any]]) -> None:
    """Add one batch of attempts (the rows just inserted into ``recovery_attempt``) to their
    days: counted in memory, one upsert for the batch."""
    counts = Counter((a["at"].date(), a["outcome"], a.get("reason") or NO_REASON)
                     for a in attempts)  # fmt: skip
    if not counts:
        return
    table = table_of(RecoveryAttemptDay)
    rows = [{"day": day, "outcome": outcome, "reason": reason, "n": n}
            for (day, outcome, reason), n in sorted(counts.items())]  # fmt: skip
    stmt = conflict_insert(session, table).values(rows)
    key = ["day", "outcome", "reason"]
    added = {"n": table.c.n + stmt.excluded.n}
    session.execute(stmt.on_conflict_do_update(index_elements=key, set_=added))


def _days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    if start.time() != dt.time() or end.time() != dt.time():
        raise ValueError(f"recovery figures are counted per whole day, not {start}..{end}")
    return start.date(), end.date()


def by_outcome(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Attempts in [start, end) (whole days) by outcome."""
    first, stop = _days(start, end)
    d = RecoveryAttemptDay
    query = (select(d.outcome, func.sum(d.n)).where(d.day >= first, d.day < stop)
             .group_by(d.outcome))  # fmt: skip
    return {str(outcome): int(n) for outcome, n in session.execute(query)}


def top_reason(
    session: Session, start: dt.datetime, end: dt.datetime, *, besides: str, blank: str
) -> str | None:
    """The most common reason of the attempts in [start, end) whose outcome is not ``besides``
    (an attempt with none counts as ``blank``); ties by reason."""
    first, stop = _days(start, end)
    d = RecoveryAttemptDay
    reason = func.coalesce(func.nullif(d.reason, literal(NO_REASON)), literal(blank))
    row = session.execute(
        select(reason, func.sum(d.n).label("n"))
        .where(d.day >= first, d.day < stop, d.outcome != besides)
        .group_by(reason)
        .order_by(func.sum(d.n).desc(), reason)
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def out_of_step(session: Session) -> tuple[int, list[str]]:
    """(day, outcome, reason, n) stored and not counted from the attempts, or the other way."""
    a = RecoveryAttempt
    # date(x) is SQLite's function and PostgreSQL's function-style cast alike.
    day = func.date(a.at)
    reason = func.coalesce(a.reason, literal(NO_REASON))
    counted = select(day, a.outcome, reason, func.count()).group_by(day, a.outcome, reason)
    d = RecoveryAttemptDay
    stored = select(d.day, d.outcome, d.reason, d.n)
    found: list[str] = []
    n = 0
    for one, other, what in ((counted, stored, "not stored"), (stored, counted, "not counted")):
        diff = one.except_(other).subquery("diff")
        n += int(session.scalar(select(func.count()).select_from(diff)) or 0)
        found += [f"attempts per day {what}: " + ", ".join(str(v) for v in row)
                  for row in session.execute(select(diff).limit(LIMIT))]  # fmt: skip
    return n, found[:LIMIT]
