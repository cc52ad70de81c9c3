"""The unlinked-activity page in real Chromium: its figures equal `leadlink activity --json` on
the same database, and the overview's box and funnel-side figure say the same. The page is
saved as tests/artifacts/activity.png (docs/img/activity.png)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.pipeline.activity_world import build
from tests.web.browser.conftest import Site, Tab
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.web.i18n import format_count, format_soles


@pytest.fixture(scope="module", autouse=True)
def activity(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The activity world's drivers, leads and trips added to the module's live database."""
    where = tmp_path_factory.mktemp("activity_world")
    build(site.engine, where)
    return where


def cli_json(site: Site, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", site.db_url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def shown(text: str) -> str:
    """A formatted figure as the browser's text reads it (spaces collapsed)."""
    return " ".join(text.split())


def test_the_activity_page_equals_the_cli(tab: Tab, site: Site) -> None:
    expected = cli_json(site, "activity")
    s = expected["summary"]
    assert s["drivers"] >= 4 and expected["drivers"]
    tab.login(site.token("viewer", "vania"))
    response = tab.open("/activity")
    assert response.status == 200
    assert tab.text("activity-drivers") == shown(format_count(s["drivers"]))
    assert tab.text("activity-would-claim") == shown(format_soles(s["would_claim"]))
    assert tab.text("activity-trips-in") == shown(format_count(s["trips_in_window"]))
    assert tab.text("activity-trips-out") == shown(format_count(s["trips_outside_window"]))
    assert tab.text("activity-with-candidates") == shown(format_count(s["with_candidates"]))
    rows = tab.page.locator('[data-testid="activity-table"] tbody tr')
    assert rows.count() == len(expected["drivers"])
    for i, d in enumerate(expected["drivers"]):
        assert rows.nth(i).get_attribute("data-testid") == f"activity-driver-{d['driver_id']}"
        assert tab.text(f"activity-in-{d['driver_id']}") == shown(
            format_count(d["trips_in_window"])
        )
        assert tab.text(f"activity-out-{d['driver_id']}") == shown(
            format_count(d["trips_outside_window"]))  # fmt: skip
        assert tab.text(f"activity-claim-{d['driver_id']}") == shown(format_soles(d["would_claim"]))
        for c in d["candidates"]:
            assert tab.testid(f"activity-candidate-{d['driver_id']}-{c['lead_id']}").is_visible()
    assert tab.testid("activity-chart").locator("svg").is_visible()
    tab.shot("activity")

    tab.open("/")
    assert tab.text("unlinked-activity-drivers") == shown(format_count(s["drivers"]))
    assert shown(format_soles(s["would_claim"])) in tab.text("unlinked-activity-would-claim")
    assert shown(format_soles(s["would_claim"])) in tab.text("funnel-unlinked-activity")
    tab.testid("unlinked-activity").click()
    tab.page.wait_for_url(site.url + "/activity")
