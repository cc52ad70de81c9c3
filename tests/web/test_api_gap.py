"""GET /api/gap equals `leadlink gap --json` (same filters, paged), GET /api/funnel equals the
funnel service and the claims report's stage counts; on SQLite and PostgreSQL."""

from __future__ import annotations

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
    api_fixture,
    error_fields,
    pinned_app_fixture,
    world_db_url,
)
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.money.claims_report import report
from leadlink.pipeline.money.funnel import funnel
from leadlink.pipeline.money.gap import gap_report


def cli_gap(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", db_url, "gap", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"reason": ["no_identity"]},
        {"risk": ["high"]},
        {"reason": ["no_identity", "resolved"], "risk": ["low", "medium"]},
        {"reason": ["inconsistent_origin"]},
    ],
)
def test_gap_is_the_cli_gap(
    api: Get,
    app: FastAPI,
    db_url: str,
    filters: dict[str, list[str]],  # noqa: F811
) -> None:
    app.dependency_overrides.clear()  # the CLI reads the real clock: so does the API here
    args = [a for key, values in filters.items() for v in values for a in (f"--{key}", v)]
    expected = cli_gap(db_url, *args)
    body = api("/api/gap", {**filters, "limit": 500})
    assert body["summary"] == expected["summary"]
    assert body["leads"] == expected["leads"]
    assert body["total"] == len(expected["leads"])


def test_gap_at_the_worlds_date(api: Get, engine: Engine) -> None:
    body = api("/api/gap", {"limit": 500})
    said = gap_report(engine, SETTINGS, now=NOW)
    assert body["summary"] == said["summary"] and body["leads"] == said["leads"]
    s = body["summary"]
    assert (s["total"], s["resolved"], s["no_identity"], s["high_risk"]) == (15, 7, 8, 6)


@pytest.mark.parametrize(("limit", "offset"), [(4, 0), (4, 4), (4, 12), (3, 14), (5, 20)])
def test_gap_pages(api: Get, engine: Engine, limit: int, offset: int) -> None:
    leads = gap_report(engine, SETTINGS, now=NOW)["leads"]
    body = api("/api/gap", {"limit": limit, "offset": offset})
    assert body["leads"] == leads[offset : offset + limit]
    assert (body["total"], body["limit"], body["offset"]) == (len(leads), limit, offset)


def test_funnel(api: Get, engine: Engine) -> None:
    body = api("/api/funnel")
    assert body == funnel(engine, SETTINGS, now=NOW)
    stages = report(engine, SETTINGS, now=NOW)["funnel"]
    assert {k: v["leads"] for k, v in body["stages"].items()} == stages
    assert sum(v["leads"] for v in body["stages"].values()) == body["leads"] == 15


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": "lost"}, "reason"),
        ({"reason": ["resolved", "nope"]}, "reason"),
        ({"risk": "extreme"}, "risk"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/gap", params, status=422))


@pytest.mark.parametrize("path", ["/api/gap", "/api/funnel"])
def test_without_a_token_is_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
