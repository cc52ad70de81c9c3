"""The operator's forms on /alerts and /jobs in real Chromium against a live server: acknowledge
an alert with a note (it moves to the acknowledged ones, still open), follow a lead id of its
detail, and start a job with "Run now" (the page says how it ended and shows its run). The
two pages are saved as the docs' screenshots of /alerts and /jobs."""

from __future__ import annotations

import pytest
from tests.review_factories import rows
from tests.web.browser.conftest import Site, Tab

from leadlink.pipeline.operations import alerts as alerts_service
from leadlink.web.pages import ops


def test_an_operator_acknowledges_an_alert_and_runs_a_job(
    tab: Tab, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process: a loaded machine must not turn "ended" into "running".
    monkeypatch.setattr(ops, "RUN_WAIT_SECONDS", 120.0)
    backlog = next(a["id"] for a in alerts_service.open_now(site.engine)
                   if a["kind"] == "over_24h_no_identity")  # fmt: skip
    tab.login(site.token("operator", "oscar"))
    tab.open("/alerts")
    assert tab.text("alerts-unacknowledged-count") == "3"
    assert not tab.testid("alerts-acknowledged").is_visible()
    tab.testid(f"alert-{backlog}-note").fill("recuperación lo está trabajando")
    with tab.page.expect_navigation():
        tab.testid(f"alert-{backlog}-ack-submit").click()
    assert tab.page.url == site.url + "/alerts"
    assert tab.text("flash-ok").startswith(f"Alerta #{backlog}")
    assert tab.text("alerts-unacknowledged-count") == "2"
    assert tab.text("alerts-acknowledged-count") == "1"
    shown = tab.text(f"alert-{backlog}-ack")
    assert shown.startswith("oscar") and "recuperación lo está trabajando" in shown
    assert tab.page.locator(f'[data-testid="alerts"] [data-testid="alert-{backlog}"]').count() == 0
    acked = rows(site.engine, "SELECT acknowledged_by, resolved_at FROM alert WHERE id = :i",
                 i=backlog)  # fmt: skip
    assert [tuple(r) for r in acked] == [("oscar", None)]  # acknowledged, still open
    tab.shot("alerts-operator")

    # The detail's oldest lead ids are links to the lead pages.
    row = tab.testid(f"alert-{backlog}")
    with tab.page.expect_navigation():
        row.locator("a.lead-link").first.click()
    assert tab.page.url.startswith(site.url + "/leads/")

    tab.open("/jobs")
    with tab.page.expect_navigation():
        tab.testid("job-claims-run").click()
    assert tab.page.url == site.url + "/jobs#job-claims"
    (run_id,) = rows(site.engine, "SELECT max(id) FROM job_run WHERE kind = 'claims'")[0]
    assert tab.text("flash-ok").startswith(f"Cobros: ejecución #{run_id} terminada bien")
    assert tab.text("job-claims-run-id") == f"#{run_id}"
    assert tab.text("job-claims-freshness") == "Al día"
    audited = rows(site.engine, "SELECT actor, action, target FROM audit_log "
                                "WHERE actor = 'oscar' ORDER BY id")  # fmt: skip
    assert [tuple(a) for a in audited] == [("oscar", "alert_ack", f"alert:{backlog}"),
                                           ("oscar", "job_start", "job:claims")]  # fmt: skip
    tab.shot("jobs-operator")
