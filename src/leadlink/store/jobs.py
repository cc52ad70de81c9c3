"""job_run bookkeeping: every run of every command that does work is recorded.

A run records its owner (``host:pid:uuid``, store/locks.py). A process killed with SIGKILL
cannot finish its row, so every ``start`` first marks ``aborted`` the ``running`` rows whose
owner is a process of this host that no longer exists, and the ``running`` rows of the jobs
that hold a lock for their whole run (match, recover) whose owner holds no lock any more (its
lock was taken over as stale: a dead process of another host). Other hosts' rows of other jobs
are left alone: a pid means nothing elsewhere. Statuses: running, ok, failed, aborted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, update

from leadlink.store import locks
from leadlink.store.db import transaction
from leadlink.store.models import JobLock, JobRun

STATUSES = ("running", "ok", "failed", "aborted")
OWNER_CHARS = 120  # job_run.owner
LOCKED_KINDS = ("match", "recover")  # hold a job lock from before start until after finish


def start(engine: Engine, kind: str, now: dt.datetime, *, owner: str | None = None) -> int:
    """A ``running`` row for a new run (after marking the dead ones ``aborted``)."""
    owner = (owner or locks.new_owner())[:OWNER_CHARS]
    abort_dead(engine, now)
    with transaction(engine) as session:
        run = JobRun(kind=kind, status="running", started_at=now, counts={}, owner=owner)
        session.add(run)
        session.flush()
        return run.id


def abort_dead(engine: Engine, now: dt.datetime) -> list[int]:
    """Mark ``aborted`` the running rows of dead processes of this host; return their ids.

    The update is conditional on the row still running, so a run that finishes meanwhile
    keeps its own status."""
    with transaction(engine) as session:
        running = session.execute(
            select(JobRun.id, JobRun.kind, JobRun.owner).where(JobRun.status == "running")
        ).all()
        holders = {o[:OWNER_CHARS] for o in session.scalars(select(JobLock.owner))}
        dead = [(rid, who) for rid, kind, who in running if who and _dead(kind, who, holders)]
        for rid, who in dead:
            session.execute(
                update(JobRun)
                .where(JobRun.id == rid, JobRun.status == "running")
                .values(status="aborted", finished_at=now,
                        error=f"aborted: its process ({who}) died without finishing the run")
            )  # fmt: skip
    return [rid for rid, _ in dead]


def _dead(kind: str, owner: str, lock_owners: set[str]) -> bool:
    if locks.dead_local_owner(owner):
        return True
    # match and recover take their locks before their row and drop them after finishing it.
    return kind in LOCKED_KINDS and owner not in lock_owners and not locks.live_local_owner(owner)


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


@dataclass
class Run:
    id: int
    # Read when the run ends (also when it fails): the counts reached so far.
    counts: Callable[[], dict[str, Any]] = field(default=dict)


def finish_clock(now: dt.datetime) -> Callable[[], dt.datetime]:
    """When a run started at ``now`` finishes: the caller's clock plus the real time elapsed
    since this call. Durations stay true (for /metrics and the dashboard) while tests that pin
    ``now`` stay deterministic to the second."""
    began = time.monotonic()
    return lambda: now + dt.timedelta(seconds=time.monotonic() - began)


@contextmanager
def recorded(
    engine: Engine, kind: str, now: dt.datetime, *, owner: str | None = None
) -> Iterator[Run]:
    """One job_run row around a block: ok, or failed with the exception's type and message.

    The exception is re-raised: a failure is recorded, never swallowed.
    """
    run = Run(start(engine, kind, now, owner=owner))
    finished_at = finish_clock(now)

    try:
        yield run
    except Exception as exc:
        finish(engine, run.id, finished_at(), counts=run.counts(),
               error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        raise
    finish(engine, run.id, finished_at(), counts=run.counts())


def last_runs(engine: Engine, kind: str | None = None, limit: int = 20) -> list[JobRun]:
    with transaction(engine) as session:
        query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
        if kind:
            query = query.where(JobRun.kind == kind)
        return list(session.scalars(query))


def latest_by_kind(engine: Engine) -> list[dict[str, Any]]:
    """Per job kind: its newest run (status, start, end, counts) and its last successful end."""
    with transaction(engine) as session:
        newest = select(func.max(JobRun.id)).group_by(JobRun.kind)
        runs = session.scalars(select(JobRun).where(JobRun.id.in_(newest)).order_by(JobRun.kind))
        ok = dict(
            session.execute(
                select(JobRun.kind, func.max(JobRun.finished_at))
                .where(JobRun.status == "ok")
                .group_by(JobRun.kind)
            ).all()
        )
        return [
            {"kind": r.kind, "id": r.id, "status": r.status, "started_at": r.started_at,
             "finished_at": r.finished_at, "counts": r.counts, "error": r.error,
             "last_ok_at": ok.get(r.kind)}  # fmt: skip
            for r in runs
        ]


def last_ok_start(engine: Engine, kind: str) -> dt.datetime | None:
    """When the newest successful run of ``kind`` started (None: it never succeeded). A
    schedule counts from starts, so a run that took a while does not push the next one late."""
    with transaction(engine) as session:
        return session.scalar(
            select(func.max(JobRun.started_at)).where(JobRun.kind == kind, JobRun.status == "ok")
        )
