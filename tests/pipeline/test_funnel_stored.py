"""The stored funnel (the summaries view ``funnel``, docs/summaries.md) on real databases: every
writer leaves it equal to ``funnel_stages`` computed live, and ``check summaries`` catches a
stored funnel that is not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.pipeline.activity_world import NOW as ACTIVITY_NOW
from tests.pipeline.activity_world import SETTINGS as ACTIVITY_SETTINGS
from tests.pipeline.activity_world import build as activity_world
from tests.pipeline.claims_world import NOW as CLAIMS_NOW
from tests.pipeline.claims_world import SETTINGS as CLAIMS_SETTINGS
from tests.pipeline.claims_world import load_fixture
from tests.pipeline.money.segments_world import NOW, SETTINGS, segments_world

from leadlink.pipeline import summaries
from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.money.funnel import funnel
from leadlink.pipeline.operations.checks import check_summaries
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.lead_post import LeadPoster
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store import funnel_view, jobs
from leadlink.store.db import transaction


def _differences(engine: Engine, settings: Settings, now: dt.datetime) -> list[str]:
    with transaction(engine) as session:
        assert "funnel" not in summaries.stale_views(session, settings, now)
        return funnel_view.differences(session, now.date(), settings.claim_window_days,
                                       summaries.claim_ladder(settings))  # fmt: skip


def _item(engine: Engine, lead_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT ri.id FROM review_item ri JOIN source_record sr ON sr.id = ri.record_id "
            "WHERE sr.source_pk = :lead AND ri.status = 'open'"
        ), {"lead": lead_id}).scalar_one())  # fmt: skip


def _leads(engine: Engine, settings: Settings, now: dt.datetime) -> dict[str, int]:
    stages = funnel(engine, settings, now=now)["stages"]
    return {s: v["leads"] for s, v in stages.items()}


@pytest.fixture
def at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check summaries`` reads the clock: the funnel is compared only for its own day."""
    monkeypatch.setattr("leadlink.clock.utcnow", lambda: NOW)


def test_match_stores_the_funnel_equal_to_its_definition(
    engine: Engine, tmp_path: Path, at_now: None
) -> None:
    world = segments_world(engine, tmp_path)
    match(world, SETTINGS, now=NOW)
    assert _differences(world, SETTINGS, NOW) == []
    data = funnel(world, SETTINGS, now=NOW)
    assert data["summary_table"]["lagging"] is False
    assert data["summary_table"]["as_of"] == NOW.date().isoformat()
    assert sum(v["leads"] for v in data["stages"].values()) == data["leads"] > 0
    result = check_summaries(world, SETTINGS)
    assert result.ok and "funnel not computed" not in result.detail


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_review_decision_moves_the_stored_funnel(
    engine: Engine, tmp_path: Path, decision: str
) -> None:
    world = segments_world(engine, tmp_path)
    before = _leads(world, SETTINGS, NOW)
    getattr(review, decision)(world, SETTINGS, _item(world, "LR1"), actor="ana", now=NOW)
    # Not recomputed by the reader: the decision's touch moved the rows in its transaction.
    assert _differences(world, SETTINGS, NOW) == []
    after = _leads(world, SETTINGS, NOW)
    if decision == "accept":  # linked: LR1 leaves NO_IDENTITY for its person's stage
        assert after["NO_IDENTITY"] == before["NO_IDENTITY"] - 1
        assert sum(after.values()) == sum(before.values())
    else:
        assert after == before


def test_an_online_post_moves_the_stored_funnel(engine: Engine, tmp_path: Path) -> None:
    world = activity_world(engine, tmp_path)
    before = _leads(world, ACTIVITY_SETTINGS, ACTIVITY_NOW)
    poster = LeadPoster(world, ACTIVITY_SETTINGS)
    miguel = {"lead_id": "L28", "first_name": "Miguel Angel", "last_name": "Torres Vega",
              "phone": "987333444", "created_at": "2026-10-15 10:00:00"}  # fmt: skip
    assert poster.post(miguel, actor="api", now=ACTIVITY_NOW).created
    nobody = {"lead_id": "L29", "first_name": "Nadie", "phone": "955000111",
              "created_at": "2026-10-20 10:00:00"}  # fmt: skip
    poster.post(nobody, actor="api", now=ACTIVITY_NOW)
    assert _differences(world, ACTIVITY_SETTINGS, ACTIVITY_NOW) == []
    after = _leads(world, ACTIVITY_SETTINGS, ACTIVITY_NOW)
    assert sum(after.values()) == sum(before.values()) + 2
    assert after["NO_IDENTITY"] == before["NO_IDENTITY"] + 1  # L29: nobody to link it to


def test_the_claims_job_refreshes_the_stored_funnel(engine: Engine) -> None:
    load_fixture(engine)
    assert _leads(engine, CLAIMS_SETTINGS, CLAIMS_NOW)["TRIPS_NO_CLAIM"] == 5
    compute_claims(engine, CLAIMS_SETTINGS, now=CLAIMS_NOW)
    assert _differences(engine, CLAIMS_SETTINGS, CLAIMS_NOW) == []
    data = funnel(engine, CLAIMS_SETTINGS, now=CLAIMS_NOW)
    assert (data["stages"]["OK"]["leads"], data["stages"]["TRIPS_NO_CLAIM"]["leads"]) == (5, 0)
    assert sum(data["stages"]["OK"]["by_status"].values()) == data["stages"]["OK"]["amount"]


def test_a_new_day_recomputes_the_stored_funnel(engine: Engine) -> None:
    load_fixture(engine)
    funnel(engine, CLAIMS_SETTINGS, now=CLAIMS_NOW)
    later = CLAIMS_NOW + dt.timedelta(days=40)  # every window closed, trips up to a later day
    with transaction(engine) as session:
        assert "funnel" in summaries.stale_views(session, CLAIMS_SETTINGS, later)
    data = funnel(engine, CLAIMS_SETTINGS, now=later)
    assert data["summary_table"]["as_of"] == later.date().isoformat()
    assert _differences(engine, CLAIMS_SETTINGS, later) == []


def test_a_corrupted_stored_funnel_fails_the_check(
    engine: Engine, tmp_path: Path, at_now: None
) -> None:
    world = segments_world(engine, tmp_path)
    funnel(world, SETTINGS, now=NOW)
    with world.begin() as conn:
        conn.execute(text("UPDATE funnel_stage SET leads = leads + 1 WHERE stage = 'NO_DRIVER'"))
    result = check_summaries(world, SETTINGS)
    assert not result.ok
    assert any(e.startswith("funnel: funnel_stage NO_DRIVER: leads") for e in result.examples)
    summaries.refresh(world, SETTINGS, NOW, views=("funnel",))
    with world.begin() as conn:  # a person's row alone: the totals still hold
        conn.execute(text("UPDATE funnel_person SET stage = 'OK' WHERE stage = 'NO_IDENTITY' "
                          "AND key = (SELECT min(key) FROM funnel_person WHERE stage = "
                          "'NO_IDENTITY')"))  # fmt: skip
    result = check_summaries(world, SETTINGS)
    assert not result.ok
    assert any(e.startswith("funnel: funnel_person #") for e in result.examples)


def test_a_claims_run_that_died_marks_the_stored_funnel_lagging(engine: Engine) -> None:
    load_fixture(engine)
    funnel(engine, CLAIMS_SETTINGS, now=CLAIMS_NOW)  # computed at CLAIMS_NOW
    later = CLAIMS_NOW + dt.timedelta(hours=1)
    run = jobs.start(engine, "claims", later)
    jobs.finish(engine, run, later, counts={}, error="RuntimeError: boom")
    assert funnel(engine, CLAIMS_SETTINGS, now=later)["summary_table"]["lagging"] is True
    compute_claims(engine, CLAIMS_SETTINGS, now=later + dt.timedelta(minutes=1))
    assert funnel(engine, CLAIMS_SETTINGS, now=later)["summary_table"]["lagging"] is False
