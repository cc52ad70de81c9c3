"""GET /api/review and /api/review/{id}: the queue as `leadlink review list --json` pages it,
each item with every candidate of its record side by side, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.review_factories import SETTINGS
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)

from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.explain import explain


def item_of(engine: Engine, lead_id: str, driver_id: str) -> int:
    found = rows(
        engine,
        "SELECT ri.id FROM review_item ri "
        "JOIN source_record sr ON sr.id = ri.record_id "
        "JOIN link l ON l.person_key = ri.person_key AND l.active "
        "JOIN source_record d ON d.id = l.record_id AND d.source = 'drivers' "
        "WHERE sr.source_pk = :lead AND d.source_pk = :drv",
        lead=lead_id,
        drv=driver_id,
    )
    return int(found[0][0])  # fmt: skip


@pytest.mark.parametrize(("limit", "offset"), [(50, 0), (2, 0), (2, 2), (1, 3), (5, 10)])
def test_pages_equal_review_list(api: Get, engine: Engine, limit: int, offset: int) -> None:
    body = api("/api/review", {"limit": limit, "offset": offset})
    said = review.list_items(engine, SETTINGS, limit=limit, offset=offset, now=NOW)
    assert [{k: v for k, v in i.items() if k != "candidates"} for i in body["items"]] == said[
        "items"
    ]
    assert (body["total"], body["limit"], body["offset"], body["status"]) == (
        said["total"], limit, offset, "open")  # fmt: skip


def test_the_queue_is_nearest_deadline_first(api: Get) -> None:
    items = all_items(api, "/api/review")
    assert [i["record"]["source_pk"] for i in items] == ["RL2", "RL1", "RL3", "RL3"]
    assert [i["deadline"] for i in items] == ["2026-10-13", "2026-10-15", "2026-10-16",
                                              "2026-10-16"]  # fmt: skip
    assert items[0]["days_left"] == -19


def test_each_item_shows_every_candidate_of_its_record(api: Get, engine: Engine) -> None:
    items = all_items(api, "/api/review")
    rl3 = [i for i in items if i["record"]["source_pk"] == "RL3"]
    for item in rl3:
        cands = item["candidates"]
        assert {c["id"] for c in cands} == {i["id"] for i in rl3}
        assert {r["source_pk"] for c in cands for r in c["records"]} == {"RD3", "RD4"}
        for c in cands:
            assert c["rule_label"].startswith("same car brand and model")
            assert c["evidence"]["reason"] == "MULTIPLE_CANDIDATES"
            assert c["records"][0]["car"] == "Hyundai Accent"
    rl1 = next(i for i in items if i["record"]["source_pk"] == "RL1")
    assert [c["id"] for c in rl1["candidates"]] == [rl1["id"]]
    assert rl1["candidates"][0]["records"][0]["source_pk"] == "RD1"


def test_status_filter_follows_decisions(api: Get, engine: Engine) -> None:
    rejected = item_of(engine, "RL3", "RD4")
    review.reject(engine, SETTINGS, rejected, actor="otto", note="other Juan", now=NOW)
    assert [i["id"] for i in all_items(api, "/api/review", status="rejected")] == [rejected]
    still_open = all_items(api, "/api/review")
    assert rejected not in {i["id"] for i in still_open} and len(still_open) == 3
    assert len(all_items(api, "/api/review", status="all")) == 4
    assert all_items(api, "/api/review", status="accepted") == []
    # the rejected pair still shows beside its open sibling, with its new status
    sibling = next(i for i in still_open if i["record"]["source_pk"] == "RL3")
    assert {c["id"]: c["status"] for c in sibling["candidates"]}[rejected] == "rejected"


def test_one_item_with_its_record_explained(api: Get, engine: Engine) -> None:
    item_id = item_of(engine, "RL3", "RD3")
    body = api(f"/api/review/{item_id}")
    listed = next(i for i in all_items(api, "/api/review") if i["id"] == item_id)
    for key in ("id", "status", "record", "person_key", "rule", "score", "deadline", "evidence",
                "candidates"):  # fmt: skip
        assert body[key] == listed[key], key
    assert body["explanation"] == explain(engine, "leads", "RL3")
    assert body["explanation"]["unmatched"]["reason"] == "MULTIPLE_CANDIDATES"


def test_unknown_item_is_404(api: Get) -> None:
    assert api("/api/review/999999", status=404)["detail"] == "no review item 999999"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/review", {"status": "pending"}, "status"),
        ("/api/review", {"limit": 0}, "limit"),
        ("/api/review", {"offset": -3}, "offset"),
        ("/api/review/abc", {}, "item_id"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    api: Get, path: str, params: dict[str, Any], field: str
) -> None:
    assert field in error_fields(api(path, params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/review").status_code == 401
    assert client.get("/api/review/1").status_code == 401
