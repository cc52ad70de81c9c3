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
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from leadlink.clock import utcnow
from leadlink.errors import LockBusyError
from leadlink.store.db import transaction
from leadlink.store.models import JobLock

DEFAULT_STALE_AFTER = dt.timedelta(minutes=15)
POLL_SECONDS = 0.25



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
        if current.heartbeat_at >= now - stale_after and not _dead_local_owner(current.owner):
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
                f"{busy.describe()}{waited}; another {kind} job is running. Wait for it to "
                f"finish, or retry later (a lock without heartbeat for "
                f"{int(stale_after.total_seconds())} s is taken over)."
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


def _dead_local_owner(owner: str) -> bool:
    """True when the owner is a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, belongs to someone else
    return False
