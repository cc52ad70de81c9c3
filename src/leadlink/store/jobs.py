"""job_run bookkeeping: every run of every command that does work is recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select, update

from leadlink.store.db import transaction
from leadlink.store.models import JobRun


def start(engine: Engine, kind: str, now: dt.datetime) -> int:
    with transaction(engine) as session:
        run = JobRun(kind=kind, status="running", started_at=now, counts={})
        session.add(run)
        session.flush()
        return run.id


def finish(
    engine: Engine,
    run_id: int,
    now: dt.datetime,
    *,
    counts: dict[str, Any],
    error: str | None = None,
) -> None:
    with transaction(engine) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(status="failed" if error else "ok", finished_at=now, counts=counts, error=error)
        )


def last_runs(engine: Engine, kind: str | None = None, limit: int = 20) -> list[JobRun]:
    with transaction(engine) as session:
        query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
        if kind:
            query = query.where(JobRun.kind == kind)
        return list(session.scalars(query))
