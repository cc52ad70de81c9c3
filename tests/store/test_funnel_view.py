"""store.funnel_view on real databases: a partial refresh moves the stored stages exactly as a
full one would, including for the person a lead was taken from."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from tests.pipeline.money.segments_world import NOW, SETTINGS, segments_world

from leadlink.pipeline import summaries
from leadlink.store import funnel_view
from leadlink.store.db import transaction

LADDER = summaries.claim_ladder(SETTINGS)
DAYS = SETTINGS.claim_window_days


def test_a_lead_taken_from_its_person_moves_that_person_and_the_lead(
    engine: Engine, tmp_path: Path
) -> None:
    world = segments_world(engine, tmp_path)
    with transaction(world) as session:
        funnel_view.refresh(session, NOW.date(), DAYS, LADDER)
        before = funnel_view.stored(session)
        rid = session.execute(text(
            "SELECT l.record_id FROM link l JOIN source_record sr "
            "ON sr.id = l.record_id WHERE l.active AND sr.source = 'leads' "
            "ORDER BY l.record_id LIMIT 1"
        )).scalar_one()  # fmt: skip
        # The lead loses its person (by hand, as an unmerge would): the touch names only the
        # lead; the person it left is found through the lead's links.
        session.execute(text("UPDATE link SET active = false WHERE record_id = :r"), {"r": rid})
        keys = funnel_view.refresh(session, NOW.date(), DAYS, LADDER, persons=(), leads={rid})
        assert keys == 2  # the person and the lead
        assert funnel_view.differences(session, NOW.date(), DAYS, LADDER) == []
        after = funnel_view.stored(session)
    assert after["stages"]["NO_IDENTITY"][0] == before["stages"]["NO_IDENTITY"][0] + 1
    assert after["leads"] == before["leads"]


def test_a_refresh_of_nothing_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    world = segments_world(engine, tmp_path)
    with transaction(world) as session:
        funnel_view.refresh(session, NOW.date(), DAYS, LADDER)
        assert funnel_view.refresh(session, NOW.date(), DAYS, LADDER, persons=()) == 0
        assert funnel_view.differences(session, NOW.date(), DAYS, LADDER) == []
