"""The recovery loop: seed the queue with the KPI-red backlog, work it, measure the drain.

``recover`` claims a batch of due items, decides all of them with ONE ``Resolver.decide``
call, then writes in ONE transaction: the decisions (links + origins, unmatched reasons), one
``recovery_attempt`` per item and the queue updates. The claim belongs to that transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so a process killed mid-batch loses nothing and
does nothing twice: its batch rolls back and its items are claimed again by the next run.
On SQLite, where rows cannot be locked, one ``recover`` at a time holds the job lock. On both,
``recover`` holds the linking lock shared (store/locks.py): no ``recover`` while a ``match``
runs, and no ``match`` while a ``recover`` does.

Every claimed item ends in exactly one attempt: matched, unmatched (reason) or failed (error
message), so processed = matched + unmatched + failed by construction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink import clock
from leadlink.matching import Reason
from leadlink.matching.decision import Decision, error_decision
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.pipeline.progress import ProgressFn
from leadlink.pipeline.resolution.decider import failure_message
from leadlink.pipeline.resolution.persist import write_decisions
from leadlink.pipeline.resolution.resolve import Resolver
from leadlink.pipeline.summaries import segment_rules
from leadlink.settings import Settings
from leadlink.store import backlog, jobs, locks, queue_rearm, recovery_days
from leadlink.store import recovery as recovery_store
from leadlink.store.db import transaction
from leadlink.store.recovery import FAILED, MATCHED, UNMATCHED, Outcome

log = logging.getLogger(__name__)

JOB_KIND = "recover"
SEED_KIND = "queue_seed"
# A matched attempt's note when the lead was linked by something else since it was enqueued.
ALREADY_LINKED = "ALREADY_LINKED"


@dataclass
class SeedResult:
    enqueued: int
    rearmed: int
    already_queued: int
    backlog: int
    settled: int = 0  # finished items whose lead was linked by something else since

    def as_dict(self) -> dict[str, Any]:
        return {"enqueued": self.enqueued, "rearmed": self.rearmed,
                "already_queued": self.already_queued, "backlog": self.backlog,
                "settled": self.settled}  # fmt: skip


@dataclass
class RecoverResult:
    run_id: int
    worker: str
    processed: int = 0
    matched: int = 0
    unmatched: int = 0
    failed: int = 0
    parked: int = 0
    batches: int = 0
    already_linked: int = 0
    backlog_before: int = 0
    backlog_after: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, outcomes: Sequence[recovery_store.Outcome], parked: int) -> None:
        """Count a committed batch."""
        for o in outcomes:
            self.processed += 1
            if o.outcome == MATCHED:
                self.matched += 1
                self.already_linked += o.reason == ALREADY_LINKED
            elif o.outcome == UNMATCHED:
                self.unmatched += 1
                self.by_reason[o.reason or ""] += 1
            else:
                self.failed += 1
                self.errors[(o.error or "")[:200]] += 1
        self.parked += parked

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "worker": self.worker, "processed": self.processed,
            "matched": self.matched, "unmatched": self.unmatched, "failed": self.failed,
            "parked": self.parked, "batches": self.batches,
            "already_linked": self.already_linked,
            "unmatched_by_reason": dict(sorted(self.by_reason.items())),
            "failed_by_error": dict(self.errors.most_common(10)),
            "backlog_before": self.backlog_before, "backlog_after": self.backlog_after,
        }  # fmt: skip


def seed(engine: Engine, settings: Settings, *, now: dt.datetime) -> SeedResult:
    """Enqueue every KPI-red lead not queued yet and re-arm finished items that may now resolve.

    Idempotent: a second seed with nothing changed in between adds and re-arms nothing.
    Recorded in ``job_run`` (kind ``queue_seed``) however it is started: a seed from the CLI
    counts for the job's freshness (and its ``job_stale`` alert) as the worker's does.
    """
    grace = settings.kpi_grace_days
    with jobs.recorded(engine, SEED_KIND, now) as run:
        with transaction(engine) as session:
            settled = queue_rearm.settle_linked(session, now, ALREADY_LINKED)
            rearmed = queue_rearm.rearm(session, now, grace)
            enqueued = recovery_store.enqueue(session, now, grace)
            in_queue = recovery_store.count_queued_backlog(session, now, grace)
            size = backlog.count_kpi_red(session, now, grace)
        result = SeedResult(enqueued, rearmed, in_queue - enqueued - rearmed, size, settled)
        run.counts = result.as_dict
    return result


def queue_status(engine: Engine, *, now: dt.datetime) -> dict[str, Any]:
    """Items per status, due now, and (some) parked items with their last error."""
    with transaction(engine) as session:
        counts = recovery_store.status_counts(session, now)
        parked = recovery_store.parked_items(session)
    return {"counts": counts, "parked": [{"lead_id": pk, "attempts": n, "last_error": err}
                                         for pk, n, err in parked]}  # fmt: skip


def retry_parked(
    engine: Engine, *, now: dt.datetime, lead_ids: Sequence[str] | None, actor: str
) -> dict[str, Any]:
    """Send parked items back to the queue (a person looked at their errors); audited."""
    with transaction(engine) as session:
        sent = recovery_store.unpark(session, now, lead_ids, actor=actor)
    missing = sorted(set(lead_ids or ()) - set(sent))
    if missing:
        # Nothing was half-done: the transaction above only moved parked items that exist.
        log.warning("not parked (or unknown), left alone: %s", ", ".join(missing))
    return {"retried": len(sent), "leads": sent, "not_parked": missing}


def recover(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    worker: str | None = None,
    wait: float | bool = False,
) -> RecoverResult:
    """Process exactly ``limit`` due items (all due items when None); record the run."""
    worker = worker or locks.new_owner()
    with _exclusive(engine, settings, worker, now, wait) as heartbeat:
        run_id = jobs.start(engine, JOB_KIND, now, owner=worker)
        result = RecoverResult(run_id=run_id, worker=worker)
        finished_at = jobs.finish_clock(now)  # not ``now``: that was recorded as 0.0 s

        try:
            _work(engine, settings, result, now=now, limit=limit, progress=progress,
                  heartbeat=heartbeat)  # fmt: skip
            _refresh_daily(engine, settings, result, now)
            if result.processed:  # as match: a run that wrote nothing changed nothing
                summaries.refresh(engine, settings, now)  # the backlog and activity it changed
        except Exception as exc:
            error = failure_message(exc)
            jobs.finish(engine, run_id, finished_at(), counts=result.as_dict(), error=error)
            raise
        jobs.finish(engine, run_id, finished_at(), counts=result.as_dict())
    return result


@contextmanager
def _exclusive(
    engine: Engine, settings: Settings, worker: str, now: dt.datetime, wait: float | bool
) -> Iterator[locks.Lock | _Both]:
    """The linking lock, shared; on SQLite also the job lock (PostgreSQL claims rows with SKIP
    LOCKED, so its workers run side by side). Yields the lock to heartbeat."""
    stale = dt.timedelta(seconds=settings.lock_stale_seconds)
    with locks.hold_linking(engine, JOB_KIND, worker, now, shared=True, wait=wait,
                            stale_after=stale) as linking:  # fmt: skip
        if engine.dialect.name == "postgresql":
            yield linking
            return
        with locks.hold(engine, JOB_KIND, worker, now, wait=wait, stale_after=stale) as lock:
            yield _Both(lock, linking)


class _Both:
    """Heartbeats the job lock and the linking lock together."""

    def __init__(self, *held: locks.Lock) -> None:
        self.held = held

    def heartbeat(self, now: dt.datetime | None = None) -> None:
        for lock in self.held:
            lock.heartbeat(now)


def _work(
    engine: Engine,
    settings: Settings,
    result: RecoverResult,
    *,
    now: dt.datetime,
    limit: int | None,
    progress: ProgressFn | None,
    heartbeat: locks.Lock | _Both | None,
) -> None:
    skip_locked = engine.dialect.name == "postgresql"
    with transaction(engine) as session:
        result.backlog_before = backlog.count_kpi_red(session, now, settings.kpi_grace_days)
        total = limit if limit is not None else recovery_store.status_counts(session, now)["due"]
    resolver = Resolver(engine, settings, now=now)
    while limit is None or result.processed < limit:
        size = (
            settings.chunk_size
            if limit is None
            else min(settings.chunk_size, limit - result.processed)
        )
        if not _batch(engine, settings, resolver, result, now=now, size=size,
                      skip_locked=skip_locked):  # fmt: skip
            break
        result.batches += 1
        if heartbeat is not None:
            heartbeat.heartbeat()
        if progress:
            progress("recover", result.processed, max(total, result.processed))


def _batch(
    engine: Engine,
    settings: Settings,
    resolver: Resolver,
    result: RecoverResult,
    *,
    now: dt.datetime,
    size: int,
    skip_locked: bool,
) -> bool:
    """Claim, decide, write one batch in one transaction; False when nothing is due."""
    ids: list[int] = []
    try:
        with transaction(engine) as session:
            items = recovery_store.claim(session, now, size, skip_locked=skip_locked,
                                         rules=segment_rules(settings, now))  # fmt: skip
            if not items:
                return False
            ids = [it.queue_id for it in items]
            outcomes, new_links = _decide_and_write(session, resolver, items, result.run_id, now)
            parked = _record(session, settings, outcomes, result, now)
    except Exception as exc:
        if not ids:
            raise  # the claim itself failed: nothing was taken, nothing to account for
        log.exception("recover batch of %d items failed; recording them as failed", len(ids))
        _fail_batch(engine, settings, result, ids, failure_message(exc), now, skip_locked)
        return True
    result.add(outcomes, parked)
    resolver.grow(new_links)
    return True


def _decide_and_write(
    session: Session, resolver: Resolver, items: list[recovery_store.Item], run_id: int,
    now: dt.datetime,
) -> tuple[list[recovery_store.Outcome], dict[int, str]]:
    """One decide call for the batch; persist links/unmatched; return outcomes per item."""
    todo = [it for it in items if it.linked_to is None]
    try:
        decided = resolver.decide("leads", [(it.record_id, it.source_pk, it.data) for it in todo])
    except Exception as exc:  # outside the engine's own guard (e.g. building the frame)
        log.exception("deciding a recovery batch failed")
        message = failure_message(exc)
        decided = [error_decision(it.record_id, message) for it in todo]
    by_rid = {d["rid"]: d for d in decided}
    outcomes: list[recovery_store.Outcome] = []
    writable: list[Decision] = []
    for it in items:
        if it.linked_to is not None:  # linked meanwhile (e.g. by `match`): out of the backlog
            outcomes.append(Outcome(it, MATCHED, person_key=it.linked_to,
                                      reason=ALREADY_LINKED))  # fmt: skip
            continue
        d = by_rid.get(it.record_id)
        outcome = _outcome(it, d)
        outcomes.append(outcome)
        if outcome.outcome != FAILED and d is not None:
            writable.append(d)
    if not writable:
        return outcomes, {}
    return outcomes, write_decisions(session, writable, run_id=run_id, now=now,
                                     window_days=resolver.window_days)  # fmt: skip


def _outcome(item: recovery_store.Item, d: Decision | None) -> Outcome:
    if d is None:
        return Outcome(item, FAILED, error="the engine returned no decision for this lead")
    if d["decision"] == "link":
        return Outcome(item, MATCHED, person_key=d["person_key"])
    if d["decision"] == "found":
        return Outcome(item, FAILED, error="the engine tried to found a person from a lead")
    if d["reason"] == Reason.ERROR.value:
        return Outcome(item, FAILED, error=d.get("message") or "engine error without message")
    return Outcome(item, UNMATCHED, reason=d["reason"])


def _record(
    session: Session,
    settings: Settings,
    outcomes: Sequence[recovery_store.Outcome],
    result: RecoverResult,
    now: dt.datetime,
) -> int:
    return recovery_store.record_outcomes(
        session, outcomes, run_id=result.run_id, now=now, worker=result.worker,
        max_failures=settings.recover_max_failures,
        backoff_seconds=settings.recover_backoff_seconds,
    )  # fmt: skip


def _fail_batch(
    engine: Engine,
    settings: Settings,
    result: RecoverResult,
    ids: list[int],
    error: str,
    now: dt.datetime,
    skip_locked: bool,
) -> None:
    """The batch's transaction rolled back: record a failed attempt for each of its items.

    The items are claimed again first; on PostgreSQL another worker may have taken some in
    between, and those are its to process, so only re-claimed items are accounted here.
    """
    with transaction(engine) as session:
        items = recovery_store.claim(session, now, len(ids), skip_locked=skip_locked, only_ids=ids)
        outcomes = [Outcome(it, FAILED, error=error) for it in items]
        parked = _record(session, settings, outcomes, result, now)
    result.add(outcomes, parked)


# --- daily metrics and impact -----------------------------------------------------------------


def _refresh_daily(
    engine: Engine, settings: Settings, result: RecoverResult, now: dt.datetime
) -> None:
    """Upsert today's recovery_daily row (backlog_before stays the day's first run's)."""
    with transaction(engine) as session:
        result.backlog_after = backlog.count_kpi_red(session, now, settings.kpi_grace_days)
        start, end = recovery_store.day_span(now.date())
        totals = recovery_store.attempt_totals(session, start, end)
        recovery_store.upsert_daily(session, {
            "day": now.date(), "backlog_before": result.backlog_before,
            "backlog_after": result.backlog_after, "matched_out": totals[MATCHED],
            "new_in": recovery_store.new_in(session, now.date(), settings.kpi_grace_days),
            "processed": totals["processed"], "failed": totals[FAILED],
            "top_fail_reason": recovery_store.top_fail_reason(session, start, end),
            "updated_at": now,
        })  # fmt: skip


# --- `leadlink check drain` -------------------------------------------------------------------


def check_drain(engine: Engine, settings: Settings) -> CheckResult:
    """The queue drains: sampled matched leads left the backlog, every run's totals add up,
    no item was attempted twice by one run, the attempts per day equal the attempts."""

    now = clock.utcnow()
    problems: list[str] = []
    with transaction(engine) as session:
        sampled, red, examples = recovery_store.matched_still_red(
            session, now, settings.kpi_grace_days, settings.check_sample
        )
        runs = recovery_store.recover_run_counts(session)
        attempts = recovery_store.attempts_by_run(session)
        twice, twice_examples = recovery_store.twice_in_one_run(session)
        off_days, day_examples = recovery_days.out_of_step(session)
    problems += examples + day_examples
    bad_runs = 0
    for run_id, counts in runs:
        made = attempts.get(run_id, {})
        said = {k: int(counts.get(k, 0)) for k in ("processed", MATCHED, UNMATCHED, FAILED)}
        found = {k: made.get(k, 0) for k in (MATCHED, UNMATCHED, FAILED)}
        found["processed"] = sum(found.values())
        adds_up = said["processed"] == said[MATCHED] + said[UNMATCHED] + said[FAILED]
        if not adds_up or said != found:
            bad_runs += 1
            problems.append(f"recover run {run_id}: reported {said}, attempts recorded {found}")
    problems += twice_examples
    detail = (f"{sampled} matched leads sampled, {len(runs)} recover runs balanced, "
              "one attempt per item per run, attempts per day counted")  # fmt: skip
    violations = red + bad_runs + twice + off_days
    examples = problems[: recovery_store.LIMIT]
    return CheckResult("drain", violations == 0, detail, violations, examples)
