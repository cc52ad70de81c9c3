"""Unlinked activity on every surface, on SQLite and PostgreSQL: GET /api/activity, the page's
JSON and `leadlink activity --json` are one dict; the page, the overview, the funnel and
/metrics show its figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.pipeline.activity_world import build
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.clock import utcnow
from leadlink.pipeline.money.activity import unlinked_activity
from leadlink.settings import Settings
from leadlink.web.i18n import format_soles


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return build(engine, tmp_path)


def cli_activity(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", db_url, "activity", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "params"),
    [((), {}), (("--limit", "2", "--offset", "1", "--days", "45"),
                {"limit": 2, "offset": 1, "days": 45})],
)  # fmt: skip
def test_the_api_the_page_json_and_the_cli_are_one_dict(
    world: Engine,
    db_url: str,
    client: TestClient,
    viewer: dict[str, str],
    args: tuple[str, ...],
    params: dict[str, int],
) -> None:
    expected = cli_activity(db_url, *args)
    api = client.get("/api/activity", params=params, headers=viewer)
    page = client.get("/activity.json", params=params, headers=viewer)
    assert api.status_code == page.status_code == 200
    assert api.json() == page.json() == expected
    # The real clock (the CLI's) is past every trip of the world: DH's trips count too.
    assert expected["summary"]["drivers"] == 5
    assert [r["driver_id"] for r in expected["drivers"]] == (
        ["DA", "DC"] if params else ["DD", "DA", "DC", "DB", "DH"]
    )


def test_the_api_refuses_what_it_does_not_know(
    world: Engine, client: TestClient, viewer: dict[str, str]
) -> None:
    assert client.get("/api/activity").status_code == 401
    for params in ({"dayz": 3}, {"days": 0}, {"days": 367}, {"limit": 501}, {"offset": -1}):
        response = client.get("/api/activity", params=params, headers=viewer)
        assert response.status_code == 422, params
        assert list(params)[0] in response.text


def _cell(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>([^<]*)<', html)
    assert found, testid
    return found.group(1).strip()


def test_the_page_the_overview_and_the_funnel_show_the_figures(
    world: Engine, web_settings: Settings, client: TestClient, viewer: dict[str, str]
) -> None:
    data = unlinked_activity(world, web_settings, now=utcnow())
    assert data["summary"]["would_claim"] == 270.0
    page = client.get("/activity", headers=viewer)
    assert page.status_code == 200
    assert _cell(page.text, "activity-drivers") == "5"
    assert _cell(page.text, "activity-would-claim") == format_soles(270.0)
    assert _cell(page.text, "activity-claim-DD") == format_soles(160.0)
    assert _cell(page.text, "activity-in-DA") == "5" and _cell(page.text, "activity-out-DA") == "15"
    assert 'data-testid="activity-candidate-DB-L1"' in page.text
    assert 'href="/leads/L1"' in page.text  # a candidate lead links to its page
    assert 'data-testid="nav-activity"' in page.text and "<svg" in page.text
    english = client.get("/activity", params={"lang": "en"}, headers=viewer)
    assert "Activity with no lead" in english.text

    overview = client.get("/", params={"lang": "es"}, headers=viewer)
    assert _cell(overview.text, "unlinked-activity-drivers") == "5"
    assert format_soles(270.0) in _cell(overview.text, "unlinked-activity-would-claim")
    assert 'href="/activity" data-testid="funnel-unlinked-activity"' in overview.text
    funnel = client.get("/api/funnel", headers=viewer).json()
    assert funnel["unlinked_activity"] == {"drivers": 5, "would_claim": 270.0}
    assert client.get("/overview.json", headers=viewer).json()["funnel"] == funnel


def test_metrics_carry_the_unlinked_activity_gauges(
    world: Engine, client: TestClient, viewer: dict[str, str]
) -> None:
    text = client.get("/metrics", headers=viewer).text
    assert "leadlink_unlinked_activity_drivers 5.0" in text
    assert "leadlink_unlinked_activity_would_claim_soles 270.0" in text


def test_drivers_sort_both_ways_and_the_anchor_facets_count_what_they_select(
    world: Engine, client: TestClient, viewer: dict[str, str]
) -> None:
    def get(path: str, **params: Any) -> Any:
        got = client.get(path, params={"limit": 500, **params}, headers=viewer)
        assert got.status_code == 200, got.text
        return got.json()

    most = get("/api/activity")["drivers"]
    least = get("/api/activity", sort="would_claim")["drivers"]
    assert least == list(reversed(most))  # the same index read backwards, ties included
    assert [d["would_claim"] for d in least] == sorted(d["would_claim"] for d in most)
    page = get("/activity.json", sort="would_claim", limit=2, offset=1)
    assert page["drivers"] == least[1:3] and page["sort"] == "would_claim"
    facets = get("/activity.json")["facets"]
    assert sum(facets["anchor"].values()) == len(most)
    assert sum(facets["has_candidate"].values()) == len(most)
    for anchor, n in facets["anchor"].items():
        chosen = get("/api/activity", anchor=anchor)
        assert chosen["total"] == n == len(chosen["drivers"])
        assert {d["anchor"] for d in chosen["drivers"]} == {anchor}
        assert chosen["facets"]["anchor"] == {anchor: n}
    html = client.get("/activity", params={"sort": "would_claim"}, headers=viewer).text
    assert 'aria-sort="ascending"><a href="/activity?days=30&amp;sort=-would_claim"' in html
    assert client.get("/api/activity", params={"anchor": "moon"}, headers=viewer).status_code == 422
    assert client.get("/activity", params={"anchor": "moon"}, headers=viewer).status_code == 422
