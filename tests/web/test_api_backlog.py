"""GET /api/backlog equals `leadlink backlog --json` (same filter, paged) and the segments
service at the world's date; on SQLite and PostgreSQL."""

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
from leadlink.pipeline.money.segments import backlog_segments
from leadlink.store.backlog import count_kpi_red
from leadlink.store.db import transaction


def cli_backlog(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", db_url, "backlog", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("segments", [[], ["lost"], ["recoverable", "waiting"]])
def test_backlog_is_the_cli_backlog(
    api: Get,
    app: FastAPI,  # noqa: F811
    db_url: str,
    segments: list[str],
) -> None:
    app.dependency_overrides.clear()  # the CLI reads the real clock: so does the API here
    args = [a for s in segments for a in ("--segment", s)]
    expected = cli_backlog(db_url, *args, "--limit", "500")
    body = api("/api/backlog", {"segment": segments, "limit": 500})
    assert body["segments"] == expected["segments"]
    assert body["items"] == expected["leads"]
    assert (body["kpi_red"], body["at_stake"], body["total"]) == (
        expected["kpi_red"], expected["at_stake"], expected["total"],
    )  # fmt: skip


def test_backlog_at_the_worlds_date(api: Get, engine: Engine) -> None:
    body = api("/api/backlog", {"limit": 500})
    said = backlog_segments(engine, SETTINGS, now=NOW, limit=500)
    assert body["items"] == said["leads"] and body["segments"] == said["segments"]
    with transaction(engine) as session:
        red = count_kpi_red(session, NOW, SETTINGS.kpi_grace_days)
    assert body["kpi_red"] == red == sum(v["leads"] for v in body["segments"].values())


@pytest.mark.parametrize(("limit", "offset"), [(3, 0), (3, 3), (2, 5)])
def test_backlog_pages(api: Get, engine: Engine, limit: int, offset: int) -> None:
    leads = backlog_segments(engine, SETTINGS, now=NOW, limit=500)["leads"]
    body = api("/api/backlog", {"limit": limit, "offset": offset})
    assert body["items"] == leads[offset : offset + limit]
    assert (body["total"], body["limit"], body["offset"]) == (len(leads), limit, offset)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"segment": "stuck"}, "segment"), ({"limit": 0}, "limit"), ({"sgement": "lost"}, "sgement")],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/backlog", params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/backlog").status_code == 401
