"""GET /api/alerts: the alerts `leadlink alerts` raised, open (firing) by default, filtered by
state, kind and severity; on the API world, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
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
    world_db_url,
)

from leadlink.pipeline.operations.alerts import evaluate

# What the world's alerts evaluation raised at NOW: the backlog, the old unresolved leads, and
# ingest, a worker job that never ran as a job (the world loads its files by hand).
RAISED = {("over_24h_no_identity", "leads", "warning"), ("over_7d_unresolved", "leads", "critical"),
          ("job_stale", "ingest", "critical")}  # fmt: skip


def kinds(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(i["kind"], i["subject"], i["severity"]) for i in items}


def test_open_alerts_are_what_the_evaluation_left_open(api: Get, engine: Engine) -> None:
    items = all_items(api, "/api/alerts")
    assert kinds(items) == RAISED
    assert all(i["open"] and i["resolved_at"] is None for i in items)
    backlog = next(i for i in items if i["kind"] == "over_24h_no_identity")
    assert backlog["detail"]["leads"] == 6 and backlog["raised_at"] == NOW.isoformat()


def test_states_after_an_alert_cleared(api: Get, engine: Engine) -> None:
    # Evaluated again watching no job kind: job_stale no longer fires and is resolved.
    later = NOW + dt.timedelta(hours=1)
    result = evaluate(engine, SETTINGS, now=later, job_kinds=[])
    assert result.resolved == 1
    assert kinds(all_items(api, "/api/alerts")) == RAISED - {("job_stale", "ingest",
                                                              "critical")}  # fmt: skip
    resolved = all_items(api, "/api/alerts", state="resolved")
    assert [(i["kind"], i["resolved_at"], i["open"]) for i in resolved] == [
        ("job_stale", later.isoformat(), False)]  # fmt: skip
    assert kinds(all_items(api, "/api/alerts", state="all")) == RAISED
    assert api("/api/alerts", {"state": "all"})["total"] == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "job_stale"}, {("job_stale", "ingest", "critical")}),
        ({"severity": "critical"}, {k for k in RAISED if k[2] == "critical"}),
        ({"severity": "warning", "kind": "over_24h_no_identity"},
         {("over_24h_no_identity", "leads", "warning")}),
        ({"kind": "backlog_growing"}, set()),
        ({"kind": "job"}, set()),  # a kind, not a prefix
    ],
)  # fmt: skip
def test_filters(api: Get, params: dict[str, str], expected: set[tuple[str, str, str]]) -> None:
    assert kinds(all_items(api, "/api/alerts", **params)) == expected


def test_newest_first_and_pages(api: Get) -> None:
    items = all_items(api, "/api/alerts")
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    assert api("/api/alerts", {"limit": 1, "offset": 1})["items"] == items[1:2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "firing"}, "state"),
        ({"severity": "info"}, "severity"),
        ({"kind": "k" * 41}, "kind"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/alerts", params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/alerts").status_code == 401
