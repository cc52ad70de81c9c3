"""The dashboard in real Chromium against a live server: log in, read the overview (equal to
the CLI on the same database), walk every page, decide a review item, be refused as a viewer,
switch to English. Each page is saved as tests/artifacts/<page>.png."""

from __future__ import annotations

import json
from typing import Any

from tests.review_factories import item_id, rows
from tests.web.browser.conftest import Site, Tab
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.resolution.resolve import person_key_for

RD1 = person_key_for("drivers", "RD1")
PAGES = {"overview": "/", "backlog": "/backlog", "gap": "/gap", "jobs": "/jobs",
         "claims": "/claims", "review": "/review", "alerts": "/alerts"}  # fmt: skip


def cli_json(site: Site, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", site.db_url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_login_with_a_token(tab: Tab, site: Site) -> None:
    tab.open("/gap")  # not logged in: sent to the login form, which comes back here
    assert "/login?next=" in tab.page.url
    tab.shot("login")
    tab.page.fill('[data-testid="login-token"]', "ll_not-a-token")
    with tab.page.expect_navigation() as nav:
        tab.page.click('[data-testid="login-submit"]')
    assert nav.value.status == 401 and tab.testid("login-error").is_visible()
    tab.shot("login-refused")
    tab.page.fill('[data-testid="login-token"]', site.token("viewer", "vera"))
    with tab.page.expect_navigation():
        tab.page.click('[data-testid="login-submit"]')
    assert tab.page.url == site.url + "/gap"
    assert tab.text("whoami-name") == "vera" and tab.text("whoami-role") == "lector"
    with tab.page.expect_navigation():
        tab.testid("logout").click()
    assert tab.page.url.startswith(site.url + "/login")


def test_the_overview_equals_the_cli(tab: Tab, site: Site) -> None:
    claims = cli_json(site, "claims")  # recomputes claims today, as an operator would
    gap = cli_json(site, "gap")
    impact = cli_json(site, "impact", "--days", "7")
    tab.login(site.token("viewer", "vito"))
    tab.open("/")
    for stage, leads in claims["funnel"].items():
        assert tab.text(f"stage-{stage}-count") == f"{leads:,}", stage
    assert tab.text("stage-NO_IDENTITY-count") == f"{gap['summary']['no_identity']:,}"
    assert tab.text("leads-total") == f"{sum(claims['funnel'].values()):,}"
    assert tab.text("kpi-red-count") == f"{impact['backlog_after']:,}"
    assert tab.text("money-ok").startswith("S/ ")


def test_every_page_renders_and_is_saved(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "vale"))
    for name, path in PAGES.items():
        response = tab.open(path)
        assert response.status == 200, (path, response.status)
        assert tab.page.locator("main h1").first.is_visible(), path
        assert tab.page.get_attribute("html", "lang") == "es"
        tab.shot(name)
    tab.testid("nav-review").click()
    tab.page.wait_for_url(site.url + "/review")
    assert tab.testid("read-only").is_visible()
    response = tab.open(f"/persons/{RD1}")
    assert response.status == 200 and tab.testid("person-records").is_visible()
    assert tab.testid("person-record-drivers-RD1").is_visible()
    tab.shot("person")
    # The dashboard's data: the JSON twin of a page, in the browser too.
    response = tab.open("/overview.json")
    assert response.status == 200 and response.headers["content-type"].startswith(
        "application/json")


def test_an_operator_accepts_a_review_item_and_the_person_page_shows_it(
    tab: Tab, site: Site
) -> None:
    item = item_id(site.engine, "RL1", "RD1")
    tab.login(site.token("operator", "otto"))
    tab.open(f"/persons/{RD1}")
    assert tab.testid("person-record-leads-RL1").count() == 0
    tab.open("/review")
    assert tab.testid(f"review-item-{item}").is_visible()
    tab.testid(f"review-item-{item}-note").fill("mismo nombre y auto")
    with tab.page.expect_navigation():
        tab.testid(f"review-item-{item}-accept").click()
    assert tab.testid("flash-ok").is_visible()
    assert str(item) in tab.text("flash-ok")
    assert tab.testid(f"review-item-{item}-accept").count() == 0  # no longer open
    tab.shot("review-accepted")
    tab.open(f"/persons/{RD1}")
    row = tab.testid("person-record-leads-RL1")
    assert row.is_visible() and "review_accept" in " ".join(row.inner_text().split())
    tab.shot("person-after-accept")
    decided = rows(site.engine, "SELECT status, decided_by, note FROM review_item WHERE id = :i",
                   i=item)  # fmt: skip
    assert tuple(decided[0]) == ("accepted", "otto", "mismo nombre y auto")


def test_a_viewers_accept_is_refused(tab: Tab, site: Site) -> None:
    item = item_id(site.engine, "RL2", "RD2")
    tab.login(site.token("viewer", "vera2"))
    tab.open("/review")
    assert tab.testid(f"review-item-{item}").is_visible()
    assert tab.testid(f"review-item-{item}-accept").count() == 0  # no button for a viewer
    # The same form an operator gets, posted with the viewer's own session and CSRF token.
    with tab.page.expect_navigation() as nav:
        tab.page.evaluate(
            """(id) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = `/review/${id}/accept`;
                const csrf = document.createElement('input');
                csrf.type = 'hidden';
                csrf.name = 'csrf_token';
                csrf.value = document.querySelector('input[name=csrf_token]').value;
                form.appendChild(csrf);
                document.body.appendChild(form);
                form.submit();
            }""",
            item,
        )
    assert nav.value.status == 403
    assert tab.text("error-status").startswith("403")
    tab.shot("forbidden")
    status = rows(site.engine, "SELECT status FROM review_item WHERE id = :i", i=item)
    assert status[0][0] == "open"


def test_switching_to_english(tab: Tab, site: Site) -> None:
    tab.login(site.token("viewer", "vic"))
    tab.open("/")
    assert tab.page.get_attribute("html", "lang") == "es"
    spanish = tab.text("lang-switch")
    with tab.page.expect_navigation():
        tab.testid("lang-en").click()
    assert tab.page.get_attribute("html", "lang") == "en"
    assert tab.text("lang-switch") != spanish and tab.text("whoami-role") == "viewer"
    assert "Lead funnel" in tab.page.inner_text("main")
    tab.shot("overview-en")
    tab.open("/claims")  # the choice stays for the session
    assert tab.page.get_attribute("html", "lang") == "en"
    assert tab.text("claims-paid").startswith("PEN")  # Babel's English for soles


def test_the_backlog_segments_equal_the_cli(tab: Tab, site: Site) -> None:
    split = cli_json(site, "backlog", "--limit", "500")
    tab.login(site.token("viewer", "vilma"))
    tab.open("/backlog")
    for name, v in split["segments"].items():
        assert tab.text(f"segment-{name}-leads") == f"{v['leads']:,}", name
        assert tab.text(f"segment-{name}-at-stake") == f"S/ {v['at_stake']:,.2f} en juego", name
    assert sum(v["leads"] for v in split["segments"].values()) == split["kpi_red"] > 0
    # Filter to one segment with its checkbox: the table is that segment's leads, in order.
    name = max(split["segments"], key=lambda s: split["segments"][s]["leads"])
    tab.page.check(f'[data-testid="segment-filters"] input[value="{name}"]')
    with tab.page.expect_navigation():
        tab.page.click('[data-testid="segment-filters"] button[type="submit"]')
    assert f"segment={name}" in tab.page.url
    wanted = [r["lead_id"] for r in split["leads"] if r["segment"] == name][:50]
    shown = tab.page.locator('[data-testid^="segment-lead-"]').evaluate_all(
        "rows => rows.map(r => r.dataset.testid.slice('segment-lead-'.length))"
    )
    assert shown == wanted
    tab.shot("backlog-segment")


def test_an_operator_previews_merges_and_undoes_a_merge(tab: Tab, site: Site) -> None:
    """RD3 and RD4 (two Juans with the same car, no documents) merged from RD3's page."""
    keep, gone = person_key_for("drivers", "RD3"), person_key_for("drivers", "RD4")
    tab.login(site.token("operator", "omar"))
    tab.open(f"/persons/{keep}")
    tab.testid("merge-retire").fill(gone[:8])
    with tab.page.expect_navigation():
        tab.testid("merge-preview").click()
    assert tab.text("flash-info").startswith("Vista previa (nada escrito)")
    assert "Conflictos: ninguno" in tab.text("flash-info")
    assert rows(site.engine, "SELECT retired_into FROM person WHERE person_key = :k",
                k=gone) == [(None,)]  # fmt: skip
    tab.testid("merge-retire").fill(gone)
    tab.testid("merge-reason").fill("mismo conductor")
    with tab.page.expect_navigation():
        tab.testid("merge-submit").click()
    assert f"{gone} fusionada en {keep}" in tab.text("flash-ok")
    assert tab.testid("person-record-drivers-RD4").is_visible()
    tab.shot("person-merged")
    with tab.page.expect_navigation():
        tab.testid(f"unmerge-{gone}-submit").click()
    assert tab.page.url == f"{site.url}/persons/{gone}"
    assert tab.text("flash-ok").startswith(f"Fusión deshecha: {gone}")
    assert tab.testid("person-record-drivers-RD4").is_visible()
    assert rows(site.engine, "SELECT retired_into FROM person WHERE person_key = :k",
                k=gone) == [(None,)]  # fmt: skip
    actions = rows(site.engine, "SELECT actor, action FROM audit_log WHERE target = :k "
                                "ORDER BY id", k=gone)  # fmt: skip
    assert [tuple(a) for a in actions] == [("omar", "merge"), ("omar", "unmerge")]


def test_an_operator_sees_a_persons_money_splits_it_and_merges_it_back(
    tab: Tab, site: Site
) -> None:
    """DB1 + DB2 (one DNI, leads LB1 and LB2): DB2 and LB1 split off to a new person, with
    the claims anchored on LB1 and P03, then merged back from the person's page."""
    key, new = person_key_for("drivers", "DB1"), person_key_for("drivers", "DB2")
    claims = cli_json(site, "claims", "--person", key)  # today's statuses, as the page reads
    tab.login(site.token("operator", "sofia"))
    tab.open(f"/persons/{key}")
    assert tab.testid("person-claims").is_visible() and tab.testid("person-trips").is_visible()
    for status, n in claims["claims"]["by_status"].items():
        row = tab.testid(f"person-claims-{status}")
        assert row.count() == (1 if n else 0), status
        if n:
            assert f"({n})" in row.inner_text() and "S/" in row.inner_text()
    assert tab.testid("person-claim-M5").is_visible()
    assert tab.testid("person-payment-P03").is_visible()
    assert tab.text("person-trip-days") == "5" and tab.text("person-trips-completed") == "40"
    assert tab.page.locator('[data-testid^="person-trip-DB"]').count() == 5
    tab.testid("split-record-drivers-DB2").check()
    tab.testid("split-record-leads-LB1").check()
    tab.testid("split-reason").fill("otra persona")
    with tab.page.expect_navigation():
        tab.testid("split-preview").click()
    assert tab.text("flash-info").startswith("Vista previa (nada escrito): separar")
    assert "cobros: 3" in tab.text("flash-info")
    assert rows(site.engine, "SELECT count(*) FROM person WHERE person_key = :k",
                k=new) == [(0,)]  # fmt: skip
    tab.testid("split-record-drivers-DB2").check()  # the preview came back to a fresh form
    tab.testid("split-record-leads-LB1").check()
    with tab.page.expect_navigation():
        tab.testid("split-submit").click()
    assert tab.page.url == f"{site.url}/persons/{new}"
    assert tab.text("flash-ok").startswith(f"drivers:DB2, leads:LB1 separados de {key}")
    assert tab.testid("person-record-drivers-DB2").is_visible()
    assert tab.testid("person-claim-M5").is_visible() and tab.text("person-trip-days") == "2"
    tab.shot("person-split")
    tab.open(f"/persons/{key}")
    assert tab.testid("person-claim-M5").count() == 0 and tab.text("person-trip-days") == "3"
    tab.testid("merge-retire").fill(new)
    tab.testid("merge-reason").fill("deshacer la separación")
    with tab.page.expect_navigation():
        tab.testid("merge-submit").click()
    assert f"{new} fusionada en {key}" in tab.text("flash-ok")
    assert tab.testid("person-record-drivers-DB2").is_visible()
    assert tab.testid("person-claim-M5").is_visible() and tab.text("person-trip-days") == "5"
    actions = rows(site.engine, "SELECT actor, action, target FROM audit_log WHERE action IN "
                                "('split', 'merge') AND actor = 'sofia' ORDER BY id")  # fmt: skip
    assert [tuple(a) for a in actions] == [("sofia", "split", key), ("sofia", "merge", new)]
