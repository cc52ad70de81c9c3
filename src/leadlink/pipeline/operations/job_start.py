"""POST /api/jobs/{kind}: run one of the worker's jobs now, on behalf of a token.

The job is the worker's own (``Worker.jobs``: the same service call, the same ``job_run``
bookkeeping, the same lock and heartbeat as ``leadlink worker``); only ingest is left out, it
needs a watched folder. The job lock is taken here, before anything starts, so a busy lock is
refused at once (``LockBusyError`` naming the holder) and nothing is audited for it. Then the
``job_start`` audit row (the token's name) is written and the job runs in a thread; the
caller waits up to ``wait_seconds`` for it. The lock's owner ends in ``:api:<token name>``, so
a 409 from a second start names who started the first.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import UsageError
from leadlink.pipeline.operations.worker import Outcome, Worker
from leadlink.settings import Settings
from leadlink.store import audit, locks
from leadlink.store.db import transaction

log = logging.getLogger(__name__)

# The worker's jobs an operator may start from the API (ingest needs a watched folder).
KINDS = ("match", "queue_seed", "recover", "claims", "alerts")
OWNER_CHARS = 200  # job_lock.owner


@dataclass(frozen=True)
class Started:
    """``finished``: the job ended within the wait and ``result`` is its outcome; else
    ``result`` says it is running (``GET /api/jobs`` shows its job_run when it ends)."""

    finished: bool
    result: dict[str, Any]


def start(
    engine: Engine,
    settings: Settings,
    kind: str,
    *,
    actor: str,
    now: dt.datetime,
    wait_seconds: float,
) -> Started:
    if kind not in KINDS:
        raise UsageError("unknown job kind {kind!r}: use one of {known}", code="job_kind_unknown",
                         kind=kind, known=", ".join(KINDS))
    owner = f"{locks.new_owner()}:api:{actor}"[:OWNER_CHARS]
    worker = Worker(engine, settings, owner=owner)
    job = next(j for j in worker.jobs() if j.kind == kind)
    stale = dt.timedelta(seconds=settings.lock_stale_seconds)
    locks.acquire(engine, kind, owner, now, stale_after=stale)  # LockBusyError: someone runs it
    outcome: list[Outcome] = []
    try:
        with transaction(engine) as session:
            audit.record(session, actor=actor, action="job_start", target=f"job:{kind}",
                         detail={"kind": kind, "owner": owner}, now=now)  # fmt: skip

        def run() -> None:
            # run_job takes the lock we hold (same owner: re-entrant) and always releases it.
            try:
                outcome.append(worker.run_job(job))
            except Exception as exc:  # the bookkeeping failed (database gone...): say so
                log.exception("job %s started by %s could not be run or recorded", kind, actor)
                outcome.append(Outcome(kind, "failed", error=f"{type(exc).__name__}: {exc}"))
                locks.release(engine, kind, owner)

        # Not a daemon: a server shutting down lets a started job finish and record itself.
        thread = threading.Thread(target=run, name=f"api-job-{kind}", daemon=False)
        thread.start()
    except BaseException:
        locks.release(engine, kind, owner)
        raise
    thread.join(wait_seconds)
    if thread.is_alive() or not outcome:
        return Started(False, {"kind": kind, "status": "running", "owner": owner,
                               "started_by": actor})  # fmt: skip
    return Started(True, {**outcome[0].as_dict(), "owner": owner, "started_by": actor})
