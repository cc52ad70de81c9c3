"""Pinned examples of what Schemathesis found (issue 15 item 2), on SQLite and PostgreSQL:
ids and offsets beyond what the store holds were 500s (OverflowError on SQLite, out of range
on PostgreSQL); now they are 422 naming the parameter, and an absent id within range a 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leadlink.web.routes.api_common import MAX_ID, MAX_OFFSET


@pytest.mark.parametrize("item_id", [MAX_ID + 1, 2**63, 2**64, 26824567891482284])
@pytest.mark.parametrize("route", ["/api/review/{}", "/api/recovery/attempts?run_id={}"])
def test_an_id_beyond_the_columns_is_422_naming_it(
    client: TestClient, viewer: dict[str, str], route: str, item_id: int
) -> None:
    got = client.get(route.format(item_id), headers=viewer)
    assert got.status_code == 422, got.text
    assert got.json()["detail"][0]["loc"][-1] in ("item_id", "run_id")


@pytest.mark.parametrize("item_id", [1, MAX_ID, 3732896051 % MAX_ID])
def test_an_absent_id_within_range_is_404(
    client: TestClient, viewer: dict[str, str], item_id: int
) -> None:
    assert client.get(f"/api/review/{item_id}", headers=viewer).status_code == 404


def test_accepting_an_id_beyond_range_is_422_not_500(
    client: TestClient, operator: dict[str, str]
) -> None:
    got = client.post(f"/api/review/{2**47}/accept", headers=operator, json={"note": "x"})
    assert got.status_code == 422, got.text


@pytest.mark.parametrize("offset", [MAX_OFFSET + 1, 2**63, 9223372036854775808])
@pytest.mark.parametrize("route", ["/api/leads", "/api/persons", "/api/claims", "/api/unmatched"])
def test_an_offset_beyond_range_is_422(
    client: TestClient, viewer: dict[str, str], route: str, offset: int
) -> None:
    got = client.get(route, params={"offset": offset}, headers=viewer)
    assert got.status_code == 422, got.text
    assert got.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize("route", ["/api/leads", "/api/persons", "/api/claims", "/api/unmatched"])
def test_a_deep_offset_within_range_is_an_empty_page(
    client: TestClient, viewer: dict[str, str], route: str
) -> None:
    got = client.get(route, params={"offset": 1600502, "limit": 155}, headers=viewer)
    assert got.status_code == 200, got.text


def test_the_claims_filters_schemathesis_found(client: TestClient, viewer: dict[str, str]) -> None:
    got = client.get("/api/claims", headers=viewer, params={
        "person_key": "[Filtered]", "status": "generated", "sort": "-reached_on",
        "week": "2026-11-02", "limit": 155, "offset": 1600502})  # fmt: skip
    assert got.status_code == 200, got.text


@pytest.mark.parametrize(
    ("route", "param"),
    [("/api/claims", "person_key"), ("/api/leads", "q"), ("/api/unmatched", "source")],
)
def test_a_nul_in_a_filter_is_422_not_a_driver_error(
    client: TestClient, viewer: dict[str, str], route: str, param: str
) -> None:
    """PostgreSQL text holds no NUL: its driver raised, a 500 (Schemathesis on PostgreSQL)."""
    got = client.get(route, params={param: "ab\x00c"}, headers=viewer)
    assert got.status_code == 422, got.text
    assert got.json()["detail"][0]["loc"] == ["query", param]


def test_a_nul_in_a_path_key_is_422(client: TestClient, viewer: dict[str, str]) -> None:
    assert client.get("/api/persons/ab%00c", headers=viewer).status_code == 422
