"""What every read route of the API shares, table-driven over all of them: a token is needed,
every list pages the same way (limit 1..500, offset >= 0, total), and the OpenAPI schema
documents each route (summary, tag). On the API world, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    world_db_url,
)

# (path, params selecting the widest list, key of the rows in the body)
LISTS: list[tuple[str, dict[str, str], str]] = [
    ("/api/leads", {}, "items"),
    ("/api/persons", {}, "items"),
    ("/api/unmatched", {}, "items"),
    ("/api/review", {"status": "all"}, "items"),
    ("/api/recovery/runs", {}, "items"),
    ("/api/recovery/attempts", {}, "items"),
    ("/api/recovery/daily", {}, "items"),
    ("/api/gap", {}, "leads"),
    ("/api/claims", {}, "items"),
    ("/api/alerts", {"state": "all"}, "items"),
    ("/api/jobs", {}, "items"),
    ("/api/jobs/runs", {}, "items"),
]
DETAILS = ["/api/leads/LB1", "/api/persons/x", "/api/review/1", "/api/recovery/queue",
           "/api/funnel", "/api/claims/report"]  # fmt: skip
LIST_IDS = [path for path, _, _ in LISTS]


@pytest.mark.parametrize(("path", "params", "rows"), LISTS, ids=LIST_IDS)
def test_pages_slice_the_whole_list(
    api: Get, path: str, params: dict[str, str], rows: str, size: int = 2
) -> None:
    whole = api(path, {**params, "limit": 500})
    assert whole["total"] == len(whole[rows]) and (whole["limit"], whole["offset"]) == (500, 0)
    assert whole["total"] >= 1, "the world has rows for every list"
    pages: list[Any] = []
    for offset in range(0, whole["total"], size):
        page = api(path, {**params, "limit": size, "offset": offset})
        assert (page["total"], page["limit"], page["offset"]) == (whole["total"], size, offset)
        assert len(page[rows]) == min(size, whole["total"] - offset)
        pages += page[rows]
    assert pages == whole[rows]
    beyond = api(path, {**params, "limit": size, "offset": whole["total"]})
    assert beyond[rows] == [] and beyond["total"] == whole["total"]


BAD_PAGING = [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "ten"}, "limit"),
              ({"offset": -1}, "offset"), ({"offset": "x"}, "offset")]  # fmt: skip


@pytest.mark.parametrize(("path", "params", "rows"), LISTS, ids=LIST_IDS)
def test_bad_paging_is_422_naming_the_field(
    api: Get, path: str, params: dict[str, str], rows: str
) -> None:
    for bad, field in BAD_PAGING:
        assert field in error_fields(api(path, {**params, **bad}, status=422)), bad


def test_a_token_is_needed(client: TestClient) -> None:
    for path in LIST_IDS + DETAILS:
        assert client.get(path).status_code == 401, path
        wrong = client.get(path, headers={"Authorization": "Bearer ll_not-a-token"})
        assert wrong.status_code == 401, path
        basic = client.get(path, headers={"Authorization": "Basic dmVyYTo="})
        assert basic.status_code == 401, path


def test_a_viewer_reads_everything(client: TestClient, viewer: dict[str, str]) -> None:
    for path in LIST_IDS + DETAILS:
        status = client.get(path, headers=viewer).status_code
        assert status == (404 if path == "/api/persons/x" else 200), path


def test_openapi_documents_every_read_route(client: TestClient, viewer: dict[str, str]) -> None:
    spec = client.get("/openapi.json", headers=viewer).json()
    documented = {p: ops["get"] for p, ops in spec["paths"].items() if "get" in ops}
    for path in [*LIST_IDS, "/api/leads/{lead_id}", "/api/persons/{person_key}",
                 "/api/review/{item_id}", "/api/recovery/queue", "/api/funnel",
                 "/api/claims/report"]:  # fmt: skip
        op = documented[path]
        assert op["summary"] and op["tags"], path
    leads = documented["/api/leads"]
    assert {p["name"] for p in leads["parameters"]} >= {
        "status", "reason", "lead_date_from", "lead_date_to", "q", "limit", "offset"}  # fmt: skip
    schema = leads["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("Page_LeadItem_")
