"""The hand-made backlog-segments world: one lead per segment and loss reason, exact figures.

Classified at ``NOW`` = 2026-11-10 (claim window 14 days, expiry 60, ladder S/ 25/35/100):

| lead | what | segment | reason / stake | deadline |
|---|---|---|---|---|
| LR1 | Luis's name, car (review, D1): 3+3 trips in window, 30 later | recoverable | 60 | 12-14 |
| LR2 | Rosa's name, car (review item, D2); D2 already has lead LX | recoverable | S/ 0 | 12-12 |
| LE1 | Maria's name and car dated 08-01 (review item for D5) | lost | EXPIRED | 10-14 |
| LW1 | unknown phone, dated 11-01 | waiting | S/ 160 | 11-15 |
| LW2 | no identifiers, dated 11-05 | waiting | S/ 160 | 11-19 |
| LN1 | unknown phone, dated 10-01 | lost | NO_CANDIDATES | 10-15 |
| LM1 | no identifiers, dated 10-02 | lost | MISSING_IDENTIFIERS | 10-16 |
| LU1 | ingested after the last match, dated 10-03 | lost | NOT_MATCHED | 10-17 |

Not in the backlog: LX (linked by phone) and LT (dated today, inside the grace day).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine
from tests.factories import driver, lead, load
from tests.review_factories import LUIS, ROSA

from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings

SETTINGS = Settings(db="sqlite://", probabilistic=False)
NOW = dt.datetime(2026, 11, 10, 12, 0, 0)
INGESTED = dt.datetime(2026, 11, 10, 6, 0, 0)
MARIA = {"first_name": "Maria Luz", "last_name": "Ticona Yupanqui",
         "car_brand": "Nissan", "car_model": "Versa"}  # fmt: skip


def segments_world(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D1", **LUIS),
        driver("D2", **ROSA, phone="987654321"),
        driver("D5", **MARIA, hire_date="2026-08-03"),
    ])  # fmt: skip
    load(engine, tmp_path, "trips", [
        {"driver_id": "D1", "date": "2026-10-02", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2026-10-10", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2026-10-20", "completed_trips": "30"},  # after the window
        {"driver_id": "D2", "date": "2026-10-01", "completed_trips": "9"},
        {"driver_id": "D5", "date": "2026-08-05", "completed_trips": "2"},
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("LR1", **LUIS, created_at="2026-10-01"),
        lead("LR2", **ROSA, created_at="2026-09-29"),
        lead("LX", first_name="Rosa Elena", last_name="Condori Apaza", phone="987654321",
             created_at="2026-09-20"),
        lead("LE1", **MARIA, created_at="2026-08-01"),
        lead("LW1", first_name="Pedro", last_name="Ruiz Diaz", phone="911222333",
             created_at="2026-11-01"),
        lead("LW2", created_at="2026-11-05"),
        lead("LN1", first_name="Ana", last_name="Soto Vega", phone="922333444",
             created_at="2026-10-01"),
        lead("LM1", created_at="2026-10-02"),
        lead("LT", first_name="Eva", last_name="Cruz Rojas", phone="933444555",
             created_at="2026-11-10"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=INGESTED)
    load(engine, tmp_path, "leads", [
        lead("LU1", first_name="Ines", last_name="Paz Lima", phone="944555666",
             created_at="2026-10-03"),
    ])  # fmt: skip
    return engine
