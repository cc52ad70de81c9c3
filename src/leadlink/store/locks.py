"""Job locks: one job per kind at a time, on SQLite and PostgreSQL alike (table ``job_lock``).

A lock is one row per kind, ``owner`` = ``host:pid:uuid``. Taking it is an INSERT (the primary
key on ``kind`` makes two holders impossible); releasing it deletes the row. A holder proves it
is alive by heartbeating; a lock whose heartbeat is older than ``stale_after`` may be taken over,
and so may a lock whose owner is a process of this host that no longer exists (a SIGKILLed job
leaves its row behind). Takeover is a compare-and-swap on (owner, heartbeat_at), so two
processes racing for a stale lock cannot both win.

Usage (the worker and ``recover`` on SQLite)::

    from leadlink.store import locks

    with locks.hold(engine, "recover", wait=30) as lock:   # LockBusyError if still busy
        for batch in work:
            ...
            lock.heartbeat()                               # LockBusyError if it was lost

``hold(..., wait=False)`` (the default) fails at once; ``wait=SECONDS`` polls until the lock is
free or the time is up. ``LockBusyError`` (exit code 1) names the holder and since when.
Times are naive UTC, like everything the store keeps.

The linking lock (``hold_linking``): every batch job that writes links respects it, so two of
them never decide the same pending record at once (a collision used to end in a raw
IntegrityError). ``match`` holds it exclusively (row ``link``); ``recover`` holds it shared
(one row ``link/recover/<hash of owner>`` per holder): PostgreSQL workers keep sharing the
queue through SKIP LOCKED, but none runs while a ``match`` does. Each side first writes its
row, then looks for the other's (both committed), so of two racing starts at least one sees
the other and backs off. An exclusive taker waiting for shared holders keeps its row, so new
shared holders queue behind it instead of starving it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from leadlink.clock import utcnow
from leadlink.errors import LockBusyError
from leadlink.store.db import transaction
from leadlink.store.models import JobLock

DEFAULT_STALE_AFTER = dt.timedelta(minutes=15)
POLL_SECONDS = 0.25
LINKING = "link"  # the exclusive row of the linking lock; shared rows are "link/<job>/<hash>"


def new_owner() -> str:
    """A unique owner id for this process: host:pid:uuid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Holder:
    kind: str
    owner: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime

    def describe(self) -> str:
        return (
            f"the {self.kind!r} lock is held by {self.owner} since "
            f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC (last heartbeat "
            f"{self.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)"
        )


@dataclass
class Lock:
    """A held lock; ``heartbeat`` keeps it alive and fails loudly if it was taken over."""

    engine: Engine
    kind: str
    owner: str

    def heartbeat(self, now: dt.datetime | None = None) -> None:
        heartbeat(self.engine, self.kind, self.owner, now or utcnow())


def holder(engine: Engine, kind: str) -> Holder | None:
    with transaction(engine) as session:
        row = session.get(JobLock, kind)
        if row is None:
            return None
        return Holder(row.kind, row.owner, row.acquired_at, row.heartbeat_at)


def try_acquire(
    engine: Engine,
    kind: str,
    owner: str,
    now: dt.datetime,
    *,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> Holder | None:
    """Take the lock; return None on success, or the current holder when it is busy."""
    for _ in range(3):  # the row may vanish or change between our INSERT and our SELECT
        try:
            with transaction(engine) as session:
                session.execute(
                    insert(JobLock).values(
                        kind=kind, owner=owner, acquired_at=now, heartbeat_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        current = holder(engine, kind)
        if current is None:
            continue
        if current.owner == owner:
            return current  # already ours: the caller decides (see acquire)
        if current.heartbeat_at >= now - stale_after and not dead_local_owner(current.owner):
            return current
        with transaction(engine) as session:
            taken = session.execute(
                update(JobLock)
                .where(
                    JobLock.kind == kind,
                    JobLock.owner == current.owner,
                    JobLock.heartbeat_at == current.heartbeat_at,
                )
                .values(owner=owner, acquired_at=now, heartbeat_at=now)
            )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return None
    return holder(engine, kind)


def acquire(
    engine: Engine,
    kind: str,
    owner: str,
    now: dt.datetime,
    *,
    wait: float | bool = False,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> bool:
    """Take the lock or raise LockBusyError; ``wait`` = seconds to keep trying (False: none).

    Re-entrant: returns False when ``owner`` already holds it (nothing taken), True when taken.
    """
    timeout = 0.0 if wait is False else float(wait)
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        busy = try_acquire(engine, kind, owner, now + dt.timedelta(seconds=elapsed),
                           stale_after=stale_after)  # fmt: skip
        if busy is None:
            return True
        if busy.owner == owner:
            return False
        if elapsed >= timeout:
            waited = f" after waiting {timeout:g} s" if timeout else ""
            raise LockBusyError(
                "{holder}{waited}; another {kind} job is running. Wait for it to finish, or "
                "retry later (a lock without heartbeat for {stale} s is taken over).",
                code="job_busy", holder=busy.describe(), waited=waited, kind=kind,
                stale=int(stale_after.total_seconds()),
            )
        time.sleep(min(POLL_SECONDS, max(timeout - elapsed, 0.01)))


def heartbeat(engine: Engine, kind: str, owner: str, now: dt.datetime) -> None:
    with transaction(engine) as session:
        done = session.execute(
            update(JobLock)
            .where(JobLock.kind == kind, JobLock.owner == owner)
            .values(heartbeat_at=now)
        )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        current = holder(engine, kind)
        who = current.describe() if current else f"the {kind!r} lock is free"
        raise LockBusyError(f"lost the {kind!r} lock held as {owner}: {who}")


def release(engine: Engine, kind: str, owner: str) -> bool:
    """Drop the lock if we hold it; return whether we did."""
    with transaction(engine) as session:
        done = session.execute(delete(JobLock).where(JobLock.kind == kind, JobLock.owner == owner))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


@contextmanager
def hold(
    engine: Engine,
    kind: str,
    owner: str | None = None,
    now: dt.datetime | None = None,
    *,
    wait: float | bool = False,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> Iterator[Lock]:
    """Hold the lock for the block; released on exit, also when the block raises.

    Nested use by the same owner (the worker holding ``recover`` and calling ``recover``) is
    allowed, and leaves the lock to the outer holder on exit.
    """
    owner = owner or new_owner()
    taken = acquire(engine, kind, owner, now or utcnow(), wait=wait, stale_after=stale_after)
    try:
        yield Lock(engine, kind, owner)
    finally:
        if taken:
            release(engine, kind, owner)


def dead_local_owner(owner: str) -> bool:
    """True when the owner is a process of this host that no longer exists."""
    return _local_alive(owner) is False


def live_local_owner(owner: str) -> bool:
    """True when the owner is a process of this host that exists."""
    return _local_alive(owner) is True


def _local_alive(owner: str) -> bool | None:
    """Whether the owner's process exists; None when it is not a process of this host."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    return True


# -- the linking lock ------------------------------------------------------------------------


def shared_kind(job: str, owner: str) -> str:
    """The row of one shared holder: job name and a hash of the owner (``kind`` is 30 chars)."""
    digest = hashlib.sha256(owner.encode()).hexdigest()
    return f"{LINKING}/{job[:8]}/{digest[:16]}"


def linking_holders(engine: Engine) -> list[Holder]:
    """Every row of the linking lock: the exclusive one first, then the shared ones."""
    with transaction(engine) as session:
        rows = session.scalars(
            select(JobLock)
            .where((JobLock.kind == LINKING) | JobLock.kind.like(f"{LINKING}/%"))
            .order_by(JobLock.kind)
        )
        return [Holder(r.kind, r.owner, r.acquired_at, r.heartbeat_at) for r in rows]


@contextmanager
def hold_linking(
    engine: Engine,
    job: str,
    owner: str | None = None,
    now: dt.datetime | None = None,
    *,
    shared: bool = False,
    wait: float | bool = False,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> Iterator[Lock]:
    """Hold the linking lock for the block (``job`` names the holder in refusals).

    Exclusive (``match``): no other linking job at all. Shared (``recover``): any number of
    shared holders, no exclusive one. A collision raises LockBusyError (exit 1) naming the
    holder, its job and since when, or waits up to ``wait`` seconds. Re-entrant per owner.
    """
    owner = owner or new_owner()
    kind = shared_kind(job, owner) if shared else LINKING
    timeout = 0.0 if wait is False else float(wait)
    started = time.monotonic()
    base = now or utcnow()
    taken = False
    try:
        while True:
            elapsed = time.monotonic() - started
            at = base + dt.timedelta(seconds=elapsed)
            blocker: Holder | None = None
            if not taken:
                blocker = try_acquire(engine, kind, owner, at, stale_after=stale_after)
                if blocker is not None and blocker.owner == owner:
                    break  # already ours (nested use): the outer holder releases it
                taken = blocker is None  # else: another live holder of the same row
            if taken:
                blocker = _linking_blocker(engine, kind, owner, at, stale_after)
                if blocker is None:
                    break
                if shared:  # an exclusive holder (or taker) is there: step back, retry
                    release(engine, kind, owner)
                    taken = False
            if elapsed >= timeout:
                assert blocker is not None
                text = _linking_busy(job, blocker, timeout, stale_after)
                raise LockBusyError("{text}", text=text, code="linking_busy", job=job,
                                    other=_other(blocker))
            time.sleep(min(POLL_SECONDS, max(timeout - elapsed, 0.01)))
    except BaseException:
        if taken:
            release(engine, kind, owner)
        raise
    try:
        yield Lock(engine, kind, owner)
    finally:
        if taken:
            release(engine, kind, owner)


def _linking_blocker(
    engine: Engine, kind: str, owner: str, now: dt.datetime, stale_after: dt.timedelta
) -> Holder | None:
    """The first live row that forbids ``kind``: shared rows forbid the exclusive one and
    the exclusive one forbids shared ones. Dead or stale rows are dropped (compare-and-swap:
    a row that beat meanwhile is left alone)."""
    for row in linking_holders(engine):
        if row.owner == owner or (kind != LINKING and row.kind != LINKING):
            continue  # ours, or two shared holders: no conflict
        if row.kind == kind:
            continue
        if row.heartbeat_at < now - stale_after or dead_local_owner(row.owner):
            with transaction(engine) as session:
                session.execute(
                    delete(JobLock).where(
                        JobLock.kind == row.kind,
                        JobLock.owner == row.owner,
                        JobLock.heartbeat_at == row.heartbeat_at,
                    )
                )
            continue
        return row
    return None


def _other(blocker: Holder) -> str:
    """The job that holds the linking lock, by name."""
    return "match" if blocker.kind == LINKING else blocker.kind.split("/")[1]


def _linking_busy(job: str, blocker: Holder, waited: float, stale_after: dt.timedelta) -> str:
    other = _other(blocker)
    after = f" after waiting {waited:g} s" if waited else ""
    return (
        f"cannot start {job}: a {other} run holds the linking lock (as {blocker.owner}, since "
        f"{blocker.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
        f"{blocker.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC){after}. Jobs that link records "
        f"(match, recover) run one at a time; retry when it ends, or pass --wait SECONDS (a "
        f"holder without heartbeat for {int(stale_after.total_seconds())} s, or whose process "
        f"is gone, is taken over)."
    )
