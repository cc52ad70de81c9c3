"""The dashboard's tables on the real app and database (SQLite and PostgreSQL): every declared
table downloads as CSV equal to the page's JSON rows and the API's, cells guarded against
formulas; sorting from the store's whitelist (an unknown sort is a 422 page and a 422 on the
API) with a stable tiebreaker; facet counts equal to the rows they select; the jumping pager."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.api_world import pinned_app_fixture, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, data, element, login, page

from leadlink.store import activity_view, backlog_view, listing_ops
from leadlink.store import gap as gap_store
from leadlink.web.pages import activity, claims, ops, search
from leadlink.web.pages.tables import TableSpec, cell, lines, rows_of, to_csv
from leadlink.web.routes import api_activity, api_backlog, api_claims, api_gap


@pytest.fixture
def viewer_client(client: TestClient, make_token: TokenMaker) -> TestClient:
    assert login(client, make_token("viewer", "tania")).status_code == 303
    return client


def download(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    query = {**params.pop("params", {}), **params, "format": "csv"}
    got = client.get(path, params=query, headers=HTML)
    assert got.status_code == status, (path, params, got.status_code, got.text[:2000])
    return got


def read_csv(got: Any) -> list[list[str]]:
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))


# Each page, its JSON twin, its declared tables, and a query showing them.
PAGES: list[tuple[str, str, dict[str, TableSpec], dict[str, Any]]] = [
    ("/", "/overview.json", ops.OVERVIEW_TABLES, {}),
    ("/backlog", "/backlog.json", ops.BACKLOG_TABLES, {}),
    ("/gap", "/gap.json", ops.GAP_TABLES, {}),
    ("/claims", "/claims.json", claims.TABLES, {}),
    ("/activity", "/activity.json", activity.TABLES, {}),
    ("/search", "/search.json", search.TABLES, {"q": "955999888"}),
    ("/jobs", "/jobs.json", ops.JOBS_TABLES, {}),
    ("/alerts", "/alerts.json", ops.ALERTS_TABLES, {}),
]


def test_every_table_downloads_as_its_json_rows(viewer_client: TestClient) -> None:
    for path, json_path, tables, query in PAGES:
        as_json = data(viewer_client, json_path, params=query)
        stem = json_path.removeprefix("/").removesuffix(".json")
        for name, spec in tables.items():
            got = download(viewer_client, path, table=name, **query)
            assert got.headers["content-disposition"] == (
                f'attachment; filename="{stem}-{name}.csv"'
            )
            header, *body = read_csv(got)
            assert header == list(spec.columns), (path, name)
            expected = list(lines(as_json, spec))[1:]
            if spec.key is not None:  # a mapping: the JSON sorts its keys, the page does not
                body, expected = sorted(body), sorted(expected)
            assert body == expected, (path, name)
            assert len(body) == len(rows_of(as_json, spec)), (path, name)
    # The list tables are not empty in this world: the test compares rows, not two headers.
    assert len(read_csv(download(viewer_client, "/claims", table="rows"))) == 12
    assert len(read_csv(download(viewer_client, "/backlog", table="leads"))) > 2
    assert len(read_csv(download(viewer_client, "/search", table="results", q="955999888"))) > 1


def test_a_csv_link_sits_by_each_table_and_carries_the_query(viewer_client: TestClient) -> None:
    html = page(viewer_client, "/claims", params={"status": "generated", "sort": "-amount"})
    link = element(html, "csv-rows")
    assert 'href="/claims?status=generated&amp;sort=-amount&amp;format=csv&amp;table=rows"' in link
    for name in ("by_milestone", "by_week", "aging"):
        assert f'data-testid="csv-{name}"' in html
    for path, names in (("/", ["funnel"]), ("/backlog", ["leads", "segments", "days"]),
                        ("/gap", ["leads", "by_reason"]), ("/activity", ["trend"]),
                        ("/search?q=955999888", ["results"])):  # fmt: skip
        html = page(viewer_client, path)
        for name in names:
            assert f'data-testid="csv-{name}"' in html, (path, name)


def test_the_claims_csv_equals_the_api_rows_for_the_same_filters_sort_and_page(
    viewer_client: TestClient,
) -> None:
    query = {"status": "generated", "sort": "-amount", "limit": 3, "offset": 1}
    api = viewer_client.get("/api/claims", params=query).json()
    assert api["total"] == 4 and len(api["items"]) == 3
    header, *body = read_csv(download(viewer_client, "/claims", table="rows", params=query))
    assert [dict(zip(header, r, strict=True)) for r in body] == [
        {c: "" if item[c] is None else str(item[c]) for c in header} for item in api["items"]
    ]
    assert [r[header.index("amount")] for r in body] == ["100.0", "35.0", "25.0"]


def test_cells_are_plain_and_formulas_are_guarded() -> None:
    assert [cell(v) for v in (None, True, False, 3, -3, 12.5, 1e-05, ["a", "b"])] == [
        "", "true", "false", "3", "-3", "12.5", "0.00001", "a; b"]  # fmt: skip
    for text in ('=HYPERLINK("x")', "+51955", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert cell(text) == "'" + text
    assert cell("Ñandú = bird") == "Ñandú = bird"  # only the first character counts
    assert cell({"b": 1, "a": None}) == '{"a": null, "b": 1}'
    spec = TableSpec(("t",), ("name", "n"))
    text = to_csv(lines({"t": [{"name": "=1+1", "n": -1}, {"name": 'a,"b"', "n": None}]}, spec))
    assert text == 'name,n\r\n\'=1+1,-1\r\n"a,""b""",\r\n'


def test_an_unknown_table_is_a_404_page_and_a_bad_sort_a_422(
    viewer_client: TestClient, viewer: dict[str, str]
) -> None:
    html = download(viewer_client, "/claims", 404, table="nope").text
    assert "nope" in html and "rows" in html  # it names the page's tables
    download(viewer_client, "/claims", 404)
    download(viewer_client, "/leads/LX1", 404, table="rows")  # a page with no table
    for path in ("/claims", "/backlog", "/activity", "/gap"):
        assert "size" in page(viewer_client, path, 422, sort="size")
        data(viewer_client, path + ".json", 422, sort="size")
        table = {"/claims": "rows", "/backlog": "leads", "/activity": "drivers",
                 "/gap": "leads"}[path]  # fmt: skip
        download(viewer_client, path, 422, table=table, sort="size")
    for path in ("/api/claims", "/api/backlog", "/api/activity", "/api/gap"):
        got = viewer_client.get(path, params={"sort": "size"}, headers=viewer)
        assert got.status_code == 422 and got.json()["detail"][0]["loc"] == ["query", "sort"]


def test_the_api_sorts_are_the_stores(viewer_client: TestClient) -> None:
    def literal(alias: Any) -> tuple[str, ...]:
        return tuple(a for a in alias.__args__ if a is not None)

    assert literal(api_claims.ClaimSort) == listing_ops.CLAIM_SORTS
    assert literal(api_backlog.BacklogSort) == tuple(backlog_view.SORTS)
    assert literal(api_activity.ActivitySort) == tuple(activity_view.SORTS)
    assert literal(api_gap.GapSort) == gap_store.SORTS


def _claims(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    got = client.get("/api/claims", params={"limit": 500, **params})
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def test_claims_sort_in_each_order_with_a_stable_tiebreaker(viewer_client: TestClient) -> None:
    every = _claims(viewer_client)
    last = "9999-12-31"
    expected = {
        "-reached_on": sorted(every, key=lambda r: r["id"]),
        "reached_on": sorted(every, key=lambda r: ((r["reached_on"] or last), r["id"])),
        "lead_date": sorted(every, key=lambda r: (r["lead_date"], r["id"])),
        "-lead_date": sorted(every, key=lambda r: r["id"]),
        "-amount": sorted(every, key=lambda r: (-r["amount"], r["id"])),
        "amount": sorted(every, key=lambda r: (r["amount"], r["id"])),
        "person_key": sorted(every, key=lambda r: (r["person_key"], r["milestone"])),
    }
    expected["-reached_on"].sort(key=lambda r: r["reached_on"] or "", reverse=True)
    expected["-lead_date"].sort(key=lambda r: r["lead_date"], reverse=True)
    assert set(expected) == set(listing_ops.CLAIM_SORTS)
    for sort, rows in expected.items():
        assert _claims(viewer_client, sort=sort) == rows, sort
        # The page's table is the API's, page by page.
        shown = data(viewer_client, "/claims.json", sort=sort, limit=4, offset=4)["rows"]
        assert shown["items"] == rows[4:8], sort
    html = page(viewer_client, "/claims", sort="-amount")
    head = element(html, "claims-rows")
    assert re.search(r'<th scope="col" class="num" aria-sort="descending"><a href="/claims\?'
                     r'sort=amount" data-testid="sort-amount">[^<]*▼</a>', head)  # fmt: skip
    assert 'href="/claims?sort=lead_date" data-testid="sort-lead_date"' in head
    assert 'aria-sort="ascending"' in element(page(viewer_client, "/claims", sort="amount"),
                                              "claims-rows")  # fmt: skip


def test_gap_sorts_and_pages_in_the_database(viewer_client: TestClient) -> None:
    working = data(viewer_client, "/gap.json", limit=500)["leads"]
    every = working["items"]
    assert working["total"] == len(every) > 4
    rank = {"high": 0, "medium": 1, "low": 2}
    assert every == sorted(every, key=lambda r: (rank[r["risk"]], r["lead_date"], r["lead_id"]))
    expected = {
        "lead_date": sorted(every, key=lambda r: (r["lead_date"], r["lead_id"])),
        "-lead_date": sorted(sorted(every, key=lambda r: r["lead_id"]),
                             key=lambda r: r["lead_date"], reverse=True),
        "lead_id": sorted(every, key=lambda r: r["lead_id"]),
        "-lead_id": sorted(every, key=lambda r: r["lead_id"], reverse=True),
    }  # fmt: skip
    assert set(expected) == set(gap_store.SORTS)
    for sort, rows in expected.items():
        assert data(viewer_client, "/gap.json", sort=sort, limit=500)["leads"]["items"] == rows
        # Each page is the sorted list's slice, read with OFFSET (the page and the API agree).
        for offset in (0, 3, len(rows) - 1):
            shown = data(viewer_client, "/gap.json", sort=sort, limit=3, offset=offset)["leads"]
            assert shown["items"] == rows[offset : offset + 3], (sort, offset)
            assert shown["total"] == len(rows)
            api = viewer_client.get("/api/gap", params={"sort": sort, "limit": 3,
                                                        "offset": offset}).json()  # fmt: skip
            assert api["leads"] == rows[offset : offset + 3] and api["total"] == len(rows)
    head = element(page(viewer_client, "/gap", sort="lead_date"), "gap-leads")
    assert 'aria-sort="ascending"' in head and "sort=-lead_date" in head
    # A filter keeps the sort, and the sort keeps the filter.
    high = data(viewer_client, "/gap.json", sort="-lead_id", risk="high", limit=500)["leads"]
    assert high["items"] == [r for r in expected["-lead_id"] if r["risk"] == "high"]


def test_the_backlog_sorts_by_lead_date_across_segments(viewer_client: TestClient) -> None:
    working = data(viewer_client, "/backlog.json", limit=500)
    assert working["sort"] is None
    leads = working["leads"]["items"]
    newest = data(viewer_client, "/backlog.json", sort="-lead_date", limit=500)["leads"]
    oldest = data(viewer_client, "/backlog.json", sort="lead_date", limit=500)["leads"]
    by_id = sorted(leads, key=lambda r: r["lead_id"])
    assert newest["items"] == sorted(by_id, key=lambda r: r["lead_date"], reverse=True)
    assert oldest["items"] == sorted(sorted(leads, key=lambda r: r["lead_id"], reverse=True),
                                     key=lambda r: r["lead_date"])  # fmt: skip
    assert newest["total"] == oldest["total"] == working["leads"]["total"] == len(leads)
    # Paged: the pages of a sort add up to the sorted list.
    paged = [data(viewer_client, "/backlog.json", sort="lead_date", limit=2, offset=o)
             ["leads"]["items"] for o in range(0, len(leads), 2)]  # fmt: skip
    assert [r for p in paged for r in p] == oldest["items"]
    api = viewer_client.get("/api/backlog", params={"sort": "lead_date", "limit": 500}).json()
    assert api["items"] == oldest["items"]
    # Within a segment filter too.
    lost = data(viewer_client, "/backlog.json", sort="-lead_date", segment="lost", limit=500)
    assert lost["leads"]["items"] == [r for r in newest["items"] if r["segment"] == "lost"]


def test_backlog_facets_count_the_rows_their_links_select(viewer_client: TestClient) -> None:
    got = data(viewer_client, "/backlog.json")
    facets = got["facets"]
    assert facets["segment"] == {s: v["leads"] for s, v in got["segments"]["segments"].items()}
    assert facets["loss_reason"], "the world has lost leads"
    for reason, n in facets["loss_reason"].items():
        chosen = data(viewer_client, "/backlog.json", loss_reason=reason, limit=500)
        assert chosen["leads"]["total"] == n == len(chosen["leads"]["items"])
        assert {(r["segment"], r["loss_reason"]) for r in chosen["leads"]["items"]} == {
            ("lost", reason)
        }
    for segment, n in facets["segment"].items():
        assert data(viewer_client, "/backlog.json", segment=segment)["leads"]["total"] == n
    html = page(viewer_client, "/backlog", sort="lead_date")
    facet = element(html, "facet-segment")
    assert 'href="/backlog?segment=lost&amp;days=30&amp;sort=lead_date"' in facet


def test_claims_facets_are_one_group_by_under_the_filters(viewer_client: TestClient) -> None:
    for filters in ({}, {"status": "generated"}, {"milestone": "M5"}):
        got = data(viewer_client, "/claims.json", params=filters)
        rows = _claims(viewer_client, **filters)
        for column in ("milestone", "status"):
            assert got["facets"][column] == dict(Counter(r[column] for r in rows)), column
    html = page(viewer_client, "/claims", params={"status": "generated"})
    assert 'href="/claims?milestone=M25&amp;status=generated&amp;sort=-reached_on"' in element(
        html, "facet-milestone"
    )
    assert "<strong" in element(html, "facet-status")  # the chosen value is not a link


def test_gap_facets_match_the_filtered_totals(viewer_client: TestClient) -> None:
    got = data(viewer_client, "/gap.json")
    assert got["facets"]["reason"]
    for reason, n in got["facets"]["reason"].items():
        assert data(viewer_client, "/gap.json", reason=reason)["leads"]["total"] == n
    for risk, n in got["facets"]["risk"].items():
        assert data(viewer_client, "/gap.json", risk=risk)["leads"]["total"] == n


def test_the_pager_jumps(viewer_client: TestClient) -> None:
    html = page(viewer_client, "/claims", params={"limit": 2, "status": "", "sort": "amount"})
    pager = element(html, "pager")
    assert 'data-testid="pager-first"' not in pager and 'data-testid="pager-prev"' not in pager
    assert re.findall(r'data-testid="pager-page-(\d+)"', pager) == ["1", "2", "3"]
    assert 'aria-current="page" data-testid="pager-page-1"' in pager
    assert 'href="/claims?limit=2&amp;sort=amount&amp;offset=10" data-testid="pager-last"' in pager
    jump = element(html, "pager-jump")
    assert '<input type="hidden" name="sort" value="amount">' in jump
    assert '<input type="hidden" name="limit" value="2">' in jump
    assert 'name="page" min="1" max="6"' in jump
    # "Go to page 4" is offset 6; its pager shows pages 2..6 and the way back.
    html = page(viewer_client, "/claims", limit=2, sort="amount", page=4)
    pager = element(html, "pager")
    assert re.findall(r'data-testid="pager-page-(\d+)"', pager) == ["2", "3", "4", "5", "6"]
    assert 'href="/claims?limit=2&amp;sort=amount&amp;offset=0" data-testid="pager-first"' in pager
    assert 'href="/claims?limit=2&amp;sort=amount&amp;offset=4" data-testid="pager-prev"' in pager
    four = data(viewer_client, "/claims.json", limit=2, sort="amount", page=4)["rows"]
    assert four["offset"] == 6 and four["items"] == _claims(viewer_client, sort="amount")[6:8]
    page(viewer_client, "/claims", 422, page=0)
