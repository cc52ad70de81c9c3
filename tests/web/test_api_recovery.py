"""GET /api/recovery/runs|attempts|daily|queue: the recovery loop as its services and
`leadlink queue status --json` see it, on the API world, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.pipeline.claims_world import SETTINGS
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.money.impact import impact
from leadlink.pipeline.money.recovery import queue_status


def test_runs_carry_their_counts_and_attempts(api: Get, engine: Engine) -> None:
    runs = all_items(api, "/api/recovery/runs")
    stored = rows(engine, "SELECT id, status, counts FROM job_run WHERE kind = 'recover'")
    assert [r["id"] for r in runs] == sorted((r[0] for r in stored), reverse=True)
    run = runs[0]
    counts = stored[0][2] if isinstance(stored[0][2], dict) else json.loads(stored[0][2])
    assert run["counts"] == counts and run["status"] == "ok" and run["kind"] == "recover"
    assert run["attempts"] == {"matched": 1, "unmatched": 6, "failed": 0}
    assert counts["processed"] == sum(run["attempts"].values()) == 7
    assert (counts["matched"], counts["unmatched"]) == (1, 6)
    assert run["duration_s"] is not None and run["duration_s"] >= 0
    assert all_items(api, "/api/recovery/runs", status="failed") == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"RL1", "RL2", "RL3", "LF1", "LX1", "LX3", "LR1"}),
        ({"outcome": "matched"}, {"LR1"}),
        ({"outcome": "failed"}, set()),
        ({"lead_id": "LX1"}, {"LX1"}),
        ({"lead_id": "LX"}, set()),  # an exact lead id, not a prefix
        ({"outcome": "unmatched", "lead_id": "LR1"}, set()),
    ],
)
def test_attempts(api: Get, params: dict[str, Any], expected: set[str]) -> None:
    items = all_items(api, "/api/recovery/attempts", **params)
    assert {i["lead_id"] for i in items} == expected and len(items) == len(expected)


def test_attempts_of_one_run_and_what_they_found(api: Get, engine: Engine) -> None:
    run_id = all_items(api, "/api/recovery/runs")[0]["id"]
    items = all_items(api, "/api/recovery/attempts", run_id=run_id)
    assert len(items) == rows(engine, "SELECT count(*) FROM recovery_attempt")[0][0] == 7
    matched = next(i for i in items if i["outcome"] == "matched")
    person = rows(engine, "SELECT l.person_key FROM link l JOIN source_record sr ON "
                  "sr.id = l.record_id AND l.active WHERE sr.source_pk = 'RD5'")[0][0]  # fmt: skip
    assert (matched["lead_id"], matched["person_key"]) == ("LR1", person)
    reasons = {i["lead_id"]: i["reason"] for i in items if i["outcome"] == "unmatched"}
    assert reasons["LX3"] == "MISSING_IDENTIFIERS" and reasons["RL3"] == "MULTIPLE_CANDIDATES"
    assert all_items(api, "/api/recovery/attempts", run_id=run_id + 1000) == []


def test_daily_rows_are_impacts_days(api: Get, engine: Engine) -> None:
    days = [{k: v for k, v in d.items() if k != "updated_at"}
            for d in all_items(api, "/api/recovery/daily")]  # fmt: skip
    assert days == impact(engine, SETTINGS, now=NOW, days=7)["days"]
    assert days[0]["day"] == "2026-11-01" and days[0]["matched_out"] == 1


@pytest.mark.parametrize(
    ("params", "n"),
    [
        ({"date_from": "2026-11-01", "date_to": "2026-11-01"}, 1),
        ({"date_from": "2026-11-02"}, 0),
        ({"date_to": "2026-10-31"}, 0),
        ({"date_from": "2026-10-01", "date_to": "2026-11-30"}, 1),
    ],
)
def test_daily_date_range(api: Get, params: dict[str, str], n: int) -> None:
    assert api("/api/recovery/daily", params)["total"] == n


def test_queue_is_queue_status(api: Get, engine: Engine, db_url: str) -> None:  # noqa: F811
    body = api("/api/recovery/queue")
    assert body == queue_status(engine, now=NOW)
    cli = CliRunner().invoke(cli_app, ["--db", db_url, "queue", "status", "--json"])
    assert body == json.loads(cli.output)  # nothing is due whatever the clock
    assert body["counts"]["unmatched"] == 6 and body["counts"]["matched"] == 1


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/recovery/runs", {"status": "done"}, "status"),
        ("/api/recovery/runs", {"limit": 0}, "limit"),
        ("/api/recovery/attempts", {"outcome": "lost"}, "outcome"),
        ("/api/recovery/attempts", {"run_id": "x"}, "run_id"),
        ("/api/recovery/attempts", {"run_id": 0}, "run_id"),
        ("/api/recovery/daily", {"date_from": "2026-02-30"}, "date_from"),
        ("/api/recovery/daily", {"date_to": "today"}, "date_to"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    api: Get, path: str, params: dict[str, Any], field: str
) -> None:
    assert field in error_fields(api(path, params, status=422))


@pytest.mark.parametrize("path", ["runs", "attempts", "daily", "queue"])
def test_without_a_token_is_401(client: TestClient, path: str) -> None:
    assert client.get(f"/api/recovery/{path}").status_code == 401
