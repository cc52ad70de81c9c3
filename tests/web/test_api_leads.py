"""GET /api/leads and /api/leads/{lead_id} on the API world (tests/web/api_world.py), on
SQLite and PostgreSQL: states, filters and explanations equal what the services say."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)

from leadlink.pipeline.resolution.explain import explain

ALL_LEADS = {"LA1", "LB1", "LB2", "LC1", "LD1", "LH1", "LF1", "RL1", "RL2", "RL3", "LX1", "LX2",
             "LX3", "LR1", "LP1"}  # fmt: skip


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["lead_id"] for i in items}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL_LEADS),
        ({"status": "linked"}, {"LA1", "LB1", "LB2", "LC1", "LD1", "LH1", "LR1"}),
        ({"status": "review"}, {"RL1", "RL2", "RL3"}),
        ({"status": "unmatched"}, {"LF1", "LX1", "LX2", "LX3"}),
        ({"status": "pending"}, {"LP1"}),
        ({"reason": "NO_CANDIDATES"}, {"LF1", "LX1", "LX2"}),
        ({"reason": "WEAK_MATCH_ONLY"}, {"RL1", "RL2"}),
        ({"reason": "MULTIPLE_CANDIDATES", "status": "review"}, {"RL3"}),
        ({"reason": "MISSING_IDENTIFIERS"}, {"LX3"}),
        ({"reason": "ERROR"}, set()),
        ({"lead_date_from": "2026-10-20"}, {"LD1", "LX1", "LX2", "LX3", "LP1"}),
        ({"lead_date_from": "2026-10-20", "lead_date_to": "2026-10-25"}, {"LD1", "LX1", "LX3"}),
        ({"lead_date_to": "2026-09-30"}, {"RL2"}),
        ({"q": "lh"}, {"LH1"}),  # a lead id prefix, any case
        ({"q": "LX"}, {"LX1", "LX2", "LX3"}),
        ({"q": "rojas"}, {"LB1", "LB2", "LH1"}),  # a name word
        ({"q": "ROJAS juan"}, {"LB1", "LB2", "LH1"}),  # every word, any order, any case
        ({"q": "juan mamani"}, {"RL3"}),
        ({"q": "%"}, set()),  # LIKE wildcards are plain characters
        ({"q": "_B1"}, set()),
        ({"q": "nadie", "status": "unmatched", "lead_date_to": "2026-10-25"}, {"LX1"}),
    ],
)
def test_filters_select_the_right_leads(
    api: Get, params: dict[str, str], expected: set[str]
) -> None:
    items = all_items(api, "/api/leads", **params)
    assert ids(items) == expected
    assert len(items) == len(expected)  # no lead twice
    assert api("/api/leads", params)["total"] == len(expected)


def test_each_lead_says_what_explain_says(api: Get, engine: Engine) -> None:
    for item in all_items(api, "/api/leads"):
        said = explain(engine, "leads", item["lead_id"])
        status = {"review": "unmatched"}.get(item["status"], item["status"])
        assert said["status"] == status, item
        if status == "linked":
            link = said["link"]
            assert (item["person_key"], item["rule"], item["score"], item["confidence"]) == (
                link["person_key"], link["rule"], link["score"], link["confidence"])  # fmt: skip
            assert item["decision"] == "link" and item["reason"] is None
        elif status == "unmatched":
            um = said["unmatched"]
            assert (item["reason"], item["band"]) == (um["reason"], um["band"])
            assert item["decision"] == "unmatched" and item["person_key"] is None
            # the best candidate's rule and score, as the online path answers
            best = said["candidates"][0] if said["candidates"] else {}
            assert (item["rule"], item["score"]) == (best.get("rule"), best.get("score"))
        else:
            assert item["decision"] == "pending"


def test_review_status_means_an_open_review_item(api: Get, engine: Engine) -> None:
    open_items = rows(
        engine,
        "SELECT DISTINCT sr.source_pk FROM review_item ri "
        "JOIN source_record sr ON sr.id = ri.record_id WHERE ri.status = 'open'",
    )
    assert ids(all_items(api, "/api/leads", status="review")) == {r[0] for r in open_items}


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("lead_id", lambda i: i["lead_id"], False),
        ("-lead_id", lambda i: i["lead_id"], True),
        ("lead_date", lambda i: (i["lead_date"], i["lead_id"]), False),
    ],
)
def test_sort_orders(api: Get, sort: str, key: Any, reverse: bool) -> None:
    items = all_items(api, "/api/leads", sort=sort)
    assert items == sorted(items, key=key, reverse=reverse)


def test_default_order_is_newest_lead_first(api: Get) -> None:
    dates = [i["lead_date"] for i in all_items(api, "/api/leads")]
    assert dates == sorted(dates, reverse=True)


def test_one_linked_lead(api: Get, engine: Engine) -> None:
    body = api("/api/leads/LB2")
    said = explain(engine, "leads", "LB2")
    assert body["explanation"] == said
    assert {k: body[k] for k in ("lead_id", "person_key", "decision", "rule", "score", "reason")} \
        == {"lead_id": "LB2", "person_key": said["link"]["person_key"], "decision": "link",
            "rule": "phone_exact", "score": said["link"]["score"], "reason": None}  # fmt: skip
    assert body["status"] == "linked" and body["lead_date"] == "2026-10-10"
    assert body["lead"]["first_name"] == "JUAN CARLOS" and body["lead"]["status"] == "new"
    assert body["person"]["records"] == said["person_records"]
    assert {r["source_pk"] for r in body["person"]["records"]} == {"DB1", "DB2", "LB1", "LB2"}
    assert body["origin"]["origin"] == "cabinet_lead" and body["origin"]["source_pk"] == "LB2"
    assert body["origins"] == said["origins"]


@pytest.mark.parametrize(
    ("lead_id", "status", "decision", "reason", "rule"),
    [
        ("RL3", "review", "unmatched", "MULTIPLE_CANDIDATES", "brand_model_name"),
        ("LX3", "unmatched", "unmatched", "MISSING_IDENTIFIERS", None),
        ("LP1", "pending", "pending", None, None),
        ("LR1", "linked", "link", None, "phone_exact"),
    ],
)
def test_one_lead_without_a_person_or_recovered(
    api: Get, lead_id: str, status: str, decision: str, reason: str | None, rule: str | None
) -> None:
    body = api(f"/api/leads/{lead_id}")
    assert (body["status"], body["decision"], body["reason"], body["rule"]) == (
        status, decision, reason, rule)  # fmt: skip
    assert (body["person"] is None) == (status != "linked")
    assert (body["origin"] is None) == (status != "linked")


def test_unknown_lead_is_404(api: Get) -> None:
    assert "NOPE" in api("/api/leads/NOPE", status=404)["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lead_date_from": "2026-13-01"}, "lead_date_from"),
        ({"lead_date_to": "yesterday"}, "lead_date_to"),
        ({"status": "lost"}, "status"),
        ({"reason": "NO_IDEA"}, "reason"),
        ({"sort": "name"}, "sort"),
        ({"q": "x" * 101}, "q"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/leads", params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/leads").status_code == 401
    assert client.get("/api/leads/LB2").status_code == 401
