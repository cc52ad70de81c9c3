"""The header's search box, its results (`/search`, `/search.json`, `GET /api/search`) and a
lead's page (`/leads/ID`, `.json`) on the API world (tests/web/api_world.py), SQLite and
PostgreSQL; and every page's lead ids linking to the lead's page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.api_world import (  # noqa: F401
    Get,
    api_fixture,
    pinned_app_fixture,
    world_db_url,
)
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, data, element, login, page, text_of

from leadlink.pipeline.money.lead_page import lead_page
from leadlink.pipeline.resolution.search import search
from leadlink.settings import Settings


@pytest.fixture
def viewer_client(client: TestClient, make_token: TokenMaker) -> TestClient:
    assert login(client, make_token("viewer", "vic")).status_code == 303
    return client


def found(result: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{i['source']}/{i['source_pk']}": i["matched_on"] for i in result["items"]}


def test_every_page_has_the_search_box(viewer_client: TestClient) -> None:
    for path in ("/", "/backlog", "/gap", "/review", "/alerts", "/leads/LX1", "/search?q=LX1"):
        html = page(viewer_client, path)
        box = element(html, "header-search")
        assert 'action="/search"' in box and 'name="q"' in box, path


@pytest.mark.parametrize("typed", ["955 999 888", "+51955999888", "955-999-888"])
def test_a_phone_typed_any_way_finds_the_lead_on_page_json_and_api(
    viewer_client: TestClient, api: Get, engine: Engine, typed: str
) -> None:
    html = page(viewer_client, "/search", q=typed)
    row = element(html, "search-result-leads-LX1")
    assert 'href="/leads/LX1"' in row
    assert "sin enlazar" in row and "teléfono" in row
    assert f'value="{typed}"' in element(html, "header-search")
    as_json = data(viewer_client, "/search.json", q=typed)
    assert as_json == search(engine, typed)
    assert found(as_json) == {"leads/LX1": ["phone"]}
    assert api("/api/search", {"q": typed}) == as_json


def test_a_dni_finds_the_lead_through_the_driver_of_its_person(
    viewer_client: TestClient, api: Get
) -> None:
    result = api("/api/search", {"q": "10.000.001"})
    assert found(result) == {"leads/LA1": ["person"], "drivers/DA1": ["document"]}
    assert result["items"][0]["via"] == "drivers/DA1"
    html = page(viewer_client, "/search", q="10000001")
    assert 'href="/leads/LA1"' in element(html, "search-result-leads-LA1")
    assert "/persons/" in element(html, "search-result-drivers-DA1")


def test_a_lead_id_and_a_full_name(api: Get) -> None:
    assert found(api("/api/search", {"q": "LP1"})) == {"leads/LP1": ["id"]}
    by_name = api("/api/search", {"q": "luis alberto huaman ccori"})
    assert found(by_name) == {"leads/RL1": ["name"], "drivers/RD1": ["name"]}


def test_nothing_found_says_so(viewer_client: TestClient, api: Get) -> None:
    html = page(viewer_client, "/search", q="911 222 333")
    assert "Nada coincide con «911 222 333»" in text_of(html, "search-empty")
    assert api("/api/search", {"q": "911 222 333"})["items"] == []


@pytest.mark.parametrize("q", ["", "ab", "   "])
def test_a_query_too_short_is_a_422_html_page_or_json(
    viewer_client: TestClient, api: Get, q: str
) -> None:
    html = page(viewer_client, "/search", status=422, q=q)
    assert text_of(html, "error-status").startswith("422")
    assert "al menos 3 caracteres" in text_of(html, "error-detail")
    assert "characters" in data(viewer_client, "/search.json", status=422, q=q)["detail"][0:80]
    api("/api/search", {"q": q}, status=422)


def test_no_query_and_a_too_long_one(viewer_client: TestClient, api: Get) -> None:
    assert text_of(page(viewer_client, "/search", status=422), "error-status").startswith("422")
    too_long = viewer_client.get("/search", params={"q": "x" * 101}, headers=HTML)
    assert too_long.status_code == 422 and too_long.text.startswith("<!doctype html>")
    body = api("/api/search", status=422)
    assert body["detail"][0]["loc"] == ["query", "q"]
    # A NUL no PostgreSQL text holds: a 422 like any bad query, never a database error.
    assert "NUL" in text_of(page(viewer_client, "/search", status=422, q="LX1\x00"),
                            "error-detail")  # fmt: skip
    api("/api/search", {"q": "LX1\x00"}, status=422)
    page(viewer_client, "/leads/LX1%00", status=404)


def test_the_lead_page_of_a_kpi_red_lead_shows_why_its_segment_and_money(
    viewer_client: TestClient, engine: Engine, web_settings: Settings, api: Get
) -> None:
    html = page(viewer_client, "/leads/LX1")
    assert text_of(html, "lead-id") == "LX1"
    assert text_of(html, "lead-status") == "sin enlazar"
    assert "Sin candidatos" in text_of(html, "lead-reason") or "NO_CANDIDATES" in html
    # 2026-10-20, 12 days old at NOW: past the grace day, its 14-day window still open.
    assert text_of(html, "lead-segment") == "En espera"
    assert text_of(html, "lead-at-stake") == "S/ 160.00"
    got = data(viewer_client, "/leads/LX1.json")
    assert got == lead_page(engine, web_settings, "LX1", now=NOW) | {}
    assert got["backlog"]["segment"] == "waiting" and got["backlog"]["kpi_red"] is True
    assert got["backlog"]["at_stake"] == 160.0
    # The API's lead is the page's, less what only the page adds.
    assert api("/api/leads/LX1") == {k: v for k, v in got.items()
                                     if k not in ("review_items", "backlog")}  # fmt: skip


def test_the_lead_page_shows_candidates_and_review_items_with_evidence(
    viewer_client: TestClient,
) -> None:
    html = page(viewer_client, "/leads/RL3")  # MULTIPLE_CANDIDATES between RD3 and RD4
    candidates = element(html, "lead-candidates")
    assert "lead-candidate-1" in candidates and "lead-candidate-2" in candidates
    assert "drivers/RD3" in candidates and "drivers/RD4" in candidates
    items = element(html, "lead-review-items")
    assert items.count('data-testid="lead-review-item-') == 2
    # The best pair's evidence, as the review page shows it (the runner-up's has no fields).
    assert 'class="evidence compact"' in items and "sin dato" in items
    linked = page(viewer_client, "/leads/LA1")
    assert text_of(linked, "lead-status") == "enlazado"
    assert "/persons/" in element(linked, "lead-person")
    assert "lead-segment" not in linked


def test_a_lead_inside_its_grace_period_is_not_kpi_red_yet(viewer_client: TestClient) -> None:
    html = page(viewer_client, "/leads/LX2")  # 2026-10-31 09:00, the grace day not over
    assert "lead-in-grace" in html and "lead-segment" not in html
    assert data(viewer_client, "/leads/LX2.json")["backlog"]["kpi_red"] is False


def test_an_unknown_lead_is_a_404_page_or_json(viewer_client: TestClient) -> None:
    html = page(viewer_client, "/leads/NOPE", status=404)
    assert text_of(html, "error-status").startswith("404")
    assert "NOPE" in data(viewer_client, "/leads/NOPE.json", status=404)["detail"]


def test_lead_ids_link_to_their_page_everywhere(viewer_client: TestClient) -> None:
    assert 'href="/leads/LX1"' in element(page(viewer_client, "/gap"), "gap-lead-LX1")
    backlog = page(viewer_client, "/backlog")
    assert 'href="/leads/LX1"' in element(backlog, "segment-lead-LX1")
    review = page(viewer_client, "/review")
    assert 'href="/leads/RL3"' in review
    claims = page(viewer_client, "/claims")
    assert 'href="/leads/LA1"' in element(claims, "claims-rows")
    person = data(viewer_client, "/leads/LA1.json")["person_key"]
    assert 'href="/leads/LA1"' in element(page(viewer_client, f"/persons/{person}"),
                                          "person-records")  # fmt: skip
    alerts = page(viewer_client, "/alerts")
    assert 'href="/leads/' in element(alerts, "alerts")

