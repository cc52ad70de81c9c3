"""The review queue's money at stake (docs/review.md, "Money at stake") on real databases: each
open item's figure is what its lead could still claim if linked, the queue is ordered by it,
every writer keeps it equal to its definition, and `check summaries` says when it is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.factories import load
from tests.review_factories import LUIS, item_id, rows
from tests.stake_world import NOW, ORDER, SETTINGS, STAKED, TOTAL, ordered_ids, stake_world
from typer.testing import CliRunner

from leadlink import clock
from leadlink.cli import app, console
from leadlink.pipeline import summaries
from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.operations.checks import check_summaries
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.lead_post import LeadPoster
from leadlink.store import review_stake
from leadlink.store.db import transaction


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return stake_world(engine, tmp_path)


def _stored(engine: Engine) -> dict[int, float]:
    found = rows(engine, "SELECT id, at_stake FROM review_item WHERE status = 'open'")
    return {int(r[0]): float(r[1]) for r in found}


def _queue(engine: Engine, **kw: int) -> list[tuple[int, float | None]]:
    page = review.list_items(engine, SETTINGS, now=NOW, **kw)
    return [(i["id"], i["at_stake"]) for i in page["items"]]


def test_each_figure_is_what_its_lead_could_still_claim(world: Engine) -> None:
    ids = ordered_ids(world)
    le = item_id(world, "LE", "D5")
    # Stored without the calendar: LE's 2 trips reach M1 (S/ 25) ...
    assert _stored(world) == {i: s for i, (_l, _d, s, _dl) in zip(ids, ORDER, strict=True)} | {
        le: 25.0
    }
    page = review.list_items(world, SETTINGS, now=NOW)
    # ... but its claims would be expired (deadline 07-15 + 60 days < 10-20): it shows 0.
    assert [(i["id"], i["at_stake"], i["deadline"]) for i in page["items"]] == [
        (i, s, d) for i, (_l, _d, s, d) in zip(ids, ORDER, strict=True)
    ]
    assert (page["at_stake"], page["staked"], page["total"]) == (TOTAL, STAKED, 6)
    assert page["summary_table"]["rows"] == 6 and not page["summary_table"]["lagging"]


def test_pages_cut_across_the_two_ranges_in_order(world: Engine) -> None:
    everything = _queue(world)
    one_by_one = [row for k in range(6) for row in _queue(world, limit=1, offset=k)]
    assert one_by_one == everything
    assert _queue(world, limit=2, offset=2) == everything[2:4]
    assert _queue(world, limit=10, offset=5) == everything[5:]
    assert _queue(world, limit=3, offset=6) == []


def test_an_undated_item_comes_last(world: Engine) -> None:
    ids = ordered_ids(world)
    with world.begin() as conn:  # as for a record with no date: no deadline, no window
        conn.execute(text("UPDATE review_item SET deadline = NULL WHERE id = :i"), {"i": ids[1]})
    order = [ids[0], ids[2], ids[3], ids[4], ids[5], ids[1]]
    assert [i for i, _s in _queue(world)] == order
    assert [row for k in range(6) for row in _queue(world, limit=1, offset=k)] == _queue(world)
    assert dict(_queue(world))[ids[1]] == 0.0


def test_a_claimed_milestone_is_not_at_stake_and_the_claims_job_says_so(world: Engine) -> None:
    l2 = item_id(world, "L2", "D2")
    with world.begin() as conn:  # as before the first claims run: D2's M1 not claimed yet
        conn.execute(text("DELETE FROM claim"))
    summaries.refresh(world, SETTINGS, NOW, views=["review"])
    assert _stored(world)[l2] == 160.0  # 31 trips inside L2's window: the whole ladder
    compute_claims(world, SETTINGS, now=NOW)  # claims M1 through LZ, and refreshes the figure
    assert _stored(world)[l2] == 135.0
    assert check_summaries(world, SETTINGS).ok


def test_new_trips_count_for_the_next_reader(world: Engine, tmp_path: Path) -> None:
    # D4 is in quarantine (no lead, no origin, no trips): a link gives it its lead, so its
    # trips are at stake like anyone's.
    assert rows(world, "SELECT count(*) FROM quarantine WHERE active")[0][0] == 1
    d4 = item_id(world, "L3", "D4")
    load(world, tmp_path, "trips", [
        {"driver_id": "D4", "date": "2026-10-05", "completed_trips": "5"},
    ])  # fmt: skip
    # The ingest forgot the figures; the queue's reader computes them before it reads one.
    with transaction(world) as session:
        assert "review" in summaries.stale_views(session, SETTINGS, NOW)
    ids = ordered_ids(world)
    assert _queue(world)[:4] == [(ids[0], 135.0), (ids[1], 60.0), (d4, 60.0), (ids[2], 25.0)]


def test_a_posted_lead_has_its_figure_at_once(world: Engine) -> None:
    poster = LeadPoster(world, SETTINGS)
    luis = {"lead_id": "L9", **LUIS, "created_at": "2026-10-05 10:00:00"}
    assert poster.post(luis, actor="api", now=NOW).created
    # Its window [10-05, 10-19) holds D1's 3 trips of 10-10 and 20 of 10-15: M1 + M5.
    assert _stored(world)[item_id(world, "L9", "D1")] == 60.0
    assert check_summaries(world, SETTINGS).ok


def test_an_accept_rewrites_the_persons_other_items(world: Engine) -> None:
    poster = LeadPoster(world, SETTINGS)
    assert poster.post({"lead_id": "L9", **LUIS, "created_at": "2026-10-05 10:00:00"},
                       actor="api", now=NOW).created  # fmt: skip
    l9 = item_id(world, "L9", "D1")
    review.accept(world, SETTINGS, item_id(world, "L1", "D1"), actor="ana", now=NOW)
    # D1's person now has lead L1 (10-01): L9's claims would anchor there, nothing new.
    assert _stored(world)[l9] == 0.0
    assert check_summaries(world, SETTINGS).ok


def test_a_decided_item_shows_no_figure(world: Engine) -> None:
    item = item_id(world, "L2", "D2")
    done = review.reject(world, SETTINGS, item, actor="ana", now=NOW)
    assert done["item"]["at_stake"] is None
    page = review.list_items(world, SETTINGS, status="rejected", now=NOW)
    assert [(i["id"], i["at_stake"]) for i in page["items"]] == [(item, None)]
    assert page["at_stake"] == TOTAL - 135.0  # the open queue's total


def test_check_summaries_names_a_stored_figure_that_is_not_its_definition(world: Engine) -> None:
    item = item_id(world, "L1", "D1")
    with world.begin() as conn:
        conn.execute(text("UPDATE review_item SET at_stake = 999 WHERE id = :i"), {"i": item})
    found = check_summaries(world, SETTINGS)
    assert not found.ok
    assert found.examples == [f"review: review_item {item}: at_stake 999.0 but 60.0"]
    with transaction(world) as session:
        assert review_stake.differences(session, 14, summaries.claim_ladder(SETTINGS)) != []
    summaries.refresh(world, SETTINGS, NOW, views=["review"])
    assert check_summaries(world, SETTINGS).ok


def test_review_list_shows_the_stake_and_its_json_the_total(
    world: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    monkeypatch.setattr(console.out, "width", 200)  # one line per row: the cells read whole
    runner = CliRunner()
    out = runner.invoke(app, ["--db", db_url, "review", "list", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [i["id"] for i in data["items"]] == ordered_ids(world)
    assert (data["at_stake"], data["staked"]) == (TOTAL, STAKED)
    assert [i["at_stake"] for i in data["items"]] == [s for _l, _d, s, _dl in ORDER]
    shown = runner.invoke(app, ["--db", db_url, "review", "list"])
    assert shown.exit_code == 0, shown.output
    assert "S/ at stake" in shown.output and "S/ 220.00 at stake in 3 items" in shown.output
    # A row's first line is the one with its id: id, record, person, rule, S/ at stake, deadline.
    cells = [ln.split("│") for ln in shown.output.splitlines() if ln.count("│") == 7]
    first = [c for c in cells if c[1].strip().isdigit()]
    assert [c[2].strip() for c in first] == [f"leads/{lead}" for lead, _d, _s, _dl in ORDER]
    assert [c[5].strip() for c in first] == ["135.00", "60.00", "25.00", "0.00", "0.00", "0.00"]
