"""job_run on real databases: a run whose process died is marked ``aborted`` at the next start
(a SIGKILLed job used to leave its row ``running`` forever), and only such a run."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

from sqlalchemy import Engine, insert, select

from leadlink.store import jobs, locks
from leadlink.store.models import JobRun

T0 = dt.datetime(2026, 11, 1, 12, 0, 0)
HOST = socket.gethostname()


def _dead_pid() -> int:
    """The pid of a real process of this host that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running(engine: Engine, kind: str, owner: str) -> int:
    with engine.begin() as conn:
        row = {"kind": kind, "status": "running", "started_at": T0, "counts": {}, "owner": owner}
        got = conn.execute(insert(JobRun).values(**row).returning(JobRun.id))
        return int(got.scalar_one())


def _status(engine: Engine) -> dict[int, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(JobRun.id, JobRun.status, JobRun.error)).all()
    return {r.id: (r.status, r.error) for r in rows}


def test_the_next_start_aborts_only_the_runs_whose_process_is_gone(engine: Engine) -> None:
    dead_owner = f"{HOST}:{_dead_pid()}:0123456789ab"
    dead = _running(engine, "ingest", dead_owner)
    live = _running(engine, "ingest", locks.new_owner())  # this very process
    elsewhere = _running(engine, "ingest", "otherhost:1:0123456789ab")  # a pid means nothing
    # A match of another host whose lock is gone (taken over as stale): it cannot be running.
    lockless_match = _running(engine, "match", "otherhost:2:0123456789ab")
    # A match of another host that still holds the linking lock: alive as far as we know.
    locked_owner = "otherhost:3:0123456789ab"
    locked_match = _running(engine, "match", locked_owner)
    with locks.hold_linking(engine, "match", locked_owner, T0):
        new = jobs.start(engine, "ingest", T0 + dt.timedelta(hours=1))
    got = _status(engine)
    assert got[dead][0] == "aborted" and dead_owner in (got[dead][1] or "")
    assert got[lockless_match][0] == "aborted"
    assert {got[i][0] for i in (live, elsewhere, locked_match, new)} == {"running"}
    with engine.connect() as conn:
        finished = conn.execute(select(JobRun.finished_at).where(JobRun.id == dead)).scalar_one()
    assert finished == T0 + dt.timedelta(hours=1)


def test_a_run_that_finished_keeps_its_status(engine: Engine) -> None:
    owner = f"{HOST}:{_dead_pid()}:0123456789ab"
    run = jobs.start(engine, "ingest", T0, owner=owner)
    jobs.finish(engine, run, T0, counts={"rows": 1})
    jobs.start(engine, "ingest", T0)
    assert _status(engine)[run] == ("ok", None)
    assert jobs.abort_dead(engine, T0) == []
