"""claim_windows.reached_rows on real SQLite and PostgreSQL: the day each milestone is reached
inside a person's window (day 0 counts, day 14 does not; a person's drivers add up; the
earliest lead anchors; quarantine and trips after today count nothing)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load

from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store import claim_windows
from leadlink.store.db import transaction

D = dt.date
MILESTONES = (("M1", 1), ("M5", 5), ("M25", 25))
PHONE = {"phone": "987654321"}
DOCUMENT = {"document": "41234567"}  # two drivers records of one person share it


def _trips(driver_id: str, *days: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"driver_id": driver_id, "date": d, "completed_trips": str(n)} for d, n in days]


# (case, leads (id, created_at), drivers, trips, today, expected milestone -> day)
CASES = [
    ("day 0 and day 13 count, day 14 and the day before do not",
     [("L1", "2026-10-01 09:00:00")], ["D1"],
     _trips("D1", ("2026-09-30", 9), ("2026-10-01", 1), ("2026-10-14", 4), ("2026-10-15", 40)),
     D(2026, 11, 1), {"M1": D(2026, 10, 1), "M5": D(2026, 10, 14)}),
    ("two drivers of one person on one day add up",
     [("L1", "2026-10-01 09:00:00")], ["D1", "D2"],
     _trips("D1", ("2026-10-03", 3)) + _trips("D2", ("2026-10-03", 2)),
     D(2026, 11, 1), {"M1": D(2026, 10, 3), "M5": D(2026, 10, 3)}),
    ("the earliest lead anchors the window",
     [("L2", "2026-10-10 09:00:00"), ("L1", "2026-10-01 09:00:00")], ["D1"],
     _trips("D1", ("2026-10-20", 30)),  # inside L2's window, after L1's
     D(2026, 11, 1), {}),
    ("trips dated after today are not counted yet",
     [("L1", "2026-10-01 09:00:00")], ["D1"],
     _trips("D1", ("2026-10-02", 1), ("2026-10-05", 30)),
     D(2026, 10, 4), {"M1": D(2026, 10, 2)}),
    ("a day of 0 trips reaches nothing", [("L1", "2026-10-01 09:00:00")], ["D1"],
     _trips("D1", ("2026-10-02", 0)), D(2026, 11, 1), {}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "leads", "drivers", "trips", "today", "expected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_reached(
    engine: Engine, tmp_path: Path, case: str, leads: list[tuple[str, str]],
    drivers: list[str], trips: list[dict[str, Any]], today: dt.date,
    expected: dict[str, dt.date],
) -> None:  # fmt: skip
    load(engine, tmp_path, "drivers", [driver(d, first_name="Ana", last_name="Quispe Rojas",
                                              **PHONE, **DOCUMENT) for d in drivers])  # fmt: skip
    load(engine, tmp_path, "leads", [lead(i, created_at=c, first_name="Ana",
                                          last_name="Quispe Rojas", **PHONE) for i, c in leads])
    load(engine, tmp_path, "trips", trips)
    match(engine, Settings(db="sqlite://", probabilistic=False), now=NOW)
    with transaction(engine) as session:
        got = list(claim_windows.reached_rows(session, today, 14, MILESTONES))
    assert [days for *_, days in got] == ([expected] if expected else [])
    if expected:  # anchored on the earliest lead
        person, rid, lead_date, _ = got[0]
        assert lead_date == D(2026, 10, 1)


def test_a_quarantined_person_has_no_window(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "drivers", [driver("D1", first_name="Ana", last_name="Quispe Rojas",
                                              **PHONE)])  # fmt: skip
    load(engine, tmp_path, "leads", [lead("L1", first_name="Ana", last_name="Quispe Rojas",
                                          **PHONE)])  # fmt: skip
    load(engine, tmp_path, "trips", _trips("D1", ("2026-10-02", 5)))
    match(engine, Settings(db="sqlite://", probabilistic=False), now=NOW)
    with transaction(engine) as session:
        assert len(list(claim_windows.reached_rows(session, D(2026, 11, 1), 14, MILESTONES))) == 1
        person = session.execute(text("SELECT person_key FROM link WHERE active")).scalars().first()
        rid = session.scalar(text("SELECT id FROM source_record WHERE source = 'drivers'"))
        session.execute(
            text("INSERT INTO quarantine (record_id, person_key, reason, active, quarantined_at) "
                 "VALUES (:r, :p, 'test', :a, :t)"),
            {"r": rid, "p": person, "a": True, "t": NOW},
        )  # fmt: skip
        assert list(claim_windows.reached_rows(session, D(2026, 11, 1), 14, MILESTONES)) == []
