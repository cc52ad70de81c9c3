"""The dashboard's tables in real Chromium: a facet link and a sortable header narrow and order
the claims, the table's CSV link downloads a file equal to GET /api/claims's rows for the same
filters, sort and page; the pager's "go to page" form (a GET form, no JavaScript) jumps."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.web.browser.conftest import Site, Tab


def test_a_claims_csv_download_equals_the_api_rows(tab: Tab, site: Site, tmp_path: Path) -> None:
    tab.login(site.token("viewer", "carla"))
    tab.open("/claims?limit=3")
    with tab.page.expect_navigation():
        tab.testid("facet-status-generated").click()
    with tab.page.expect_navigation():
        tab.testid("sort-amount").click()  # most first is not offered first: ascending
    with tab.page.expect_navigation():
        tab.testid("sort-amount").click()  # and back: descending
    query = parse_qs(urlsplit(tab.page.url).query)
    assert query == {"status": ["generated"], "sort": ["-amount"], "limit": ["3"]}
    header = tab.page.locator('[data-testid="claims-rows"] th[aria-sort]')
    assert header.get_attribute("aria-sort") == "descending"
    with tab.page.expect_download() as started:
        tab.testid("csv-rows").click()
    download = started.value
    assert download.suggested_filename == "claims-rows.csv"
    saved = tmp_path / "claims-rows.csv"
    download.save_as(saved)
    header_row, *body = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    # The API with the page's own session, the page's filters, sort and page size.
    api = tab.page.request.get(
        site.url + "/api/claims", params={"status": "generated", "sort": "-amount", "limit": 3}
    )
    assert api.status == 200
    items = api.json()["items"]
    assert len(items) == 3 and len(body) == 3
    assert header_row == list(items[0])
    assert body == [["" if v is None else str(v) for v in item.values()] for item in items]
    amounts = [float(r[header_row.index("amount")]) for r in body]
    assert amounts == sorted(amounts, reverse=True)


def test_the_pager_jumps_to_a_typed_page(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "pablo"))
    tab.open("/claims?limit=2&sort=lead_date")
    tab.testid("pager-jump-page").fill("3")
    with tab.page.expect_navigation():
        tab.testid("pager-jump-go").click()
    query = parse_qs(urlsplit(tab.page.url).query)
    assert query == {"sort": ["lead_date"], "limit": ["2"], "page": ["3"]}
    assert tab.page.locator('[data-testid="pager-page-3"][aria-current="page"]').count() == 1
    api = tab.page.request.get(
        site.url + "/api/claims", params={"sort": "lead_date", "limit": 2, "offset": 4}
    )
    shown = tab.page.locator('[data-testid="claims-rows"] tbody tr')
    assert shown.count() == len(api.json()["items"]) == 2
    with tab.page.expect_navigation():
        tab.testid("pager-first").click()
    assert tab.page.locator('[data-testid="pager-page-1"][aria-current="page"]').count() == 1
