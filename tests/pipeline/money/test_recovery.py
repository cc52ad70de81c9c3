"""The recovery queue on real databases: seed, recover, limits, failures, backoff, drain, impact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.errors import LockBusyError
from leadlink.pipeline.money import recovery as rec
from leadlink.pipeline.money.impact import impact
from leadlink.pipeline.operations.alerts import evaluate
from leadlink.pipeline.operations.checks import CHECKS
from leadlink.pipeline.operations.worker import Worker
from leadlink.pipeline.resolution import decider
from leadlink.pipeline.resolution.resolve import Resolver, match, person_key_for
from leadlink.settings import Settings
from leadlink.store import jobs, locks
from leadlink.store import recovery as recovery_store
from leadlink.store.db import alembic_config, make_engine, transaction

SETTINGS = Settings(db="sqlite://", chunk_size=4)
# Leads with a driver behind them (matchable by phone or document) and leads without one.
MATCHABLE = {"L01": "D1", "L02": "D2", "L03": "D3", "L04": "D4", "L05": "D5", "L06": "D6"}


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def _exec(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def backlog(engine: Engine, tmp_path: Path) -> Engine:
    """Drivers matched first; 12 leads arrive later, never matched: all KPI red, all pending.

    Plus one lead of yesterday (inside its grace period: not backlog).
    """
    names = [
        "Ana Torres Vega",
        "Luis Ramos Cruz",
        "Rosa Flores Chavez",
        "Jorge Paz Soto",
        "Elena Ruiz Mena",
        "Pablo Vera Lazo",
    ]
    drivers = []
    for i, full in enumerate(names, start=1):
        first, last = full.split(" ", 1)
        drivers.append(
            driver(
                f"D{i}",
                first_name=first,
                last_name=last,
                phone=f"98700011{i}",
                document=f"1122334{i}",
            )
        )
    load(engine, tmp_path, "drivers", drivers)
    match(engine, SETTINGS, now=NOW)
    leads = []
    for i, full in enumerate(names, start=1):
        first, last = full.split(" ", 1)
        leads.append(
            lead(
                f"L0{i}",
                first_name=first,
                last_name=last,
                phone=f"98700011{i}",
                created_at=f"2026-09-{10 + i} 09:00:00",
            )
        )
    for i in range(7, 13):
        leads.append(
            lead(
                f"L{i:02d}",
                first_name="Nadie",
                last_name=f"Nunca Visto{i}",
                phone=f"95599{i:04d}",
                created_at=f"2026-10-{i:02d} 09:00:00",
            )
        )
    leads.append(lead("L99", first_name="Hoy", last_name="Recien", created_at="2026-11-01 08:00"))
    load(engine, tmp_path, "leads", leads)
    return engine


def _queue(engine: Engine) -> dict[str, tuple[str, int, int]]:
    """lead_id -> (status, attempts, failures)."""
    rows = _rows(
        engine,
        "SELECT sr.source_pk, q.status, q.attempts, q.failures "
        "FROM recovery_queue q JOIN source_record sr ON sr.id = q.record_id",
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _attempts(engine: Engine) -> list[tuple[str, int, str, str | None, str | None, int]]:
    rows = _rows(
        engine,
        "SELECT sr.source_pk, a.attempt, a.outcome, a.reason, a.error, a.run_id "
        "FROM recovery_attempt a JOIN source_record sr ON sr.id = a.record_id "
        "ORDER BY a.id",
    )
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def test_seed_enqueues_the_backlog_once(backlog: Engine) -> None:
    first = rec.seed(backlog, SETTINGS, now=NOW).as_dict()
    assert first == {"enqueued": 12, "rearmed": 0, "already_queued": 0, "backlog": 12,
                     "settled": 0}  # fmt: skip
    again = rec.seed(backlog, SETTINGS, now=NOW).as_dict()
    assert again == {"enqueued": 0, "rearmed": 0, "already_queued": 12, "backlog": 12,
                     "settled": 0}  # fmt: skip
    assert "L99" not in _queue(backlog)  # inside its grace period
    assert set(_queue(backlog)) == {f"L{i:02d}" for i in range(1, 13)}


def test_recover_matches_what_has_a_driver_and_the_backlog_falls(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    result = rec.recover(backlog, SETTINGS, now=NOW)
    assert (result.processed, result.matched, result.unmatched, result.failed) == (12, 6, 6, 0)
    assert result.batches == 3  # 12 items, chunk of 4
    assert (result.backlog_before, result.backlog_after) == (12, 6)
    assert result.by_reason == {"NO_CANDIDATES": 6}
    # The run's duration is the time it took (it was recorded as 0.0 s: finished at `now`).
    (started, finished), = _rows(backlog, "SELECT started_at, finished_at FROM job_run "
                                 "WHERE kind = 'recover'")  # fmt: skip
    started, finished = (dt.datetime.fromisoformat(str(v)) for v in (started, finished))
    assert finished > started
    linked = dict(
        _rows(
            backlog,
            "SELECT sr.source_pk, l.person_key FROM link l JOIN "
            "source_record sr ON sr.id = l.record_id WHERE l.active "
            "AND sr.source = 'leads'",
        )
    )
    assert linked == {pk: person_key_for("drivers", d) for pk, d in MATCHABLE.items()}
    # Every link came with its origin, in the same transaction.
    origins = _rows(
        backlog,
        "SELECT count(*) FROM origin o JOIN source_record sr ON "
        "sr.id = o.record_id WHERE sr.source = 'leads' "
        "AND o.origin = 'cabinet_lead'",
    )
    assert origins[0][0] == 6
    unmatched = dict(
        _rows(
            backlog,
            "SELECT sr.source_pk, u.reason FROM unmatched u JOIN "
            "source_record sr ON sr.id = u.record_id",
        )
    )
    assert unmatched == {f"L{i:02d}": "NO_CANDIDATES" for i in range(7, 13)}
    statuses = {pk: s for pk, (s, _, _) in _queue(backlog).items()}
    assert statuses == {pk: "matched" if pk in MATCHABLE else "unmatched" for pk in statuses}
    # One attempt per item, all in this run, numbered 1.
    attempts = _attempts(backlog)
    assert sorted(a[0] for a in attempts) == sorted(statuses)
    assert {(a[1], a[5]) for a in attempts} == {(1, result.run_id)}
    # A second run finds nothing due.
    assert rec.recover(backlog, SETTINGS, now=NOW).processed == 0
    assert all(c.ok for c in [CHECKS[n](backlog, SETTINGS) for n in ("drain", "origins", "links")])


def test_limit_is_honoured_exactly(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    first = rec.recover(backlog, SETTINGS, now=NOW, limit=7)
    assert first.processed == 7 == first.matched + first.unmatched + first.failed
    assert first.batches == 2  # 4 + 3: the last batch is cut to what the limit leaves
    # Oldest leads first: the six matchable leads are the oldest.
    assert sorted(a[0] for a in _attempts(backlog)) == [f"L{i:02d}" for i in range(1, 8)]
    rest = rec.recover(backlog, SETTINGS, now=NOW, limit=7)
    assert rest.processed == 5  # only five were left
    runs = _rows(backlog, "SELECT counts FROM job_run WHERE kind = 'recover' ORDER BY id")
    assert len(runs) == 2


def test_engine_error_is_a_failed_attempt_with_its_message(
    backlog: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise TypeError("'UUID' object is not subscriptable")

    monkeypatch.setattr(decider, "resolve", broken)  # inside the engine's own guard
    rec.seed(backlog, SETTINGS, now=NOW)
    result = rec.recover(backlog, SETTINGS, now=NOW, limit=5)
    assert (result.processed, result.matched, result.unmatched, result.failed) == (5, 0, 0, 5)
    errors = {a[4] for a in _attempts(backlog)}
    assert errors == {"TypeError: 'UUID' object is not subscriptable"}
    assert {a[2] for a in _attempts(backlog)} == {"failed"}
    # Failed leads wrote no verdict: the ERROR is in the attempt and the queue, not a "reason".
    assert _rows(backlog, "SELECT count(*) FROM unmatched")[0][0] == 0
    errs = _rows(backlog, "SELECT DISTINCT last_error FROM recovery_queue WHERE attempts > 0")
    assert errs == [("TypeError: 'UUID' object is not subscriptable",)]


def test_failures_back_off_then_park_after_five(
    backlog: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Resolver, source: str, rows: Any) -> Any:
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(Resolver, "decide", broken)  # outside the engine's guard
    rec.seed(backlog, SETTINGS, now=NOW)
    when = NOW
    delays = []
    for attempt in range(1, 6):
        result = rec.recover(backlog, SETTINGS, now=when)
        assert (result.processed, result.failed) == (12, 12), attempt
        assert rec.recover(backlog, SETTINGS, now=when).processed == 0  # not due again yet
        due = _rows(backlog, "SELECT DISTINCT next_attempt_at FROM recovery_queue")
        assert len(due) == 1
        next_at = due[0][0]
        next_at = dt.datetime.fromisoformat(next_at) if isinstance(next_at, str) else next_at
        delays.append((next_at - when).total_seconds())
        when = next_at
    assert delays[:4] == [60, 240, 960, 3840]  # backoff 60 s * 4^(failures-1)
    assert result.parked == 12
    assert {s for s, _, _ in _queue(backlog).values()} == {"parked"}
    assert {(n, f) for _, n, f in _queue(backlog).values()} == {(5, 5)}
    # Parked items are never tried again, and their last error is kept.
    assert rec.recover(backlog, SETTINGS, now=when + dt.timedelta(days=30)).processed == 0
    status = rec.queue_status(backlog, now=when)
    assert status["counts"]["parked"] == 12
    assert {p["last_error"] for p in status["parked"]} == {"RuntimeError: registry unavailable"}
    attempts = _attempts(backlog)
    assert len(attempts) == 60 and {a[1] for a in attempts} == {1, 2, 3, 4, 5}

    # Once a person understood the error, `queue retry` sends them back, audited.
    monkeypatch.undo()
    parked = [p["lead_id"] for p in status["parked"]]
    one = rec.retry_parked(backlog, now=when, lead_ids=[parked[0], "NOT-A-LEAD"], actor="ana")
    assert (one["retried"], one["not_parked"]) == (1, ["NOT-A-LEAD"])
    rest = rec.retry_parked(backlog, now=when, lead_ids=None, actor="ana")
    assert rest["retried"] == 11 and parked[0] not in rest["leads"]
    assert rec.retry_parked(backlog, now=when, lead_ids=None, actor="ana")["retried"] == 0
    again = rec.recover(backlog, SETTINGS, now=when)
    assert again.processed == 12 and again.failed == 0 and again.parked == 0
    audit = _rows(backlog, "SELECT actor, action FROM audit_log WHERE action = 'queue_retry'")
    assert audit == [("ana", "queue_retry"), ("ana", "queue_retry")]


def test_a_batch_whose_write_fails_is_recorded_failed_and_the_rest_goes_on(
    backlog: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rec.write_decisions
    calls = {"n": 0}

    def second_write_fails(session: Any, decided: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(session, decided, **kw)

    monkeypatch.setattr(rec, "write_decisions", second_write_fails)
    rec.seed(backlog, SETTINGS, now=NOW)
    result = rec.recover(backlog, SETTINGS, now=NOW)
    assert (result.processed, result.failed) == (12, 4)
    assert result.processed == result.matched + result.unmatched + result.failed
    failed = [a for a in _attempts(backlog) if a[2] == "failed"]
    assert [a[4] for a in failed] == ["RuntimeError: disk full"] * 4
    # Nothing of the failed batch was written: its leads are still unlinked, no origin.
    failed_pks = [a[0] for a in failed]
    linked = _rows(
        backlog,
        "SELECT sr.source_pk FROM link l JOIN source_record sr ON sr.id = l.record_id "
        "WHERE sr.source = 'leads'",
    )
    assert not set(failed_pks) & {r[0] for r in linked}
    assert CHECKS["drain"](backlog, SETTINGS).ok


def test_seed_rearms_an_item_whose_lead_fell_back_into_the_backlog(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW)
    _exec(
        backlog,
        "UPDATE link SET active = false WHERE record_id = "
        "(SELECT id FROM source_record WHERE source_pk = 'L01')",
    )
    drain = CHECKS["drain"](backlog, SETTINGS)
    assert not drain.ok and drain.violations == 1
    assert drain.examples == ["leads/L01: recovered as matched but still KPI red"]
    later = NOW + dt.timedelta(hours=1)
    assert rec.seed(backlog, SETTINGS, now=later).as_dict() == {
        "enqueued": 0,
        "rearmed": 1,
        "already_queued": 6,
        "backlog": 7,
        "settled": 0,
    }
    assert _queue(backlog)["L01"] == ("pending", 1, 0)
    again = rec.recover(backlog, SETTINGS, now=later)
    assert (again.processed, again.matched) == (1, 1)
    assert _queue(backlog)["L01"] == ("matched", 2, 0)


def test_unmatched_items_are_retried_when_new_drivers_arrive(
    backlog: Engine, tmp_path: Path
) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW)
    later = NOW + dt.timedelta(hours=2)
    assert rec.seed(backlog, SETTINGS, now=later).rearmed == 0  # nothing changed
    load(
        backlog,
        tmp_path,
        "drivers",
        [
            driver("D9", first_name="Nadie", last_name="Nunca Visto7", phone="955990007"),
        ],
    )
    match(backlog, SETTINGS, now=later)
    assert rec.seed(backlog, SETTINGS, now=later + dt.timedelta(minutes=1)).rearmed == 6
    result = rec.recover(backlog, SETTINGS, now=later + dt.timedelta(minutes=1))
    assert (result.processed, result.matched, result.unmatched) == (6, 1, 5)
    assert _queue(backlog)["L07"] == ("matched", 2, 0)


def test_a_finished_item_whose_lead_was_linked_since_is_settled_by_the_next_seed(
    backlog: Engine, tmp_path: Path
) -> None:
    """The queue said 1,761 unmatched while the KPI said 1,760: a lead linked after its
    recovery ended stayed "unmatched" in the queue forever."""
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW)
    later = NOW + dt.timedelta(hours=2)
    load(backlog, tmp_path, "drivers", [
        driver("D9", first_name="Nadie", last_name="Nunca Visto7", phone="955990007"),
    ])  # fmt: skip
    match(backlog, SETTINGS, now=later, rematch=True)  # links L07 outside the queue
    assert _queue(backlog)["L07"][0] == "unmatched"
    seeded = rec.seed(backlog, SETTINGS, now=later + dt.timedelta(minutes=1))
    assert seeded.settled == 1 and _queue(backlog)["L07"][0] == "matched"
    counts = rec.queue_status(backlog, now=later)["counts"]
    # D9 shares a name block with the other five: re-armed (pending), still backlog.
    assert counts["unmatched"] + counts["pending"] == seeded.backlog == 5
    assert rec.seed(backlog, SETTINGS, now=later + dt.timedelta(minutes=2)).settled == 0


def test_a_lead_linked_since_it_was_queued_counts_as_matched(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    match(backlog, SETTINGS, now=NOW)  # links the six matchable leads behind the queue's back
    result = rec.recover(backlog, SETTINGS, now=NOW)
    assert (result.processed, result.matched, result.already_linked) == (12, 6, 6)
    assert all(CHECKS[n](backlog, SETTINGS).ok for n in ("drain", "links"))


def test_drain_fails_when_a_run_does_not_add_up_or_repeats_an_item(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    result = rec.recover(backlog, SETTINGS, now=NOW)
    assert CHECKS["drain"](backlog, SETTINGS).ok
    # A run that claims more than it recorded (the old --limit bug) is caught.
    _exec(
        backlog,
        "UPDATE job_run SET counts = :c WHERE id = :i",
        c='{"processed": 13, "matched": 6, "unmatched": 6, "failed": 0}',
        i=result.run_id,
    )
    bad = CHECKS["drain"](backlog, SETTINGS)
    assert not bad.ok and f"recover run {result.run_id}" in bad.examples[0]
    _exec(
        backlog,
        "UPDATE job_run SET counts = :c WHERE id = :i",
        c='{"processed": 12, "matched": 6, "unmatched": 6, "failed": 0}',
        i=result.run_id,
    )
    assert CHECKS["drain"](backlog, SETTINGS).ok
    # The same item twice in one run is caught.
    _exec(
        backlog,
        "INSERT INTO recovery_attempt (queue_id, record_id, attempt, outcome, run_id, at) "
        "SELECT queue_id, record_id, 2, outcome, run_id, at FROM recovery_attempt "
        "WHERE id = (SELECT min(id) FROM recovery_attempt)",
    )
    twice = CHECKS["drain"](backlog, SETTINGS)
    assert not twice.ok and any("attempted 2 times" in e for e in twice.examples)


def test_impact_reports_the_drain_per_day(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW, limit=4)
    rec.recover(backlog, SETTINGS, now=NOW + dt.timedelta(hours=1))
    data = impact(backlog, SETTINGS, now=NOW + dt.timedelta(hours=2), days=3)
    expected = {
        "backlog_before": 12,
        "backlog_after": 6,
        "delta": -6,
        "matched_out": 6,
        "top_fail_reason": "NO_CANDIDATES",
    }
    assert {k: data[k] for k in expected} == expected
    # The 12 leads entered the backlog today (ingested today, older than their grace period).
    assert data["new_in"] == 12 and data["success"] is False
    [day] = data["days"]
    assert day["day"] == "2026-11-01" and day["processed"] == 12 and day["failed"] == 0
    assert (day["backlog_before"], day["backlog_after"]) == (12, 6)  # first run's before kept
    # The next day nothing new came in and one more lead was matched out: a successful day.
    tomorrow = NOW + dt.timedelta(days=1)
    _exec(
        backlog,
        "UPDATE link SET active = false WHERE record_id = "
        "(SELECT id FROM source_record WHERE source_pk = 'L02')",
    )
    rec.seed(backlog, SETTINGS, now=tomorrow)
    rec.recover(backlog, SETTINGS, now=tomorrow)
    data = impact(backlog, SETTINGS, now=tomorrow, days=2)
    assert [(d["day"], d["matched_out"], d["new_in"], d["success"]) for d in data["days"]] == [
        ("2026-11-01", 6, 12, False),
        ("2026-11-02", 1, 0, True),
    ]


def test_sqlite_refuses_a_second_recover_naming_the_holder(backlog: Engine) -> None:
    if backlog.dialect.name != "sqlite":
        pytest.skip("PostgreSQL workers share the queue through SKIP LOCKED, no job lock")
    rec.seed(backlog, SETTINGS, now=NOW)
    with locks.hold(backlog, "recover", "otherhost:4242:abc", NOW):
        with pytest.raises(LockBusyError) as info:
            rec.recover(backlog, SETTINGS, now=NOW)
        assert "held by otherhost:4242:abc since 2026-11-01 12:00:00 UTC" in str(info.value)
        assert rec.queue_status(backlog, now=NOW)["counts"]["pending"] == 12  # nothing touched
    assert rec.recover(backlog, SETTINGS, now=NOW).processed == 12


def test_a_seed_records_its_run_however_it_is_started(tmp_path: Path) -> None:
    # A seed from the CLI once left no job_run, so `alerts` right after raised a critical
    # job_stale for queue_seed; now it records itself, and the worker's run is that one row.
    url = f"sqlite:///{tmp_path / 'leadlink.db'}"
    assert CliRunner().invoke(cli_app, ["--db", url, "init"]).exit_code == 0
    got = CliRunner().invoke(cli_app, ["--db", url, "queue", "seed", "--json"])
    assert got.exit_code == 0, got.output
    engine = make_engine(url)
    (run,) = jobs.last_runs(engine, "queue_seed")
    assert run.status == "ok" and run.counts is not None and "enqueued" in run.counts
    result = evaluate(engine, Settings(db=url), now=run.started_at)
    assert not [a for a in result.open if a["subject"] == "queue_seed"]
    worker = Worker(engine, Settings(db=url), owner="test")
    outcome = worker.run_job(next(j for j in worker.jobs() if j.kind == "queue_seed"))
    assert outcome.status == "ok"
    runs = jobs.last_runs(engine, "queue_seed")
    assert len(runs) == 2 and runs[0].id == outcome.run_id
    assert runs[0].counts is not None and "duration_s" in runs[0].counts
    engine.dispose()


def _attempt_days(engine: Engine) -> list[tuple[str, str, str, int]]:
    return [(str(d)[:10], o, r, int(n)) for d, o, r, n in _rows(
        engine, "SELECT day, outcome, reason, n FROM recovery_attempt_day "
                "ORDER BY day, outcome, reason")]  # fmt: skip


def test_the_attempts_per_day_are_counted_with_the_attempts(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW, limit=4)
    rec.recover(backlog, SETTINGS, now=NOW + dt.timedelta(hours=1))
    counted = _rows(backlog, "SELECT outcome, coalesce(reason, ''), count(*) FROM "
                             "recovery_attempt GROUP BY outcome, coalesce(reason, '') "
                             "ORDER BY 1, 2")  # fmt: skip
    assert _attempt_days(backlog) == [("2026-11-01", o, r, n) for o, r, n in counted]
    assert sum(n for *_, n in _attempt_days(backlog)) == 12
    assert CHECKS["drain"](backlog, SETTINGS).ok
    # An attempt recorded behind the counts' back (a hand edit) is caught.
    _exec(backlog, "UPDATE recovery_attempt_day SET n = n + 1 WHERE outcome = 'matched'")
    off = CHECKS["drain"](backlog, SETTINGS)
    assert not off.ok and any(e.startswith("attempts per day not") for e in off.examples)


def test_the_recovery_figures_are_asked_for_whole_days(backlog: Engine) -> None:
    with transaction(backlog) as session, pytest.raises(ValueError, match="whole day"):
        recovery_store.top_fail_reason(session, NOW, NOW + dt.timedelta(days=1))


def test_the_migration_counts_the_attempts_already_there(backlog: Engine) -> None:
    rec.seed(backlog, SETTINGS, now=NOW)
    rec.recover(backlog, SETTINGS, now=NOW)
    before = _attempt_days(backlog)
    command.downgrade(alembic_config(backlog), "0008_money_summaries")
    command.upgrade(alembic_config(backlog), "head")
    assert _attempt_days(backlog) == before and before
    assert CHECKS["drain"](backlog, SETTINGS).ok
