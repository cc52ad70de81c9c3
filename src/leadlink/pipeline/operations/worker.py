"""`leadlink worker`: the scheduler. Every cycle runs, in order: ingest of the watched folder,
the database sources that are due (``db_sources``), match, queue seed, recover, claims, alerts.
One job per kind at a time (``store/locks``), every run recorded in ``job_run`` (kind, counts,
duration, error). A failing job is recorded and the cycle goes on; a stop request
(SIGTERM/SIGINT) lets the current job finish, then the worker exits.

Services that record their own ``job_run`` (``match``, ``alerts``...) keep that row: the worker
finishes it with the real end time, so its duration is the job's wall time, and adds
``duration_s`` to its counts. For the others the worker writes the row itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink.clock import utcnow
from leadlink.errors import BadInputError, LockBusyError, UsageError
from leadlink.pipeline.operations.db_sources import DbSource
from leadlink.settings import Settings
from leadlink.sources import RESOLVE_ORDER, SOURCES
from leadlink.store import alerts as alerts_store
from leadlink.store import jobs
from leadlink.store.db import transaction

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
JobFn = Callable[["Worker", dt.datetime], tuple[dict[str, Any], str | None]]
"""A job: (worker, now) -> (counts, error message or None). Raising is a failure too."""
DueFn = Callable[["Worker", dt.datetime], bool]

# Ingest order: identity sources in the order match resolves them, then activity.
INGEST_ORDER = [*RESOLVE_ORDER, *(s for s in SOURCES if s not in RESOLVE_ORDER)]
SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Job:
    kind: str
    run: JobFn
    # The service writes its own job_run of this kind; the worker finishes that row.
    records_itself: bool = False
    # A job on a schedule of its own (a database source's ``every``): not due, not run.
    due: DueFn | None = None


@dataclass
class Outcome:
    kind: str
    status: str  # ok | failed | skipped (lock busy) | not_due (its own schedule)
    run_id: int | None = None
    duration_s: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "run_id": self.run_id,
                "duration_s": self.duration_s, "counts": self.counts,
                "error": self.error}  # fmt: skip


class Worker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        watch: Path | None = None,
        clock: Clock = utcnow,
        stop: threading.Event | None = None,
        owner: str | None = None,
        db_sources: Sequence[DbSource] = (),
    ) -> None:
        from leadlink.store import locks

        self.engine = engine
        self.settings = settings
        self.watch = watch
        self.clock = clock
        self.stop = stop or threading.Event()
        self.owner = owner or locks.new_owner()
        self.db_sources = list(db_sources)

    def jobs(self) -> list[Job]:
        jobs_ = [] if self.watch is None else [Job("ingest", ingest_job)]
        jobs_ += [Job(s.kind, s.run, due=s.due) for s in self.db_sources]
        return jobs_ + [
            Job("match", match_job, records_itself=True),
            Job("queue_seed", seed_job, records_itself=True),
            Job("recover", recover_job, records_itself=True),
            Job("claims", claims_job, records_itself=True),
            Job("alerts", alerts_job, records_itself=True),
        ]

    def run_cycle(self) -> list[Outcome]:
        """Run every job once, in order; stop early (between jobs) when asked to."""
        outcomes = []
        for job in self.jobs():
            if self.stop.is_set():
                break
            try:
                if job.due is not None and not job.due(self, self.clock()):
                    outcomes.append(Outcome(job.kind, "not_due"))
                    continue
                outcomes.append(self.run_job(job))
            except Exception as exc:  # the bookkeeping itself failed (database down...)
                log.exception("job %s could not be run or recorded", job.kind)
                outcomes.append(Outcome(job.kind, "failed", error=f"{type(exc).__name__}: {exc}"))
        return outcomes

    def run_job(self, job: Job) -> Outcome:
        from leadlink.store import locks

        start = self.clock()
        try:
            stale = dt.timedelta(seconds=self.settings.lock_stale_seconds)
            locks.acquire(self.engine, job.kind, self.owner, start, stale_after=stale)
        except LockBusyError as exc:
            log.warning("skipping %s: %s", job.kind, exc)
            return Outcome(job.kind, "skipped", error=str(exc))
        stop_beating = self._heartbeat(job.kind)
        try:
            return self._run_locked(job, start)
        finally:
            stop_beating()
            locks.release(self.engine, job.kind, self.owner)

    def _heartbeat(self, kind: str) -> Callable[[], None]:
        """Keep the job's lock alive from a thread: a long match must not look abandoned."""
        from leadlink.store import locks

        done = threading.Event()
        interval = max(self.settings.lock_stale_seconds / 3, 1.0)

        def beat() -> None:
            while not done.wait(interval):
                try:
                    locks.heartbeat(self.engine, kind, self.owner, utcnow())
                except Exception:  # lost or unreachable: say so; the job itself goes on
                    log.warning("heartbeat of the %s lock failed", kind, exc_info=True)
                    return

        thread = threading.Thread(target=beat, name=f"heartbeat-{kind}", daemon=True)
        thread.start()

        def stop() -> None:
            done.set()
            thread.join()

        return stop

    def _run_locked(self, job: Job, start: dt.datetime) -> Outcome:
        with transaction(self.engine) as session:
            marker = alerts_store.max_run_id(session)
        run_id = None if job.records_itself else jobs.start(self.engine, job.kind, start)
        began = time.monotonic()
        counts: dict[str, Any] = {}
        error: str | None = None
        try:
            counts, error = job.run(self, start)
        except Exception as exc:  # a job's failure is recorded, the cycle goes on
            log.exception("job %s failed", job.kind)
            error = f"{type(exc).__name__}: {exc}"
        duration = round(time.monotonic() - began, 3)
        end = max(self.clock(), start + dt.timedelta(seconds=duration))
        if run_id is None:
            with transaction(self.engine) as session:
                run_id = alerts_store.newest_run_of(session, job.kind, marker)
            if run_id is None:  # the service failed before recording itself
                run_id = jobs.start(self.engine, job.kind, start)
        counts = {**counts, "duration_s": duration}
        jobs.finish(self.engine, run_id, end, counts=counts, error=error)
        status = "failed" if error else "ok"
        log.info("job %s %s in %.3f s (run %s)", job.kind, status, duration, run_id)
        return Outcome(job.kind, status, run_id, duration, counts, error)

    def loop(self, every: float, *, once: bool = False,
             on_cycle: Callable[[list[Outcome]], None] | None = None) -> int:  # fmt: skip
        """Run cycles every ``every`` seconds until stopped; return the number of cycles."""
        cycles = 0
        while not self.stop.is_set():
            outcomes = self.run_cycle()
            cycles += 1
            if on_cycle is not None:
                on_cycle(outcomes)
            if once:
                break
            self.stop.wait(every)
        return cycles


# --- the jobs ------------------------------------------------------------------------------


def source_of(name: str) -> str | None:
    """The source a watched file belongs to, from its name's prefix (`leads_2026-11.csv`)."""
    lowered = name.lower()
    matches = [s for s in SOURCES if lowered.startswith(s)]
    return max(matches, key=len) if matches else None


@dataclass(frozen=True)
class WatchedFolder:
    """What a look at the watched folder found: files ready to ingest, and symbolic links
    that would have been taken (a link may point anywhere: it is never read)."""

    ready: list[Path]
    symlinks: list[Path]


def watched_files(folder: Path, settle_seconds: float) -> WatchedFolder:
    """Regular files ready to ingest: CSV/Parquet, not hidden, unmodified for
    ``settle_seconds``, identity sources first. Symbolic links are set apart, never followed:
    one in the inbox could make the worker ingest any file it can read."""
    ready_before = time.time() - settle_seconds
    ready: list[Path] = []
    symlinks: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in SUFFIXES:
                continue
            if entry.is_symlink():
                symlinks.append(Path(entry.path))
            elif (entry.is_file(follow_symlinks=False)
                  and entry.stat(follow_symlinks=False).st_mtime <= ready_before):  # fmt: skip
                ready.append(Path(entry.path))

    def order(p: Path) -> tuple[int, str]:
        source = source_of(p.name)
        return (INGEST_ORDER.index(source) if source else -1, p.name)

    return WatchedFolder(sorted(ready, key=order), sorted(symlinks))


def check_destination(folder: Path) -> None:
    """Refuse ``done/`` or ``failed/`` when it is a symbolic link (moving into it would put
    inbox files wherever it points) or anything but a folder; missing is fine."""
    if folder.is_symlink():
        raise UsageError(f"{folder} is a symbolic link: the worker moves files only into a "
                         f"real folder; replace it with one")  # fmt: skip
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: the worker moves watched files there")


def _free_target(folder: Path, path: Path, stamp: dt.datetime) -> Path:
    """A name in ``folder`` under which neither the file nor its ``.error.txt`` exists, not
    even as a (dangling) symbolic link: nothing of ours is ever written through one."""
    candidates = [folder / path.name, folder / f"{path.stem}.{stamp:%Y%m%dT%H%M%S%f}{path.suffix}"]
    candidates += [folder / f"{path.stem}.{stamp:%Y%m%dT%H%M%S%f}-{n}{path.suffix}"
                   for n in range(1, 100)]  # fmt: skip
    for target in candidates:
        if not any(os.path.lexists(t) for t in (target, _error_file(target))):
            return target
    raise UsageError(f"{folder}: no free name left for {path.name}")


def _error_file(moved: Path) -> Path:
    return moved.with_name(moved.name + ".error.txt")


def _move(path: Path, folder: Path, stamp: dt.datetime) -> Path:
    """Rename ``path`` into ``folder`` under a free name (the same name twice keeps both).
    ``os.rename`` never follows a link at the target; the folder is checked right before."""
    check_destination(folder)
    folder.mkdir(exist_ok=True)
    target = _free_target(folder, path, stamp)
    os.rename(path, target)
    return target


def _write_error(moved: Path, message: str) -> None:
    """The ``.error.txt`` beside a refused file, created new: O_EXCL and O_NOFOLLOW make the
    open fail rather than write through a link planted under that name."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(_error_file(moved), flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{message}\n")


def ingest_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    """Ingest every ready file of the watched folder; done files go to done/, bad ones to
    failed/ next to a ``.error.txt`` saying why. A database error leaves the file in place for
    the next cycle (it is not the file's fault) and fails the job. A symbolic link is left
    where it is, unread, and reported; done/ or failed/ being one fails the job, nothing
    moved."""
    from leadlink.pipeline.ingest.files import ingest_file

    assert worker.watch is not None
    done, failed = worker.watch / "done", worker.watch / "failed"
    for folder in (done, failed):  # before any ingest: a refused folder must move nothing
        check_destination(folder)
    counts: dict[str, Any] = {"files": 0, "ingested": 0, "failed": 0, "rows": 0,
                              "inserted": 0, "updated": 0, "unchanged": 0,
                              "symlinks": 0}  # fmt: skip
    errors: list[str] = []
    found = watched_files(worker.watch, worker.settings.watch_settle_seconds)
    for link in found.symlinks:
        log.error("watched file %s is a symbolic link: not ingested, left in place", link)
        counts["symlinks"] += 1
        errors.append(f"{link.name}: a symbolic link, not ingested (remove it)")
    for path in found.ready:
        if path.is_symlink():  # swapped for a link since the folder was listed
            log.error("watched file %s became a symbolic link: not ingested", path)
            counts["symlinks"] += 1
            errors.append(f"{path.name}: a symbolic link, not ingested (remove it)")
            continue
        counts["files"] += 1
        source = source_of(path.name)
        try:
            if source is None:
                raise UsageError(f"{path.name}: the file name must start with a source name "
                                 f"({', '.join(SOURCES)})")  # fmt: skip
            result = ingest_file(worker.engine, source, path, now=now)
        except (BadInputError, UsageError) as exc:
            log.error("watched file %s refused: %s", path, exc)
            _write_error(_move(path, failed, now), str(exc))
            counts["failed"] += 1
            errors.append(f"{path.name}: {exc}")
            continue
        _move(path, done, now)
        counts["ingested"] += 1
        for key in ("rows", "inserted", "updated", "unchanged"):
            counts[key] += getattr(result, key)
    refused = counts["failed"] + counts["symlinks"]
    error = f"{refused} file(s) refused: " + "; ".join(errors) if errors else None
    return counts, error


def match_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    from leadlink.pipeline.resolution.resolve import match

    return match(worker.engine, worker.settings, now=now, owner=worker.owner).as_dict(), None


def seed_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    from leadlink.pipeline.money.recovery import seed

    return dict(seed(worker.engine, worker.settings, now=now).as_dict()), None


def recover_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    from leadlink.pipeline.money.recovery import recover

    result = recover(worker.engine, worker.settings, now=now, worker=worker.owner)
    return dict(result.as_dict()), None


def claims_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    from leadlink.pipeline.money.claims import compute_claims

    return dict(compute_claims(worker.engine, worker.settings, now=now).as_dict()), None


def alerts_job(worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
    from leadlink.pipeline.operations.alerts import evaluate, stale_kinds

    kinds = stale_kinds(worker.settings, watching=worker.watch is not None)
    kinds += [s.kind for s in worker.db_sources]
    result = evaluate(worker.engine, worker.settings, now=now, job_kinds=kinds)
    return result.counts(), None
