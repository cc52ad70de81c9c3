"""GET /api/claims (milestone, status, ISO week, paged) and /api/claims/report, equal to the
claims report service and to `leadlink claims --json`; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi import FastAPI
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
    world_db_url,
)
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.money.claims_report import report

SHARED = ("person_key", "milestone", "lead_id", "lead_date", "reached_on", "amount", "status",
          "payment", "age_days")  # fmt: skip


def rows_of(engine: Engine) -> list[dict[str, Any]]:
    """The report's claim rows (`leadlink claims --rows --json`), dates as ISO text."""
    out = report(engine, SETTINGS, now=NOW, with_rows=True)["rows"]
    for r in out:
        r["lead_date"], r["reached_on"] = str(r["lead_date"]), str(r["reached_on"])
    return out


def key(row: dict[str, Any]) -> tuple[str, str]:
    return row["person_key"], row["milestone"]


def test_every_claim_as_the_report_lists_it(api: Get, engine: Engine) -> None:
    items = all_items(api, "/api/claims")
    expected = rows_of(engine)
    assert len(items) == len(expected) == 11
    assert sorted(({k: i[k] for k in SHARED} for i in items), key=key) == sorted(
        ({k: r[k] for k in SHARED} for r in expected), key=key)  # fmt: skip
    assert [i["reached_on"] for i in items] == sorted((i["reached_on"] for i in items),
                                                      reverse=True)  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        {"milestone": "M1"},
        {"milestone": "M25"},
        {"status": "paid"},
        {"status": "generated"},
        {"status": "expected", "milestone": "M5"},
        {"status": "expired"},
    ],
)
def test_milestone_and_status_filters(api: Get, engine: Engine, params: dict[str, str]) -> None:
    expected = [r for r in rows_of(engine) if all(r[k] == v for k, v in params.items())]
    items = all_items(api, "/api/claims", **params)
    assert sorted(map(key, items)) == sorted(map(key, expected))
    summary = report(engine, SETTINGS, now=NOW, **params)["claims"]
    assert api("/api/claims", params)["total"] == summary["total"] == len(expected)


@pytest.mark.parametrize(
    ("week", "monday"),
    [
        ("2026-W40", "2026-09-28"),
        ("2026-W42", "2026-10-12"),
        ("2026-10-12", "2026-10-12"),  # the week's Monday
        ("2026-W43", "2026-10-19"),
        ("2026-W45", "2026-11-02"),
    ],
)
def test_week_filter(api: Get, engine: Engine, week: str, monday: str) -> None:
    start = dt.date.fromisoformat(monday)
    expected = [
        r
        for r in rows_of(engine)
        if start <= dt.date.fromisoformat(r["reached_on"]) < start + dt.timedelta(7)
    ]
    items = all_items(api, "/api/claims", week=week)
    assert sorted(map(key, items)) == sorted(map(key, expected))  # fmt: skip


def test_week_counts_add_up(api: Get, engine: Engine) -> None:
    weeks = {"2026-W40", "2026-W41", "2026-W42", "2026-W43"}
    assert sum(api("/api/claims", {"week": w})["total"] for w in weeks) == 11


def test_claims_of_one_person(api: Get, engine: Engine) -> None:
    person = next(r["person_key"] for r in rows_of(engine) if r["lead_id"] == "LB1")
    items = all_items(api, "/api/claims", person_key=person)
    assert sorted(i["milestone"] for i in items) == ["M1", "M25", "M5"]
    assert {i["status"] for i in items} == {"generated", "rejected"}


@pytest.mark.parametrize(
    "params",
    [{}, {"milestone": "M5"}, {"status": "generated"}, {"milestone": "M1", "status": "paid"}],
)
def test_report_is_the_services(api: Get, engine: Engine, params: dict[str, str]) -> None:
    assert api("/api/claims/report", params) == json.loads(
        json.dumps(report(engine, SETTINGS, now=NOW, **params), default=str))  # fmt: skip


def test_report_is_the_clis(api: Get, app: FastAPI, db_url: str) -> None:  # noqa: F811
    """`leadlink claims --json` recomputes claims at the real date, then reports them: the
    API then reports the same (a GET recomputes nothing)."""
    app.dependency_overrides.clear()
    result = CliRunner().invoke(cli_app, ["--db", db_url, "claims", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    body = api("/api/claims/report")
    for part in ("claims", "payments", "funnel", "quarantined"):
        assert body[part] == cli[part], part


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"week": "2026-W54"}, "week"),
        ({"week": "2026-W00"}, "week"),
        ({"week": "2026-10-13"}, "week"),  # a Tuesday
        ({"week": "2026-13-02"}, "week"),
        ({"week": "last week"}, "week"),
        ({"week": "26-W45"}, "week"),
        ({"milestone": "M2"}, "milestone"),
        ({"status": "owed"}, "status"),
        ({"sort": "size"}, "sort"),
        ({"person_key": "p" * 37}, "person_key"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/claims", params, status=422))


def test_report_bad_parameters(api: Get) -> None:
    assert "milestone" in error_fields(api("/api/claims/report", {"milestone": "M9"}, status=422))


@pytest.mark.parametrize("path", ["/api/claims", "/api/claims/report"])
def test_without_a_token_is_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
