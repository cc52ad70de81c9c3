"""A hand-made world for unlinked activity (docs/activity.md), every figure worked out by hand.

Today is 2026-11-01 (``NOW``); the claim window is 14 days; M1/M5/M25 = S/ 25/35/100.

In the KPI (no lead, no origin, trips on or before today):

- DA, anchored on its hire date 10-05 (window [10-05, 10-19)): trips 10-03 (2, before),
  10-06 (3) and 10-18 (2) inside, 10-19 (4, the window's end: after), a day of 0 trips (10-10)
  and 9 trips on 11-05 (after today): 11 trips, 5 inside (M1 + M5 = S/ 60), 6 outside.
- DB (Luis), anchored on lead L1 (10-01) proposed for review (same name and car): window
  [10-01, 10-15); trips 10-01 (1) and 10-20 (2): 3 trips, 1 inside (S/ 25), 2 outside.
- DC (Miguel), anchored on lead L9 (09-25), which shares his phone under another name (a weak
  candidate in its unmatched row): window [09-25, 10-09); trips 09-21 (5) and 10-01 (1): 6
  trips, 1 inside (S/ 25), 5 outside.
- DD, no hire date (nulled: ingest requires one today; rows of older loads may lack it), so
  anchored on its first trip 10-20: window [10-20, 11-03), still open; 25 trips on 10-20
  (M1 + M5 + M25 = S/ 160) and 3 on 11-02 (after today).

Not in it: DE (Rosa, a lead L2 linked by phone), DF (Carmen, a scouting record linked by phone:
origin ``scout_registration``), DG (no trips at all: quarantined), DH (only a day of 0 trips
and trips after today).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from tests.factories import driver, lead, load, scouting

from leadlink.pipeline.money.quarantine import scan
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings

SETTINGS = Settings(db="sqlite://", probabilistic=False)
NOW = dt.datetime(2026, 11, 1, 12, 0, 0)
MATCHED_AT = dt.datetime(2026, 11, 1, 6, 0, 0)

LUIS = {"first_name": "Luis Alberto", "last_name": "Huaman Ccori",
        "car_brand": "Toyota", "car_model": "Yaris"}  # fmt: skip
MIGUEL = {"first_name": "Miguel Angel", "last_name": "Torres Vega", "phone": "987333444"}
ROSA = {"first_name": "Rosa Elena", "last_name": "Condori Apaza", "phone": "987000111"}
CARMEN = {"first_name": "Carmen", "last_name": "Flores Rojas", "phone": "987111222"}

TRIPS = [
    ("DA", "2026-10-03", 2), ("DA", "2026-10-06", 3), ("DA", "2026-10-10", 0),
    ("DA", "2026-10-18", 2), ("DA", "2026-10-19", 4), ("DA", "2026-11-05", 9),
    ("DB", "2026-10-01", 1), ("DB", "2026-10-20", 2),
    ("DC", "2026-09-21", 5), ("DC", "2026-10-01", 1),
    ("DD", "2026-10-20", 25), ("DD", "2026-11-02", 3),
    ("DE", "2026-10-06", 3), ("DF", "2026-10-06", 9),
    ("DH", "2026-10-10", 0), ("DH", "2026-11-05", 7),
]  # fmt: skip

# driver id -> (first_trip, last_trip, trips, window_from, window_to, anchor, in, out, S/)
EXPECTED = {
    "DD": ("2026-10-20", "2026-10-20", 25, "2026-10-20", "2026-11-03", "first_trip", 25, 0, 160.0),
    "DA": ("2026-10-03", "2026-10-19", 11, "2026-10-05", "2026-10-19", "hire_date", 5, 6, 60.0),
    "DC": ("2026-09-21", "2026-10-01", 6, "2026-09-25", "2026-10-09", "candidate_lead", 1, 5,
           25.0),
    "DB": ("2026-10-01", "2026-10-20", 3, "2026-10-01", "2026-10-15", "candidate_lead", 1, 2,
           25.0),
}  # fmt: skip
SUMMARY = {"drivers": 4, "trips": 45, "trips_in_window": 32, "trips_outside_window": 13,
           "would_claim": 270.0, "with_candidates": 2, "since": "2026-09-21"}  # fmt: skip


def build(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("DA", first_name="Julio Cesar", last_name="Ramos Paz"),
        driver("DB", **LUIS),
        driver("DC", **MIGUEL, hire_date="2026-09-20"),
        driver("DD", first_name="Elena", last_name="Quispe Huanca"),
        driver("DE", **ROSA), driver("DF", **CARMEN),
        driver("DG", first_name="Jorge", last_name="Salas Paz"),
        driver("DH", first_name="Ana Lucia", last_name="Rivas Soto"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", **LUIS, created_at="2026-10-01 09:00:00"),
        lead("L9", first_name="Pedro", last_name="Gomez Diaz", phone="987333444",
             created_at="2026-09-25"),
        lead("L2", **ROSA, created_at="2026-10-02"),
    ])  # fmt: skip
    load(engine, tmp_path, "scouting", [
        scouting(driver_name="Carmen Flores Rojas", driver_phone="987111222"),
    ])  # fmt: skip
    load(engine, tmp_path, "trips", [
        {"driver_id": d, "date": day, "completed_trips": str(n)} for d, day, n in TRIPS
    ])  # fmt: skip
    match(engine, SETTINGS, now=MATCHED_AT)
    with engine.begin() as conn:
        conn.execute(text("UPDATE source_record SET event_date = NULL "
                          "WHERE source = 'drivers' AND source_pk = 'DD'"))  # fmt: skip
    scan(engine, SETTINGS, now=MATCHED_AT)
    return engine


def row_figures(row: dict[str, Any]) -> tuple[Any, ...]:
    """A page row in EXPECTED's shape."""
    return tuple(row[k] for k in ("first_trip", "last_trip", "trips", "window_from",
                                  "window_to", "anchor", "trips_in_window",
                                  "trips_outside_window", "would_claim"))  # fmt: skip


def review_item_of(engine: Engine, lead_id: str) -> int:
    query = text(
        "SELECT ri.id FROM review_item ri JOIN source_record sr ON sr.id = ri.record_id "
        "WHERE sr.source_pk = :lead AND ri.status = 'open'"
    )
    with engine.connect() as conn:
        return int(conn.execute(query, {"lead": lead_id}).scalar_one())
