"""The header's search box and a lead's page in real Chromium: a phone typed as a person types
it finds the lead, its link opens the lead's page (its explanation and its backlog segment, as
the service says at the same clock); a lead id in a /gap row opens the same page. The pages are
saved as tests/artifacts/search.png and lead.png."""

from __future__ import annotations

from tests.web.browser.conftest import Site, Tab

from leadlink.clock import utcnow
from leadlink.pipeline.money.lead_page import lead_page
from leadlink.settings import Settings
from leadlink.web.i18n import Translator

ES = Translator("es")


def _expected_segment(site: Site) -> str:
    settings = Settings(db=site.db_url, secret_key="browser-test-secret-0123456789")
    backlog = lead_page(site.engine, settings, "LX1", now=utcnow())["backlog"]
    assert backlog is not None and backlog["kpi_red"]
    return ES.code("segment", backlog["segment"])


def test_a_phone_typed_in_the_header_reaches_the_lead_page(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "silvia"))
    tab.open("/backlog")
    tab.testid("header-search-q").fill("+51 955 999 888")
    with tab.page.expect_navigation():
        tab.testid("header-search-q").press("Enter")
    assert tab.page.url.startswith(site.url + "/search?q=")
    row = tab.testid("search-result-leads-LX1")
    assert row.is_visible() and "teléfono" in row.inner_text()
    assert tab.testid("header-search-q").input_value() == "+51 955 999 888"
    tab.shot("search")
    with tab.page.expect_navigation():
        row.locator("a.lead-link").click()
    assert tab.page.url == site.url + "/leads/LX1"
    assert tab.text("lead-id") == "LX1"
    assert tab.text("lead-status") == "sin enlazar"
    assert tab.testid("lead-reason").is_visible()
    assert tab.text("lead-segment") == _expected_segment(site)
    assert tab.text("lead-at-stake").startswith("S/")
    tab.shot("lead")


def test_a_gap_row_opens_its_lead_page(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "gaby"))
    tab.open("/gap")
    with tab.page.expect_navigation():
        tab.testid("gap-lead-LX1").locator("a.lead-link").click()
    assert tab.page.url == site.url + "/leads/LX1"
    assert tab.text("lead-id") == "LX1"
    # Its JSON twin is linked from the page, as on every page.
    assert tab.testid("json-link").get_attribute("href") == "/leads/LX1.json"


def test_an_unknown_lead_is_a_404_page_in_the_browser(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "nora"))
    response = tab.open("/leads/NOPE")
    assert response.status == 404
    assert tab.text("error-status").startswith("404")
