"""The worker on real databases: the cycle, the watched folder, failures, locks, SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, write_csv
from tests.pipeline.ops_world import SETTINGS, rows

from leadlink.errors import UsageError
from leadlink.pipeline.operations.schedule import parse_every
from leadlink.pipeline.operations.worker import Job, Worker, alerts_job, source_of
from leadlink.store import locks
from leadlink.store.db import make_engine

ALL_JOBS = ["ingest", "match", "queue_seed", "recover", "claims", "alerts"]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600),
                                               ("1d", 86400), (" 2H ", 7200)])  # fmt: skip
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "0s", "-1m", "1w", "1.5h"])
def test_parse_every_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--every"):
        parse_every(text)


def test_source_of_a_file_name() -> None:
    assert source_of("leads_2026-11.csv") == "leads"
    assert source_of("Drivers.parquet") == "drivers"
    assert source_of("payments-oct.csv") == "payments"
    assert source_of("notes.csv") is None


def _old(path: Path) -> Path:
    """Make a file look settled (written a minute ago)."""
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def _runs(engine: Engine) -> list[tuple[str, str, object, object, object]]:
    return [tuple(r) for r in rows(engine, "SELECT kind, status, started_at, finished_at, error "
                                           "FROM job_run ORDER BY id")]  # fmt: skip


def test_a_cycle_ingests_the_folder_and_records_every_job(engine: Engine, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _old(
        write_csv(
            inbox / "drivers_1.csv",
            "drivers",
            [driver("D1", first_name="Ana", last_name="Torres Vega", phone="987000111")],
        )
    )
    _old(
        write_csv(
            inbox / "leads_1.csv",
            "leads",
            [lead("L1", first_name="Ana", last_name="Torres Vega", phone="987000111")],
        )
    )
    _old(write_csv(inbox / "leads_bad.csv", "leads", [lead("L2", created_at="not a date")]))
    _old(write_csv(inbox / "notes.csv", "leads", [lead("L3")]))
    fresh = write_csv(inbox / "leads_2.csv", "leads", [lead("L4")])  # still being copied
    # Still being written however long the cycles take (a loaded machine took > 5 s to run
    # two, and the file aged past the settle time).
    soon = time.time() + 3600
    os.utime(fresh, (soon, soon))
    worker = Worker(engine, SETTINGS, watch=inbox, clock=lambda: NOW)

    outcomes = worker.run_cycle()
    assert [o.kind for o in outcomes] == ALL_JOBS
    status = {o.kind: o.status for o in outcomes}
    assert status["ingest"] == "failed"  # two files refused, the others went in
    assert {k: v for k, v in status.items() if k != "ingest"} == {k: "ok" for k in ALL_JOBS[1:]}
    ingest = outcomes[0]
    assert ingest.counts["files"] == 4 and ingest.counts["ingested"] == 2
    assert ingest.counts["failed"] == 2 and ingest.counts["inserted"] == 2
    assert ingest.error and "leads_bad.csv" in ingest.error and "notes.csv" in ingest.error
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["drivers_1.csv", "leads_1.csv"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == [
        "leads_bad.csv", "leads_bad.csv.error.txt", "notes.csv", "notes.csv.error.txt"]  # fmt: skip
    assert "created_at" in (inbox / "failed" / "leads_bad.csv.error.txt").read_text()
    assert fresh.exists()
    # The lead was matched in the same cycle.
    linked = rows(engine, "SELECT count(*) FROM link l JOIN source_record sr ON sr.id = "
                          "l.record_id WHERE sr.source = 'leads'")  # fmt: skip
    assert linked[0][0] == 1

    runs = _runs(engine)
    kinds = [r[0] for r in runs if r[0] in ALL_JOBS]
    assert kinds == ALL_JOBS  # one row per job: services' own rows are not doubled
    assert all(r[1] in ("ok", "failed") and r[3] is not None and r[3] >= r[2] for r in runs)
    counts = rows(engine, "SELECT counts FROM job_run WHERE kind = 'match'")[0][0]
    assert "duration_s" in str(counts)

    again = worker.run_cycle()
    assert again[0].status == "ok" and again[0].counts["files"] == 0
    assert not [r for r in _runs(engine) if r[1] == "running"]


def test_a_failing_job_is_recorded_and_the_cycle_goes_on(engine: Engine) -> None:
    def boom(_w: Worker, _now: dt.datetime) -> tuple[dict[str, object], str | None]:
        raise RuntimeError("the disk is on fire")

    class Broken(Worker):
        def jobs(self) -> list[Job]:
            return [Job("claims", boom, records_itself=True), Job("queue_seed", boom),
                    Job("alerts", alerts_job, records_itself=True)]  # fmt: skip

    outcomes = Broken(engine, SETTINGS, clock=lambda: NOW).run_cycle()
    assert [(o.kind, o.status) for o in outcomes] == [
        ("claims", "failed"), ("queue_seed", "failed"), ("alerts", "ok")]  # fmt: skip
    runs = {r[0]: r for r in _runs(engine)}
    assert runs["claims"][1] == "failed" and "the disk is on fire" in runs["claims"][4]
    assert runs["queue_seed"][1] == "failed" and runs["queue_seed"][4].startswith("RuntimeError")
    assert runs["alerts"][1] == "ok"


def test_a_busy_lock_skips_the_job_without_a_run(engine: Engine) -> None:
    locks.acquire(engine, "alerts", "another-host:1:abc", NOW)

    class OnlyAlerts(Worker):
        def jobs(self) -> list[Job]:
            return [Job("alerts", alerts_job, records_itself=True)]

    outcomes = OnlyAlerts(engine, SETTINGS, clock=lambda: NOW).run_cycle()
    assert [(o.kind, o.status) for o in outcomes] == [("alerts", "skipped")]
    assert "another-host:1:abc" in (outcomes[0].error or "")
    assert _runs(engine) == []
    locks.release(engine, "alerts", "another-host:1:abc")
    assert OnlyAlerts(engine, SETTINGS, clock=lambda: NOW).run_cycle()[0].status == "ok"
    assert rows(engine, "SELECT count(*) FROM job_lock")[0][0] == 0  # released after the job


def test_a_stop_request_ends_the_cycle_after_the_current_job(engine: Engine) -> None:
    def stopping(w: Worker, _now: dt.datetime) -> tuple[dict[str, object], str | None]:
        w.stop.set()  # as the SIGTERM handler does, mid-job
        return {"done": 1}, None

    class Stopping(Worker):
        def jobs(self) -> list[Job]:
            return [Job("queue_seed", stopping), Job("alerts", alerts_job, records_itself=True)]

    worker = Stopping(engine, SETTINGS, clock=lambda: NOW)
    assert worker.loop(0.01) == 1
    assert [(r[0], r[1]) for r in _runs(engine)] == [("queue_seed", "ok")]


def test_sigterm_lets_the_worker_finish_and_exit_0(db_url: str, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("leadlink")
    proc = subprocess.Popen([str(exe), "--db", db_url, "worker", "--every", "1s"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    engine = make_engine(db_url)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if rows(engine, "SELECT count(*) FROM job_run WHERE kind = 'alerts' AND status = 'ok'")[
                0
            ][0]:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
        else:
            pytest.fail("the worker never finished a cycle")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert b"stopping after the current job" in err
        assert b"alembic" not in err.lower(), err.decode()  # its INFO is not the worker's news
        assert rows(engine, "SELECT count(*) FROM job_run WHERE status = 'running'")[0][0] == 0
        assert rows(engine, "SELECT count(*) FROM job_lock")[0][0] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()


def test_the_lock_is_heartbeaten_while_a_long_job_runs(engine: Engine) -> None:
    seen: list[tuple[object, object]] = []

    def slow(w: Worker, _now: dt.datetime) -> tuple[dict[str, object], str | None]:
        time.sleep(1.4)  # the heartbeat interval is 1 s with a 3 s staleness
        seen.extend(
            tuple(r)
            for r in rows(
                w.engine, "SELECT acquired_at, heartbeat_at FROM job_lock WHERE kind = 'queue_seed'"
            )
        )
        return {}, None

    class Slow(Worker):
        def jobs(self) -> list[Job]:
            return [Job("queue_seed", slow)]

    quick = SETTINGS.model_copy(update={"lock_stale_seconds": 3})
    assert Slow(engine, quick, clock=lambda: NOW).run_cycle()[0].status == "ok"
    assert len(seen) == 1 and str(seen[0][1]) > str(seen[0][0])  # beaten after it was taken


def test_cli_once_json_and_bad_usage(db_url: str, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from leadlink.cli import app

    runner = CliRunner()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _old(write_csv(inbox / "leads_x.csv", "leads", [lead("L1", phone="955000111")]))
    result = runner.invoke(app, ["--db", db_url, "worker", "--once", "--watch", str(inbox),
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)["jobs"]
    assert [(j["kind"], j["status"]) for j in jobs] == [(k, "ok") for k in ALL_JOBS]
    assert jobs[0]["counts"]["inserted"] == 1
    # A refused file fails the ingest job: --once says so with exit 1.
    _old(write_csv(inbox / "trips_bad.csv", "trips", [{"driver_id": "D1", "date": "x"}]))
    failed = runner.invoke(app, ["--db", db_url, "worker", "--once", "--watch", str(inbox)])
    assert failed.exit_code == 1
    assert (inbox / "failed" / "trips_bad.csv.error.txt").exists()
    assert runner.invoke(app, ["--db", db_url, "worker", "--every", "soon"]).exit_code == 2
    missing = runner.invoke(app, ["--db", db_url, "worker", "--watch", str(tmp_path / "nope")])
    assert missing.exit_code == 2


def test_the_loop_survives_a_broken_database(engine: Engine) -> None:
    # No job_lock table: taking any lock fails for real, on every job.
    from tests.pipeline.ops_world import execute

    execute(engine, "DROP TABLE job_lock")
    worker = Worker(engine, SETTINGS, clock=lambda: NOW)
    outcomes = worker.run_cycle()
    assert [o.kind for o in outcomes] == ALL_JOBS[1:]
    assert all(o.status == "failed" and o.error and "job_lock" in o.error for o in outcomes)


def test_sigterm_mid_job_finishes_that_job_and_starts_no_other(db_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    many = [lead(f"L{i:06d}", first_name="Ana", phone=f"9{i:08d}") for i in range(40000)]
    _old(write_csv(inbox / "leads_big.csv", "leads", many))
    exe = Path(sys.executable).with_name("leadlink")
    argv = [str(exe), "--db", db_url, "worker", "--watch", str(inbox)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    engine = make_engine(db_url)
    try:
        deadline = time.monotonic() + 60
        while not rows(engine, "SELECT count(*) FROM job_run WHERE kind = 'ingest'")[0][0]:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        runs = [tuple(r) for r in rows(engine, "SELECT kind, status FROM job_run")]
        assert runs == [("ingest", "ok")]  # finished, and match never started
        assert (inbox / "done" / "leads_big.csv").exists()
        assert rows(engine, "SELECT count(*) FROM source_record")[0][0] == 40000
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
