"""unlinked_activity_growing on SQLite and PostgreSQL: the daily snapshot the alerts evaluation
writes, the alert raised when the KPI grows from one snapshot to the next, resolved after."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from tests.factories import driver, load
from tests.pipeline.activity_world import NOW, SETTINGS, build

from leadlink.pipeline.money.activity import unlinked_activity
from leadlink.pipeline.operations.alerts import evaluate
from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.store.db import transaction
from leadlink.store.models import ActivityDaily

KIND = ("unlinked_activity_growing", "drivers")


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _alerts(engine: Engine) -> list[tuple[Any, ...]]:
    """(id, resolved, detail) of every unlinked_activity_growing alert ever raised."""
    found = _rows(engine, "SELECT id, resolved_at, detail FROM alert "
                          "WHERE kind = 'unlinked_activity_growing' ORDER BY id")  # fmt: skip
    return [(i, r is not None, d if isinstance(d, dict) else json.loads(d)) for i, r, d in found]


def _daily(engine: Engine) -> list[tuple[Any, ...]]:
    with transaction(engine) as session:
        found = session.scalars(select(ActivityDaily).order_by(ActivityDaily.day))
        return [(r.day.isoformat(), r.drivers, r.trips, r.would_claim, r.updated_at)
                for r in found]  # fmt: skip


def test_the_alert_fires_when_the_kpi_grows_and_resolves_after(
    engine: Engine, tmp_path: Path
) -> None:
    world = build(engine, tmp_path)
    day1 = NOW
    evaluate(world, SETTINGS, now=day1, job_kinds=[])
    # The first snapshot: 4 drivers, 32 trips in their windows, S/ 270; nothing to compare with.
    assert _daily(world) == [("2026-11-01", 4, 32, 270.0, day1)]
    assert _alerts(world) == []

    # A driver who is nobody's lead starts riding: 5 drivers the next day.
    load(world, tmp_path, "drivers", [driver("DN", first_name="Nuevo", last_name="Chofer Paz",
                                             hire_date="2026-11-01")])  # fmt: skip
    load(world, tmp_path, "trips", [{"driver_id": "DN", "date": "2026-11-02",
                                     "completed_trips": "1"}])  # fmt: skip
    match(world, SETTINGS, now=NOW)
    day2 = NOW + dt.timedelta(days=1)
    evaluate(world, SETTINGS, now=day2, job_kinds=[])
    ((alert_id, resolved, detail),) = _alerts(world)
    assert not resolved
    examples = ["DD", "DA", "DC", "DB", "DN"]
    # Each example driver's person: the dashboard links the driver to its person page.
    persons = {d: person_key_for("drivers", d) for d in examples}
    assert detail == {"drivers": 5, "previous": 4, "previous_day": "2026-11-01", "rise": 1,
                      "would_claim": 295.0, "examples": examples, "persons": persons}  # fmt: skip
    assert unlinked_activity(world, SETTINGS, now=day2)["summary"]["drivers"] == 5

    # The same day again: the same snapshot row, untouched, and the same open alert. (DD's
    # 3 trips of 11-02 are in the past now: 32 + 3 + 1 trips in their windows.)
    before = (_daily(world), _alerts(world))
    evaluate(world, SETTINGS, now=day2 + dt.timedelta(hours=3), job_kinds=[])
    assert (_daily(world), _alerts(world)) == before
    assert [d[:4] for d in _daily(world)] == [("2026-11-01", 4, 32, 270.0),
                                             ("2026-11-02", 5, 36, 295.0)]  # fmt: skip

    # The day after, no new driver: no growth, the alert resolves.
    evaluate(world, SETTINGS, now=day2 + dt.timedelta(days=1), job_kinds=[])
    assert [(i, r) for i, r, _ in _alerts(world)] == [(alert_id, True)]
    trend = unlinked_activity(world, SETTINGS, now=day2 + dt.timedelta(days=1), days=3)["trend"]
    assert [(d["day"], d["snapshot"]) for d in trend["days"]] == [
        ("2026-11-01", {"drivers": 4, "trips": 32, "would_claim": 270.0}),
        ("2026-11-02", {"drivers": 5, "trips": 36, "would_claim": 295.0}),
        ("2026-11-03", {"drivers": 5, "trips": 36, "would_claim": 295.0}),
    ]
