"""Recovery on the synthetic Peruvian data set: the backlog drains by what the engine can match.

Also the crash and concurrency tests: a real `leadlink recover` SIGKILLed mid-batch on
PostgreSQL loses and repeats nothing; two workers on one PostgreSQL queue never share an item.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW

from leadlink.clock import utcnow
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.money import recovery as rec
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store.db import make_engine, migrate
from leadlink.synth import generate

SETTINGS = Settings(db="sqlite://", chunk_size=50)
LEADLINK = str(Path(sys.executable).with_name("leadlink"))


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


def late_leads(engine: Engine, data: Path, *, settings: Settings = SETTINGS) -> None:
    """Drivers (and the rest) ingested and matched first; the leads arrive later, unmatched."""
    for source in ("drivers", "migrations", "scouting", "trips", "payments"):
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)
    match(engine, settings, now=NOW)
    ingest_file(engine, "leads", data / "leads.csv", now=NOW)


def _linked_leads(engine: Engine) -> dict[str, str]:
    rows = _rows(
        engine,
        "SELECT sr.source_pk, l.person_key FROM link l JOIN source_record sr "
        "ON sr.id = l.record_id WHERE l.active AND sr.source = 'leads'",
    )
    return {r[0]: r[1] for r in rows}


def test_demo_backlog_drains_by_what_the_engine_can_match(engine: Engine, tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(data, leads=400, seed=11)
    late_leads(engine, data)
    seeded = rec.seed(engine, SETTINGS, now=NOW)
    result = rec.recover(engine, SETTINGS, now=NOW)
    assert result.processed == seeded.enqueued == seeded.backlog
    assert result.processed == result.matched + result.unmatched + result.failed
    assert result.failed == 0  # no real match turned into an "error"
    assert result.backlog_after == result.backlog_before - result.matched
    # Reference: the same data matched in one go by `match` (leads and drivers together).
    ref = make_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    migrate(ref)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(ref, source, data / f"{source}.csv", now=NOW)
    match(ref, SETTINGS, now=NOW)
    queued = {
        r[0]
        for r in _rows(
            engine,
            "SELECT sr.source_pk FROM recovery_queue q JOIN "
            "source_record sr ON sr.id = q.record_id",
        )
    }
    reference = {pk for pk in _linked_leads(ref) if pk in queued}
    recovered = set(_linked_leads(engine))
    assert len(recovered) >= len(reference), (len(recovered), len(reference))
    # What recovery links is right: the lead's truth entity is the driver's.
    entity = {
        (r["source"], r["source_pk"]): r["entity_id"]
        for r in csv.DictReader((data / "truth.csv").open())
    }
    founder = dict(
        _rows(
            engine,
            "SELECT l.person_key, sr.source_pk FROM link l JOIN "
            "source_record sr ON sr.id = l.record_id "
            "WHERE sr.source = 'drivers' AND l.rule = 'new_person'",
        )
    )
    links = _linked_leads(engine)
    right = sum(
        entity[("leads", pk)] == entity.get(("drivers", founder.get(p, "")))
        for pk, p in links.items()
    )
    assert right / len(links) >= 0.97
    # Against truth: of the queued leads whose person became a driver, how many came out.
    drivers = {e for (src, _), e in entity.items() if src == "drivers"}
    with_driver = {pk for pk in queued if entity[("leads", pk)] in drivers}
    print(
        f"queued {len(queued)}, truth with driver {len(with_driver)}, reference "
        f"{len(reference)}, recovered {len(recovered)}, right {right}"
    )
    assert right >= 0.9 * len(with_driver)
    checks = run_checks(engine, SETTINGS, list(CHECKS))
    assert [c.name for c in checks if not c.ok] == [], [c.examples for c in checks if not c.ok]


def _pg_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row claiming with FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite uses a lock")


def _recover_cmd(db_url: str, chunk: int, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LEADLINK_DB": db_url, "LEADLINK_CHUNK_SIZE": str(chunk)}
    return subprocess.Popen(
        [LEADLINK, "recover", "--json", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _queued_pg(engine: Engine, tmp_path: Path, leads: int) -> int:
    data = tmp_path / "data"
    generate(data, leads=leads, seed=5)
    late_leads(engine, data)
    # The subprocesses use the wall clock: seed with it too (the data is dated before it).
    return rec.seed(engine, SETTINGS, now=utcnow()).enqueued


def _attempt_stats(engine: Engine) -> tuple[int, int, dict[int, int]]:
    """(attempts, distinct queue items attempted, attempts per run)."""
    total, items = _rows(engine, "SELECT count(*), count(DISTINCT queue_id) FROM recovery_attempt")[
        0
    ]
    per_run = dict(_rows(engine, "SELECT run_id, count(*) FROM recovery_attempt GROUP BY run_id"))
    return int(total), int(items), {int(k): int(v) for k, v in per_run.items()}


def _claim_in_flight(engine: Engine) -> bool:
    """Another backend holds rows of recovery_queue FOR UPDATE: a batch is open."""
    sql = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'recovery_queue' AND l.mode = 'RowShareLock' "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.pid <> pg_backend_pid()"
    )
    return bool(_rows(engine, sql)[0][0])


def test_sigkill_mid_batch_loses_nothing_and_repeats_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _pg_only(engine)
    queued = _queued_pg(engine, tmp_path, leads=300)
    proc = _recover_cmd(db_url, 10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"recover finished before it could be killed: {proc.communicate()}")
        if _attempt_stats(engine)[0] > 0 and _claim_in_flight(engine):
            break
        time.sleep(0.01)
    else:
        pytest.fail("no batch became visible within 60 s")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # PostgreSQL notices the dead connection and rolls its batch back
    killed_done, _, _ = _attempt_stats(engine)
    assert 0 < killed_done < queued
    assert not _claim_in_flight(engine)
    restart = _recover_cmd(db_url, 50)
    out, err = restart.communicate(timeout=120)
    assert restart.returncode == 0, err
    second = json.loads(out)
    total, items, per_run = _attempt_stats(engine)
    # Nothing lost, nothing twice: every queued lead has exactly one attempt overall.
    assert total == items == queued
    assert second["processed"] == queued - killed_done
    assert second["processed"] == second["matched"] + second["unmatched"] + second["failed"]
    assert per_run[second["run_id"]] == second["processed"]
    assert _rows(engine, "SELECT count(*) FROM recovery_queue WHERE status = 'pending'")[0][0] == 0
    killed_run = [r for r in per_run if r != second["run_id"]]
    assert len(killed_run) == 1 and per_run[killed_run[0]] == killed_done
    status = _rows(engine, f"SELECT status FROM job_run WHERE id = {killed_run[0]}")  # noqa: S608
    # The killed run never finished; the restart, finding its process gone, marked it aborted.
    assert status == [("aborted",)]
    for name in ("drain", "links", "origins"):
        assert CHECKS[name](engine, SETTINGS).ok, name


def test_two_workers_on_one_queue_never_share_an_item(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _pg_only(engine)
    queued = _queued_pg(engine, tmp_path, leads=300)
    workers = [_recover_cmd(db_url, 10) for _ in range(2)]
    results = []
    for w in workers:
        out, err = w.communicate(timeout=180)
        assert w.returncode == 0, err
        results.append(json.loads(out))
    total, items, per_run = _attempt_stats(engine)
    assert total == items == queued == sum(r["processed"] for r in results)
    assert all(r["processed"] > 0 for r in results), [r["processed"] for r in results]
    for r in results:
        assert per_run[r["run_id"]] == r["processed"] == r["matched"] + r["unmatched"] + r["failed"]
    # No lead was linked twice (one active link per record) and each link has its origin.
    for name in ("drain", "links", "origins"):
        assert CHECKS[name](engine, SETTINGS).ok, name
