"""GET /api/unmatched: reason, age, risk (gap analysis's own) and source filters, on the API
world (tests/web/api_world.py), SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)

from leadlink.pipeline.money.gap import gap_report
from leadlink.settings import Settings

UNMATCHED = {"RL1", "RL2", "RL3", "LF1", "LX1", "LX2", "LX3"}


def pks(items: list[dict[str, Any]]) -> set[str]:
    return {i["source_pk"] for i in items}


def test_every_unmatched_record_with_its_reason_and_age(api: Get, engine: Engine) -> None:
    items = all_items(api, "/api/unmatched")
    stored = rows(engine, "SELECT sr.source_pk, u.reason, u.band, sr.event_date FROM unmatched u "
                  "JOIN source_record sr ON sr.id = u.record_id")  # fmt: skip
    assert pks(items) == {r[0] for r in stored} == UNMATCHED
    for item in items:
        _, reason, band, day = next(r for r in stored if r[0] == item["source_pk"])
        assert (item["reason"], item["band"], item["event_date"]) == (reason, band, str(day))
        assert item["age_days"] == (NOW.date() - dt.date.fromisoformat(str(day))).days
    # oldest first by default
    assert [i["age_days"] for i in items] == sorted((i["age_days"] for i in items), reverse=True)


@pytest.mark.parametrize("risk", ["high", "medium", "low"])
def test_risk_is_gap_analysis_risk(api: Get, engine: Engine, risk: str) -> None:
    gap = gap_report(engine, Settings(db="sqlite://"), now=NOW, risks=[risk])
    expected = {lead["lead_id"] for lead in gap["leads"]} & UNMATCHED
    items = all_items(api, "/api/unmatched", risk=risk)
    assert pks(items) == expected
    assert all(i["risk"] == risk for i in items)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"risk": "high"}, {"RL1", "RL2", "RL3", "LF1", "LX1", "LX3"}),
        ({"risk": "low"}, {"LX2"}),
        ({"reason": "NO_CANDIDATES"}, {"LF1", "LX1", "LX2"}),
        ({"reason": "MULTIPLE_CANDIDATES"}, {"RL3"}),
        ({"reason": "ERROR"}, set()),
        ({"min_age_days": 30}, {"RL1", "RL2", "RL3"}),  # RL3 is exactly 30 days old
        ({"max_age_days": 7}, {"LX2", "LX3"}),
        ({"min_age_days": 8, "max_age_days": 28}, {"LF1", "LX1"}),
        ({"min_age_days": 10, "max_age_days": 5}, set()),
        ({"source": "leads"}, UNMATCHED),
        ({"source": "drivers"}, set()),
        ({"risk": "high", "reason": "WEAK_MATCH_ONLY", "min_age_days": 32}, {"RL2"}),
    ],
)
def test_filters(api: Get, params: dict[str, Any], expected: set[str]) -> None:
    assert pks(all_items(api, "/api/unmatched", **params)) == expected
    assert api("/api/unmatched", params)["total"] == len(expected)


def test_candidates_come_with_the_record(api: Get) -> None:
    rl3 = next(i for i in all_items(api, "/api/unmatched") if i["source_pk"] == "RL3")
    assert len(rl3["candidates"]) == 2
    assert {c["rule"] for c in rl3["candidates"]} == {"brand_model_name"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": "LOST"}, "reason"),
        ({"risk": "extreme"}, "risk"),
        ({"source": "trips"}, "source"),
        ({"min_age_days": -1}, "min_age_days"),
        ({"max_age_days": "ten"}, "max_age_days"),
        ({"max_age_days": 10**9}, "max_age_days"),
        ({"sort": "reason"}, "sort"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/unmatched", params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/unmatched").status_code == 401
