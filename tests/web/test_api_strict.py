"""The API refuses what it does not understand rather than guessing (issue 19 item 5): a query
parameter no route takes is a 422 naming it (``?stauts=open`` answered every row), on every
GET route of the API, SQLite and PostgreSQL; the pages keep ignoring one (``?lang=``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leadlink.settings import Settings
from leadlink.web import create_app


def api_get_paths() -> list[str]:
    """The API's GET routes without a path parameter, from the served schema."""
    schema = create_app(Settings(db="sqlite://", secret_key="k" * 20)).openapi()
    return sorted(path for path, ops in schema["paths"].items()
                  if "get" in ops and path.startswith("/api/") and "{" not in path)  # fmt: skip


def test_every_list_and_report_is_covered() -> None:
    assert {"/api/leads", "/api/claims", "/api/unmatched", "/api/persons"} <= set(api_get_paths())


@pytest.mark.parametrize("path", api_get_paths())
def test_an_unknown_query_parameter_is_422_naming_it(
    client: TestClient, viewer: dict[str, str], path: str
) -> None:
    got = client.get(path, params={"stauts": "open"}, headers=viewer)
    assert got.status_code == 422, got.text
    (error,) = got.json()["detail"]
    assert error["loc"] == ["query", "stauts"] and error["type"] == "extra_forbidden"
    assert path in error["msg"]


def test_known_parameters_still_work_and_each_unknown_one_is_named(
    client: TestClient, viewer: dict[str, str]
) -> None:
    assert client.get("/api/claims", params={"limit": 5, "status": "paid"},
                      headers=viewer).status_code == 200  # fmt: skip
    got = client.get("/api/claims", params={"limit": 5, "b": 1, "a": 2}, headers=viewer)
    assert [e["loc"] for e in got.json()["detail"]] == [["query", "a"], ["query", "b"]]
    # A path parameter route too.
    got = client.get("/api/leads/L1", params={"verbose": 1}, headers=viewer)
    assert got.status_code == 422 and got.json()["detail"][0]["loc"] == ["query", "verbose"]


def test_pages_ignore_parameters_they_do_not_take(
    client: TestClient, viewer: dict[str, str]
) -> None:
    assert client.get("/claims.json", params={"lang": "en", "utm_source": "x"},
                      headers=viewer).status_code == 200  # fmt: skip
