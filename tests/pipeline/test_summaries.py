"""The money views' summary tables (docs/summaries.md) on real databases: every writer leaves
them equal to their definitions, and a reader never gets rows it cannot trust."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from tests.factories import lead, load
from tests.pipeline.activity_world import MATCHED_AT, review_item_of
from tests.pipeline.activity_world import NOW as ACTIVITY_NOW
from tests.pipeline.activity_world import SETTINGS as ACTIVITY_SETTINGS
from tests.pipeline.activity_world import build as activity_world
from tests.pipeline.money.segments_world import NOW, SETTINGS, segments_world
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.pipeline import summaries
from leadlink.pipeline.money.activity import unlinked_activity
from leadlink.pipeline.money.segments import backlog_segments
from leadlink.pipeline.operations.checks import check_summaries
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.lead_post import LeadPoster
from leadlink.pipeline.resolution.resolve import match
from leadlink.store import activity_view, backlog_view, jobs
from leadlink.store.db import transaction
from leadlink.store.money_tables import BacklogLead


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return segments_world(engine, tmp_path)


def _item(engine: Engine, lead_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT ri.id FROM review_item ri JOIN source_record sr ON sr.id = ri.record_id "
            "WHERE sr.source_pk = :lead AND ri.status = 'open'"
        ), {"lead": lead_id}).scalar_one())  # fmt: skip


def _backlog_differences(engine: Engine, now: dt.datetime = NOW) -> list[str]:
    with transaction(engine) as session:
        return backlog_view.differences(session, summaries.segment_rules(SETTINGS, now))


def _refreshed(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT view, rows FROM money_refresh")).all())  # type: ignore[arg-type]


def test_match_leaves_both_views_computed_and_equal_to_their_definitions(world: Engine) -> None:
    assert _refreshed(world) == {}  # LU1's ingest, after the last match, forgot them
    match(world, SETTINGS, now=NOW)  # decides LU1
    # The 8 KPI-red leads and LT, inside its grace day; the activity of DRIVERS with no lead.
    assert _refreshed(world)["backlog"] == 9
    assert _backlog_differences(world) == []
    assert check_summaries(world, SETTINGS).ok


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_review_decision_rewrites_the_rows_it_touches(world: Engine, decision: str) -> None:
    before = backlog_segments(world, SETTINGS, now=NOW)["segments"]["recoverable"]["leads"]
    getattr(review, decision)(world, SETTINGS, _item(world, "LR1"), actor="ana", now=NOW)
    # Not recomputed by the reader: the decision wrote the rows in its own transaction.
    with transaction(world) as session:
        assert summaries.stale_views(session, SETTINGS, NOW) == []
    assert _backlog_differences(world) == []
    report = backlog_segments(world, SETTINGS, now=NOW)
    assert report["segments"]["recoverable"]["leads"] == before - 1
    rows = {r["lead_id"]: r for r in report["leads"]}
    if decision == "accept":
        assert "LR1" not in rows  # linked: out of the backlog
    else:
        assert (rows["LR1"]["segment"], rows["LR1"]["loss_reason"]) == ("lost", "WEAK_MATCH_ONLY")


def test_ingest_forgets_the_summaries_and_the_next_reader_counts_the_new_lead(
    world: Engine, tmp_path: Path
) -> None:
    load(world, tmp_path, "leads", [lead("LZ", created_at="2026-10-04")])
    assert _refreshed(world) == {}  # forgotten with the ingest's own writes
    rows = {r["lead_id"]: r for r in backlog_segments(world, SETTINGS, now=NOW)["leads"]}
    assert (rows["LZ"]["segment"], rows["LZ"]["loss_reason"]) == ("lost", "NOT_MATCHED")
    assert _backlog_differences(world) == []


def test_rows_computed_under_other_settings_are_recomputed_before_they_are_read(
    world: Engine,
) -> None:
    """M5 at S/ 50 instead of 35: LR1's 6 trips in its window are worth S/ 75, although the
    stored rows were priced with the default ladder."""
    assert backlog_segments(world, SETTINGS, now=NOW)["segments"]["recoverable"]["at_stake"] == 60
    dearer = SETTINGS.model_copy(update={"claim_m5": 50.0})
    split = backlog_segments(world, dearer, now=NOW)["segments"]
    assert split["recoverable"]["at_stake"] == 75.0
    assert split["waiting"]["at_stake"] == 2 * 175.0


def test_a_tampered_row_fails_the_check_and_names_the_lead(world: Engine, db_url: str) -> None:
    assert "backlog not computed" in check_summaries(world, SETTINGS).detail
    backlog_segments(world, SETTINGS, now=NOW)
    with world.begin() as conn:
        conn.execute(text(
            "UPDATE backlog_lead SET candidate_trips = 99 WHERE lead_id = 'LR1'"
        ))  # fmt: skip
    result = check_summaries(world, SETTINGS)
    assert (result.ok, result.examples) == (False, ["backlog: LR1"])
    out = CliRunner().invoke(app, ["--db", db_url, "check", "summaries"])
    assert out.exit_code == 1, out.output


def test_a_writer_job_that_died_marks_the_figures_lagging(world: Engine) -> None:
    backlog_segments(world, SETTINGS, now=NOW)  # computed at NOW
    later = NOW + dt.timedelta(hours=1)
    run = jobs.start(world, "match", later)
    jobs.finish(world, run, later, counts={}, error="RuntimeError: boom")
    report = backlog_segments(world, SETTINGS, now=later)
    assert report["summary_table"]["lagging"] is True
    assert "without finishing" in check_summaries(world, SETTINGS).detail
    match(world, SETTINGS, now=later + dt.timedelta(minutes=1))  # the next run refreshes them
    assert backlog_segments(world, SETTINGS, now=later)["summary_table"]["lagging"] is False


def test_activity_rows_follow_a_decision_on_a_candidate_lead(
    engine: Engine, tmp_path: Path
) -> None:
    world = activity_world(engine, tmp_path)
    unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)  # computed for the day
    review.accept(world, ACTIVITY_SETTINGS, review_item_of(world, "L1"), actor="analyst",
                  now=ACTIVITY_NOW)  # fmt: skip
    with transaction(world) as session:
        assert summaries.stale_views(session, ACTIVITY_SETTINGS, ACTIVITY_NOW) == []
        assert activity_view.differences(session, ACTIVITY_NOW.date(),
                                         ACTIVITY_SETTINGS.claim_window_days,
                                         summaries.claim_ladder(ACTIVITY_SETTINGS)) == []
    drivers = unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)["drivers"]
    assert "DB" not in [d["driver_id"] for d in drivers]  # Luis's person has a lead now
    match(world, ACTIVITY_SETTINGS, now=MATCHED_AT)
    assert check_summaries(world, ACTIVITY_SETTINGS).ok


def test_an_online_post_rewrites_the_rows_of_its_lead_and_persons(
    engine: Engine, tmp_path: Path
) -> None:
    """A lead posted in Miguel's name and phone is linked to DC's person: DC leaves unlinked
    activity at once, and a lead nobody can place joins the backlog's rows."""
    world = activity_world(engine, tmp_path)
    unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)  # computed for the day
    poster = LeadPoster(world, ACTIVITY_SETTINGS)
    miguel = {"lead_id": "L28", "first_name": "Miguel Angel", "last_name": "Torres Vega",
              "phone": "987333444", "created_at": "2026-10-15 10:00:00"}  # fmt: skip
    assert poster.post(miguel, actor="api", now=ACTIVITY_NOW).created
    nobody = {"lead_id": "L29", "first_name": "Nadie", "phone": "955000111",
              "created_at": "2026-10-20 10:00:00"}  # fmt: skip
    poster.post(nobody, actor="api", now=ACTIVITY_NOW)
    with transaction(world) as session:
        assert summaries.stale_views(session, ACTIVITY_SETTINGS, ACTIVITY_NOW) == []
        rules = summaries.segment_rules(ACTIVITY_SETTINGS, ACTIVITY_NOW)
        assert backlog_view.differences(session, rules) == []
        assert activity_view.differences(session, ACTIVITY_NOW.date(),
                                         ACTIVITY_SETTINGS.claim_window_days,
                                         summaries.claim_ladder(ACTIVITY_SETTINGS)) == []
        stored = session.scalars(select(BacklogLead.lead_id)).all()
    assert "L29" in stored and "L28" not in stored
    drivers = unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)["drivers"]
    assert "DC" not in [d["driver_id"] for d in drivers]


def test_a_tampered_trip_day_fails_the_check(engine: Engine, tmp_path: Path) -> None:
    world = activity_world(engine, tmp_path)
    unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)
    with world.begin() as conn:
        conn.execute(text("UPDATE activity_trip_day SET trips = trips + 1"))
    with transaction(world) as session:
        found = activity_view.differences(session, ACTIVITY_NOW.date(),
                                          ACTIVITY_SETTINGS.claim_window_days,
                                          summaries.claim_ladder(ACTIVITY_SETTINGS))  # fmt: skip
    # The trip days differ from the trips, and the per-day trend from the trip days.
    assert found and all(f.startswith(("trip days of record ", "trend of day ")) for f in found)


def test_a_tampered_trend_day_fails_the_check(engine: Engine, tmp_path: Path) -> None:
    world = activity_world(engine, tmp_path)
    unlinked_activity(world, ACTIVITY_SETTINGS, now=ACTIVITY_NOW)
    ladder = summaries.claim_ladder(ACTIVITY_SETTINGS)
    days = ACTIVITY_SETTINGS.claim_window_days
    with transaction(world) as session:
        assert activity_view.differences(session, ACTIVITY_NOW.date(), days, ladder) == []
    with world.begin() as conn:
        (day,) = conn.execute(text("SELECT min(day) FROM activity_day")).one()
        bump = "UPDATE activity_day SET drivers = drivers + 1 WHERE day = :d"
        conn.execute(text(bump), {"d": day})
    with transaction(world) as session:
        found = activity_view.differences(session, ACTIVITY_NOW.date(), days, ladder)
    assert found == [f"trend of day {str(day)[:10]}"]
