"""plus_days, trips_between and ladder_amount on real SQLite and PostgreSQL: the same answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, literal, select
from tests.factories import load

from leadlink.store.db import transaction
from leadlink.store.windows import ladder_amount, plus_days, trips_between

LADDER = (("M1", 1, 25.0), ("M5", 5, 35.0), ("M25", 25, 100.0))


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        (dt.date(2026, 10, 1), 14, dt.date(2026, 10, 15)),
        (dt.date(2026, 12, 25), 14, dt.date(2027, 1, 8)),  # across a year
        (dt.date(2028, 2, 20), 10, dt.date(2028, 3, 1)),  # across a leap day
        (dt.date(2026, 10, 1), 0, dt.date(2026, 10, 1)),
        (dt.date(2026, 10, 1), -3, dt.date(2026, 9, 28)),
    ],
)
def test_plus_days(engine: Engine, day: dt.date, days: int, expected: dt.date) -> None:
    with transaction(engine) as session:
        got = session.scalar(select(plus_days(literal(day), days)))
    assert (got if isinstance(got, dt.date) else dt.date.fromisoformat(got)) == expected


@pytest.mark.parametrize(
    ("driver", "start", "end", "expected"),
    [
        ("D1", "2026-10-01", "2026-10-15", 1 + 3),  # the last day of the window is out
        ("D1", "2026-10-02", "2026-10-16", 3 + 5),
        ("D1", "2026-09-01", "2026-09-30", 0),  # no trips then
        ("D10", "2026-10-01", "2026-10-31", 7),  # D1's prefix does not reach D10's trips
        ("D2", "2026-10-01", "2026-10-31", 0),  # a day of 0 trips counts nothing
        ("NOBODY", "2026-01-01", "2027-01-01", 0),
    ],
)
def test_trips_between(
    engine: Engine, tmp_path: Path, driver: str, start: str, end: str, expected: int
) -> None:
    load(engine, tmp_path, "trips", [
        {"driver_id": "D1", "date": "2026-10-01", "completed_trips": "1"},
        {"driver_id": "D1", "date": "2026-10-14", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2026-10-15", "completed_trips": "5"},
        {"driver_id": "D10", "date": "2026-10-05", "completed_trips": "7"},
        {"driver_id": "D2", "date": "2026-10-05", "completed_trips": "0"},
    ])  # fmt: skip
    query = select(trips_between(
        literal(driver), literal(dt.date.fromisoformat(start)), literal(dt.date.fromisoformat(end))
    ))  # fmt: skip
    with transaction(engine) as session:
        assert session.scalar(query) == expected


@pytest.mark.parametrize(
    ("trips", "expected"), [(0, 0.0), (1, 25.0), (4, 25.0), (5, 60.0), (24, 60.0), (25, 160.0)]
)
def test_ladder_amount(engine: Engine, trips: int, expected: float) -> None:
    with transaction(engine) as session:
        assert session.scalar(select(ladder_amount(literal(trips), LADDER))) == expected
