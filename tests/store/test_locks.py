"""Job locks on real databases: one holder per kind, clear refusals, heartbeat, takeover."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from leadlink.clock import utcnow
from leadlink.errors import LockBusyError
from leadlink.store import locks

T0 = dt.datetime(2026, 11, 1, 12, 0, 0)
STALE = dt.timedelta(minutes=15)


def test_a_second_holder_is_refused_naming_the_first(engine: Engine) -> None:
    with locks.hold(engine, "recover", "hostA:100:aaa", T0) as lock:
        assert lock.owner == "hostA:100:aaa"
        with pytest.raises(LockBusyError) as info:
            locks.acquire(engine, "recover", "hostB:200:bbb", T0 + dt.timedelta(seconds=5))
        message = str(info.value)
        assert "held by hostA:100:aaa since 2026-11-01 12:00:00 UTC" in message
        assert info.value.exit_code == 1
        # Another kind is independent.
        with locks.hold(engine, "match", "hostB:200:bbb", T0):
            pass
    # Released on exit: the next holder gets it.
    locks.acquire(engine, "recover", "hostB:200:bbb", T0)
    assert locks.holder(engine, "recover").owner == "hostB:200:bbb"  # type: ignore[union-attr]


def test_nested_hold_by_the_same_owner_leaves_the_lock_to_the_outer_holder(
    engine: Engine,
) -> None:
    with locks.hold(engine, "recover", "w:1:a", T0):
        with locks.hold(engine, "recover", "w:1:a", T0):
            pass
        assert locks.holder(engine, "recover").owner == "w:1:a"  # type: ignore[union-attr]
        locks.heartbeat(engine, "recover", "w:1:a", T0)
    assert locks.holder(engine, "recover") is None


def test_released_even_when_the_block_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), locks.hold(engine, "recover", "h:1:x", T0):
        raise RuntimeError("job crashed")
    assert locks.holder(engine, "recover") is None


def test_stale_lock_is_taken_over_and_the_old_holder_learns_it(engine: Engine) -> None:
    locks.acquire(engine, "recover", "hostA:100:aaa", T0)
    locks.heartbeat(engine, "recover", "hostA:100:aaa", T0 + dt.timedelta(minutes=10))
    # Ten minutes after the heartbeat it is still alive...
    with pytest.raises(LockBusyError):
        locks.acquire(
            engine, "recover", "hostB:1:b", T0 + dt.timedelta(minutes=20), stale_after=STALE
        )
    # ...sixteen minutes after, it is stale and taken over.
    locks.acquire(engine, "recover", "hostB:1:b", T0 + dt.timedelta(minutes=26), stale_after=STALE)
    assert locks.holder(engine, "recover").owner == "hostB:1:b"  # type: ignore[union-attr]
    with pytest.raises(LockBusyError, match="lost the 'recover' lock held as hostA:100:aaa"):
        locks.heartbeat(engine, "recover", "hostA:100:aaa", T0 + dt.timedelta(minutes=27))
    assert not locks.release(engine, "recover", "hostA:100:aaa")  # cannot drop someone else's
    assert locks.holder(engine, "recover").owner == "hostB:1:b"  # type: ignore[union-attr]


def test_a_dead_local_holder_is_taken_over_at_once(engine: Engine) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: the pid no longer exists
    owner = f"{socket.gethostname()}:{dead.pid}:dead"
    locks.acquire(engine, "recover", owner, T0)
    locks.acquire(engine, "recover", "me:1:x", T0 + dt.timedelta(seconds=1))
    assert locks.holder(engine, "recover").owner == "me:1:x"  # type: ignore[union-attr]
    # A live local holder (this very process) is not.
    mine = f"{socket.gethostname()}:{os.getpid()}:alive"
    locks.release(engine, "recover", "me:1:x")
    locks.acquire(engine, "recover", mine, T0)
    with pytest.raises(LockBusyError):
        locks.acquire(engine, "recover", "other:2:y", T0 + dt.timedelta(seconds=1))


def test_wait_gives_up_after_the_timeout_and_says_so(engine: Engine) -> None:
    locks.acquire(engine, "recover", "h:1:a", utcnow())
    started = time.monotonic()
    with pytest.raises(LockBusyError, match=r"after waiting 0.6 s"):
        locks.acquire(engine, "recover", "h:2:b", utcnow(), wait=0.6)
    assert 0.5 <= time.monotonic() - started < 5


def test_cli_recover_exits_1_with_the_holder_on_sqlite(tmp_path: Path) -> None:
    from leadlink.store.db import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'l.db'}"
    engine = make_engine(url)
    migrate(engine)
    leadlink = str(Path(sys.executable).with_name("leadlink"))
    env = {**os.environ, "LEADLINK_DB": url}
    with locks.hold(engine, "recover", "otherhost:77:zz"):
        busy = subprocess.run(
            [leadlink, "recover", "--json"], env=env, capture_output=True, text=True
        )
    assert busy.returncode == 1
    assert "held by otherhost:77:zz" in busy.stderr and busy.stdout == ""
    free = subprocess.run([leadlink, "recover", "--json"], env=env, capture_output=True, text=True)
    assert free.returncode == 0, free.stderr
    data = json.loads(free.stdout)
    assert {k: data[k] for k in ("processed", "matched", "unmatched", "failed")} == {
        "processed": 0,
        "matched": 0,
        "unmatched": 0,
        "failed": 0,
    }
    for cmd in (["queue", "seed"], ["queue", "status"], ["impact", "--days", "3"],
                ["queue", "retry", "--by", "ana"]):  # fmt: skip
        out = subprocess.run([leadlink, *cmd, "--json"], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert isinstance(json.loads(out.stdout), dict)
    impact = json.loads(
        subprocess.run(
            [leadlink, "impact", "--json"], env=env, capture_output=True, text=True
        ).stdout
    )
    assert {
        "backlog_before",
        "backlog_after",
        "delta",
        "matched_out",
        "new_in",
        "top_fail_reason",
        "days",
    } <= set(impact)
