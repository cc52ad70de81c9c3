"""`leadlink backfill origins` and `leadlink origins decide|list`: origins for every link.

Backfill repairs databases whose links predate origins (the old system had 536 such links):
every active link of an origin source (leads, scouting, migrations) without an origin for its
(person, record) gets one, decided by ``system``, plus an ``origin_history`` row. One
transaction per chunk of links; rerunning finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.settings import Settings
from leadlink.store import jobs
from leadlink.store import origins as origins_store
from leadlink.store.db import transaction


@dataclass
class BackfillResult:
    run_id: int
    backfilled: int = 0
    journaled: int = 0
    by_status: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        by_status = dict(sorted(self.by_status.items()))
        return {"run_id": self.run_id, "backfilled": self.backfilled,
                "journaled": self.journaled, "by_status": by_status}  # fmt: skip


def backfill(engine: Engine, settings: Settings, *, now: dt.datetime) -> BackfillResult:
    """Write the missing origins; the run is recorded in job_run (kind ``backfill_origins``)."""
    with jobs.recorded(engine, "backfill_origins", now) as run:
        result = BackfillResult(run_id=run.id)
        run.counts = result.as_dict
        with transaction(engine) as session:
            missing = origins_store.links_missing_origin(session)
            era_start = origins_store.origins_era_start(session)
        for start in range(0, len(missing), settings.chunk_size):
            chunk = missing[start : start + settings.chunk_size]
            with transaction(engine) as session:
                written = origins_store.backfill_links(session, chunk, era_start=era_start,
                                                       run_id=run.id, now=now)  # fmt: skip
            result.by_status.update(written)
            result.backfilled += sum(written.values())
        with transaction(engine) as session:
            result.journaled = origins_store.journal_unjournaled(session, run_id=run.id, now=now)
            if result.backfilled:
                summaries.invalidate(session)  # a person with an origin leaves unlinked activity
    return result


def decide(
    engine: Engine, origin_id: int, *, status: str, actor: str, note: str | None,
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    """Set an origin's status by hand (decided_by manual); the history keeps the old one."""
    if status not in origins_store.MANUAL_STATUSES:
        allowed = ", ".join(origins_store.MANUAL_STATUSES)
        raise UsageError(f"status must be one of {allowed}, not {status!r}")
    if not actor.strip():
        raise UsageError("say who decides: --by NAME")
    with transaction(engine) as session:
        origin = origins_store.get(session, origin_id)
        if origin is None:
            raise NotFoundError(f"no origin with id {origin_id}")
        origins_store.decide(session, origin, status=status, actor=actor, note=note, now=now)
    with transaction(engine) as session:
        row = origins_store.listing(session, person_key=origin.person_key)
        history = origins_store.history(session, origin_id)
    current = next(r for r in row if r["id"] == origin_id)
    return {**current, "created_at": current["created_at"].isoformat(), "history": history}


def list_origins(
    engine: Engine, *, status: str | None, person_key: str | None, limit: int | None
) -> dict[str, Any]:
    if status is not None and status not in origins_store.STATUSES:
        allowed = ", ".join(origins_store.STATUSES)
        raise UsageError(f"status must be one of {allowed}, not {status!r}")
    with transaction(engine) as session:
        rows = origins_store.listing(session, status=status, person_key=person_key, limit=limit)
        by_status = origins_store.counts_by_status(session)
    for r in rows:
        r["created_at"] = r["created_at"].isoformat()
    return {"by_status": by_status, "origins": rows}


def check_origin_status(engine: Engine, _: Settings) -> Any:
    """`check origin-status`: every origin has a known status and decided_by."""

    with transaction(engine) as session:
        n, examples = origins_store.bad_status_or_decider(session)
    return CheckResult("origin-status", n == 0,
                       f"statuses {', '.join(origins_store.STATUSES)}; decided_by system or manual",
                       n, examples)  # fmt: skip
