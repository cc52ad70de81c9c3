"""No SQL injection through any filter: hypothesis writes hostile strings (quotes, ``;``, ``--``,
``/* */``, ``OR 1=1``, LIKE wildcards, unicode; never NUL, which no HTTP client sends as text)
into the string parameters of every list route (25 examples a route, each filling some of
its parameters; plus the classic payloads into every parameter), on SQLite and PostgreSQL.
Each answer is 200 or 422, never 500; a 200 lists a subset of the unfiltered rows (a filter
narrows, it can never widen); and afterwards every table has the rows it had."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    api_fixture,
    pinned_app_fixture,
    row_counts,
    world_db_url,
)

# (path, params giving the widest list, key of the rows, identity of a row, string parameters)
ROUTES: list[tuple[str, dict[str, str], str, str, list[str]]] = [
    ("/api/leads", {}, "items", "lead_id",
     ["q", "status", "reason", "lead_date_from", "lead_date_to", "sort"]),
    ("/api/persons", {}, "items", "person_key", ["key", "name", "phone", "document", "sort"]),
    ("/api/unmatched", {}, "items", "record_id",
     ["reason", "risk", "source", "sort", "min_age_days", "max_age_days"]),
    ("/api/review", {"status": "all"}, "items", "id", ["status"]),
    ("/api/recovery/runs", {}, "items", "id", ["status"]),
    ("/api/recovery/attempts", {}, "items", "id", ["lead_id", "outcome", "run_id"]),
    ("/api/recovery/daily", {}, "items", "day", ["date_from", "date_to"]),
    ("/api/gap", {}, "leads", "lead_id", ["reason", "risk"]),
    ("/api/claims", {}, "items", "id", ["person_key", "week", "milestone", "status", "sort"]),
    ("/api/alerts", {"state": "all"}, "items", "id", ["kind", "state", "severity"]),
    ("/api/jobs/runs", {}, "items", "id", ["kind", "status"]),
]  # fmt: skip
# Parameters taking any text (others are enums, dates or numbers).
FREE_TEXT = {"q", "key", "name", "lead_id", "person_key", "kind"}
DETAILS = ["/api/leads/{}", "/api/persons/{}", "/api/review/{}"]

SQL_BITS = [
    "'", '"', "`", ";", "--", "/*", "*/", "#", "\\", "%", "_", "[", "]", "(", ")", "' OR '1'='1",
    " OR 1=1", "' OR 1=1 --", "\" OR \"\"=\"", "'; DROP TABLE source_record; --",
    "1; DELETE FROM person", "' UNION SELECT token_hash FROM api_token --", "LX1' --", "NULL",
    "$1", ":q", "?", "%s", "\t", "\n", "ñandú", "Ω≈ç√", "北京", "🚗", "\u202e", "０", "٣", "LB",
    "2026-10-01", "2026-W45", "M1", "open", "high", "NO_CANDIDATES", "987000002", "Q10000001",
]  # fmt: skip
CLASSICS = ["' OR '1'='1", "'; DROP TABLE source_record; --", "%", '" OR 1=1 /*', "x' --"]
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
HOSTILE = st.lists(
    st.one_of(st.sampled_from(SQL_BITS), st.text(alphabet=TEXT, max_size=8)), min_size=1, max_size=6
).map("".join)
EXAMPLES = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def _identities(body: dict[str, Any], rows: str, ident: str) -> set[Any]:
    return {item[ident] for item in body[rows]}


@pytest.mark.parametrize(
    ("path", "widest", "rows", "ident", "params"), ROUTES, ids=[r[0] for r in ROUTES]
)
def test_hostile_filters_narrow_and_write_nothing(
    client: TestClient,
    viewer: dict[str, str],
    engine: Engine,
    path: str,
    widest: dict[str, str],
    rows: str,
    ident: str,
    params: list[str],
) -> None:
    everything = client.get(path, params={**widest, "limit": 500}, headers=viewer).json()
    # Counted after the first read: the first reader of a summary computes it (docs/summaries.md).
    before = row_counts(engine)
    allowed = _identities(everything, rows, ident)
    assert everything["total"] == len(allowed) >= 1
    answered: set[int] = set()

    def check(filters: dict[str, str]) -> None:
        response = client.get(path, params={**widest, **filters, "limit": 500}, headers=viewer)
        assert response.status_code in (200, 422), (filters, response.status_code, response.text)
        answered.add(response.status_code)
        if response.status_code == 200:
            body = response.json()
            assert _identities(body, rows, ident) <= allowed, filters
            assert body["total"] <= everything["total"], filters

    for name in params:  # the classics, into every parameter
        for payload in CLASSICS:
            check({name: payload})

    @EXAMPLES
    @given(filters=st.dictionaries(st.sampled_from(params), HOSTILE, min_size=1))
    def hostile(filters: dict[str, str]) -> None:
        check(filters)

    hostile()
    assert row_counts(engine) == before
    if FREE_TEXT & set(params):  # free text reaches the SQL (enums stop at validation: 422)
        assert 200 in answered


@pytest.mark.parametrize("template", DETAILS)
def test_hostile_ids_in_paths(
    client: TestClient, viewer: dict[str, str], engine: Engine, template: str
) -> None:
    before = row_counts(engine)

    @EXAMPLES
    @given(value=HOSTILE.filter(lambda v: v.strip() not in ("", ".", "..")))
    def one(value: str) -> None:
        response = client.get(template.format(quote(value, safe="")), headers=viewer)
        assert response.status_code in (200, 404, 422), (value, response.status_code)

    one()
    assert row_counts(engine) == before
