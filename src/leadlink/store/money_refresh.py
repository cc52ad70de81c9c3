"""Bookkeeping of the money views' summary tables (docs/summaries.md): when each was computed,
for which day and settings, and whether a job that changes their inputs has run (or died)
since.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from leadlink.store.db import conflict_insert
from leadlink.store.models import JobRun
from leadlink.store.money_tables import MoneyRefresh

VIEWS = ("backlog", "activity", "review", "funnel")
# Jobs whose writes change what the summaries count; each refreshes them before it ends, so
# one that is still running, or failed or died after the last refresh, leaves them stale.
WRITER_JOBS = ("match", "recover", "merge", "unmerge", "split", "quarantine",
               "backfill_origins", "ingest")  # fmt: skip
# The review queue's money at stake also leaves out the milestones already claimed; the
# funnel's OK and TRIPS_NO_CLAIM are whether a person has claims.
WRITERS_OF = {"review": (*WRITER_JOBS, "claims"), "funnel": (*WRITER_JOBS, "claims")}
LOCK_KEY = 7_340_101  # the PostgreSQL advisory lock of the summaries (any stable number)


def serialise(session: Session) -> None:
    """Take the summaries' write lock for the rest of the transaction, so two refreshes (a full
    one and a decision's) never interleave their deletes and inserts. SQLite has one writer:
    a write statement takes it; PostgreSQL takes an advisory transaction lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    else:
        session.execute(text("UPDATE money_refresh SET rows = rows WHERE 1 = 0"))


def record(
    session: Session, view: str, *, now: dt.datetime, as_of: dt.date, settings: str, rows: int,
    seconds: float,
) -> None:  # fmt: skip
    table = MoneyRefresh.__table__
    values = {"view": view, "refreshed_at": now, "as_of": as_of, "settings": settings,
              "rows": rows, "seconds": round(seconds, 3)}  # fmt: skip
    stmt = conflict_insert(session, table).values(**values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["view"], set_={k: stmt.excluded[k] for k in values if k != "view"}
    ))  # fmt: skip


def state(session: Session) -> dict[str, dict[str, Any]]:
    """view -> its last refresh (refreshed_at, as_of, settings, rows, seconds) and
    ``writers_since``: the writer runs running, failed or aborted since then."""
    out: dict[str, dict[str, Any]] = {}
    for row in session.scalars(select(MoneyRefresh)):
        unfinished = or_(JobRun.status == "running", JobRun.finished_at > row.refreshed_at)
        writers = WRITERS_OF.get(row.view, WRITER_JOBS)
        since = session.scalar(
            select(func.count()).where(
                JobRun.kind.in_(writers), JobRun.status != "ok", unfinished,
                JobRun.started_at >= _day_before(row.refreshed_at),
            )
        )
        out[row.view] = {
            "refreshed_at": row.refreshed_at, "as_of": row.as_of, "settings": row.settings,
            "rows": row.rows, "seconds": row.seconds, "writers_since": int(since or 0),
        }  # fmt: skip
    return out


def _day_before(moment: dt.datetime) -> dt.datetime:
    # A run that began long before the refresh and is still marked running is a dead one the
    # next job start marks aborted; a day bounds how far back a running row counts.
    return moment - dt.timedelta(days=1)


def invalidate(session: Session) -> None:
    """Forget every refresh, in the caller's transaction: the next reader computes the
    summaries again (a bulk write that does not refresh them itself calls this in the same
    transaction as its writes, so no reader ever sees the old rows as current)."""
    session.execute(delete(MoneyRefresh))
