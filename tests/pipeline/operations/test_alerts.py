"""Alert rules on real databases: raised once, refreshed, resolved when the condition clears."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, load
from tests.pipeline.money.segments_world import SETTINGS as SEGMENT_SETTINGS
from tests.pipeline.money.segments_world import segments_world
from tests.pipeline.ops_world import SETTINGS, build, decide, execute, rows
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.pipeline.operations.alerts import KINDS, evaluate, stale_kinds
from leadlink.pipeline.resolution.resolve import person_key_for

KINDS_WATCHED = ["match", "queue_seed", "recover", "claims"]


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return build(engine, tmp_path)


def _open(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for r in rows(engine, "SELECT kind, subject, severity, detail, id FROM alert "
                          "WHERE resolved_at IS NULL"):  # fmt: skip
        detail = r[3] if isinstance(r[3], dict) else json.loads(r[3])
        out[(r[0], r[1])] = {"severity": r[2], "detail": detail, "id": r[4]}
    return out


def _job_ok(engine: Engine, kind: str, finished: dt.datetime) -> None:
    execute(engine, "INSERT INTO job_run (kind, status, started_at, finished_at, counts) "
                    "VALUES (:k, 'ok', :t, :t, '{}')", k=kind, t=finished)  # fmt: skip


def _daily(engine: Engine, day: dt.date, backlog_after: int) -> None:
    execute(engine, "INSERT INTO recovery_daily (day, backlog_before, backlog_after, matched_out, "
                    "new_in, processed, failed, updated_at) VALUES (:d, 0, :b, 0, 0, 0, 0, :t)",
            d=day, b=backlog_after, t=NOW)  # fmt: skip


def test_identity_rules_raise_once_and_resolve_when_the_leads_link(
    world: Engine, tmp_path: Path
) -> None:
    later = NOW + dt.timedelta(days=6)  # L3 37 days old, L5 9 days, L4 7 days
    first = evaluate(world, SETTINGS, now=later, job_kinds=[])
    got = _open(world)
    assert set(got) == {("over_24h_no_identity", "leads"), ("over_7d_unresolved", "leads")}
    assert got[("over_24h_no_identity", "leads")]["detail"]["leads"] == 3
    assert got[("over_24h_no_identity", "leads")]["detail"]["oldest"] == ["L3", "L5", "L4"]
    assert got[("over_7d_unresolved", "leads")]["detail"] == {
        "leads": 3, "days": 7, "oldest": ["L3", "L5", "L4"]}  # fmt: skip
    assert (first.raised, first.resolved, len(first.open)) == (2, 0, 2)

    # Rerun: nothing new, the same open rows.
    again = evaluate(world, SETTINGS, now=later, job_kinds=[])
    assert (again.raised, again.resolved) == (0, 0)
    assert {k: v["id"] for k, v in _open(world).items()} == {k: v["id"] for k, v in got.items()}

    # L3 gets its driver: counts refresh in place, the alert stays the same row.
    load(world, tmp_path, "drivers", [driver("D3", first_name="Nadie", phone="955999888")])
    decide(
        world,
        {
            "drivers/D3": person_key_for("drivers", "D3"),
            "leads/L3": person_key_for("drivers", "D3"),
        },
    )
    evaluate(world, SETTINGS, now=later, job_kinds=[])
    now_open = _open(world)
    assert now_open[("over_24h_no_identity", "leads")]["detail"]["leads"] == 2
    assert (
        now_open[("over_24h_no_identity", "leads")]["id"]
        == got[("over_24h_no_identity", "leads")]["id"]
    )

    # Every lead linked: both clear.
    load(
        world,
        tmp_path,
        "drivers",
        [driver("D4", first_name="Otro"), driver("D5", first_name="Tercero")],
    )
    decide(
        world,
        {
            "drivers/D4": person_key_for("drivers", "D4"),
            "leads/L4": person_key_for("drivers", "D4"),
            "drivers/D5": person_key_for("drivers", "D5"),
            "leads/L5": person_key_for("drivers", "D5"),
        },
    )
    cleared = evaluate(world, SETTINGS, now=later, job_kinds=[])
    assert (cleared.raised, cleared.resolved, cleared.open) == (0, 2, [])
    assert rows(world, "SELECT count(*) FROM alert WHERE resolved_at IS NOT NULL")[0][0] == 2


def test_job_stale_per_kind(world: Engine) -> None:
    # build() recorded a successful match at NOW; nothing else ever ran.
    evaluate(world, SETTINGS, now=NOW + dt.timedelta(hours=1), job_kinds=KINDS_WATCHED)
    stale = {s: v for (k, s), v in _open(world).items() if k == "job_stale"}
    assert set(stale) == {"queue_seed", "recover", "claims"}
    assert stale["claims"]["severity"] == "critical"  # never ran
    assert stale["claims"]["detail"]["last_success"] is None

    for kind in ("queue_seed", "recover", "claims"):
        _job_ok(world, kind, NOW + dt.timedelta(hours=1))
    result = evaluate(world, SETTINGS, now=NOW + dt.timedelta(hours=2), job_kinds=KINDS_WATCHED)
    assert result.resolved == 3
    assert not [k for k in _open(world) if k[0] == "job_stale"]

    # 24 hours without a successful match: stale again, with when it last succeeded.
    evaluate(world, SETTINGS, now=NOW + dt.timedelta(hours=24, minutes=1), job_kinds=KINDS_WATCHED)
    stale = {s: v for (k, s), v in _open(world).items() if k == "job_stale"}
    assert set(stale) == {"match"}
    assert stale["match"]["severity"] == "warning"
    assert stale["match"]["detail"]["last_success"] == NOW.isoformat()


def test_a_failed_run_does_not_count_as_fresh(world: Engine) -> None:
    execute(world, "INSERT INTO job_run (kind, status, started_at, finished_at, counts, error) "
                   "VALUES ('claims', 'failed', :t, :t, '{}', 'boom')", t=NOW)  # fmt: skip
    evaluate(world, SETTINGS, now=NOW, job_kinds=["claims"])
    assert ("job_stale", "claims") in _open(world)


def test_backlog_growing_needs_a_rise_at_every_step(world: Engine) -> None:
    today = NOW.date()
    _daily(world, today - dt.timedelta(days=5), 1)  # outside the 3-day window
    _daily(world, today - dt.timedelta(days=2), 10)
    evaluate(world, SETTINGS, now=NOW, job_kinds=[])
    assert ("backlog_growing", "kpi_red") not in _open(world)  # one row: no trend

    _daily(world, today - dt.timedelta(days=1), 12)
    _daily(world, today, 15)
    evaluate(world, SETTINGS, now=NOW, job_kinds=[])
    alert = _open(world)[("backlog_growing", "kpi_red")]
    assert alert["detail"]["backlog"] == [10, 12, 15] and alert["detail"]["rise"] == 5

    execute(world, "UPDATE recovery_daily SET backlog_after = 11 WHERE day = :d", d=today)
    result = evaluate(world, SETTINGS, now=NOW, job_kinds=[])
    assert ("backlog_growing", "kpi_red") not in _open(world) and result.resolved == 1


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-11-10", None),  # deadlines 12-12 and 12-14: more than 7 days away
        ("2026-12-06", {"leads": 1, "at_stake": 0.0, "until": "2026-12-13", "days": 7,
                        "nearest": ["LR2"]}),
        ("2026-12-08", {"leads": 2, "at_stake": 60.0, "until": "2026-12-15", "days": 7,
                        "nearest": ["LR2", "LR1"]}),
        ("2026-12-13", {"leads": 1, "at_stake": 60.0, "until": "2026-12-20", "days": 7,
                        "nearest": ["LR1"]}),  # LR2's claims expired: lost
        ("2026-12-15", None),  # both expired
    ],
)  # fmt: skip
def test_recoverable_expiring_names_the_money_about_to_be_lost(
    engine: Engine, tmp_path: Path, day: str, expected: dict[str, Any] | None
) -> None:
    segments_world(engine, tmp_path)
    now = dt.datetime.fromisoformat(day).replace(hour=12)
    evaluate(engine, SEGMENT_SETTINGS, now=now, job_kinds=[])
    got = _open(engine).get(("recoverable_expiring", "recoverable"))
    assert (got and got["detail"]) == expected
    red = _open(engine)[("over_24h_no_identity", "leads")]["detail"]
    assert sum(v["leads"] for v in red["segments"].values()) == red["leads"]


def test_stale_kinds_follow_the_watched_folder() -> None:
    assert stale_kinds(SETTINGS) == KINDS_WATCHED
    assert stale_kinds(SETTINGS, watching=True) == ["ingest", *KINDS_WATCHED]
    assert set(KINDS) == {"over_24h_no_identity", "over_7d_unresolved", "job_stale",
                          "backlog_growing", "recoverable_expiring",
                          "unlinked_activity_growing"}  # fmt: skip


def test_cli_json_and_the_run_is_recorded(world: Engine, db_url: str) -> None:
    result = CliRunner().invoke(app, ["--db", db_url, "alerts", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"open", "raised", "resolved"}
    kinds = {(a["kind"], a["subject"]) for a in data["open"]}
    # Run with the real clock, long after NOW: the unlinked leads are old, match is stale.
    assert {("over_24h_no_identity", "leads"), ("over_7d_unresolved", "leads"),
            ("job_stale", "match")} <= kinds  # fmt: skip
    assert data["raised"] == len(data["open"])
    runs = rows(world, "SELECT status FROM job_run WHERE kind = 'alerts'")
    assert [r[0] for r in runs] == ["ok"]
