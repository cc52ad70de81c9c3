"""The money-at-stake world of the review queue (docs/review.md, "Money at stake"): six open
items whose figures are worked out by hand.

At ``NOW`` = 2026-10-20 (claim window 14 days, expiry 60, ladder S/ 25/35/100), after real
ingest, ``match`` and the claims job:

The open items, in the queue's order (lead and its date; candidate; the candidate's trips;
soles at stake; deadline):

- L2/D2: Rosa (09-29); D2, who has lead LZ (10-05, later); 30 trips on 09-29 and 1 on 10-06,
  all 31 inside, M1 already claimed through LZ: S/ 135; 10-13.
- L1/D1: Luis (10-01); D1; 3 on 10-01 (day 0 counts) and 3 on 10-10 inside, 20 on 10-15
  (day 14: out) and 30 on 10-20: S/ 60; 10-15.
- L3/D3: Juan (10-02, MULTIPLE_CANDIDATES); D3; 1 on 10-03: S/ 25; 10-16.
- LE/D5: Maria (07-01); D5; 2 on 07-02: stored S/ 25, shown 0 (the claims would be expired,
  07-15 + 60 days); 07-15.
- LC1/D6: Carmen (10-01); D6, who has lead LC0 (09-01, earlier: the claims anchor there);
  10 on 10-02: S/ 0; 10-15.
- L3/D4: Juan (10-02); D4 (in quarantine: no lead, no origin, no trips); none: S/ 0; 10-16.

S/ 220 at stake in 3 items.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine
from tests.factories import driver, lead, load
from tests.review_factories import JUAN, LUIS, ROSA, item_id

from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings

SETTINGS = Settings(db="sqlite://", probabilistic=False)
NOW = dt.datetime(2026, 10, 20, 12, 0, 0)
MARIA = {"first_name": "Maria Luz", "last_name": "Ticona Yupanqui",
         "car_brand": "Nissan", "car_model": "Versa"}  # fmt: skip
CARMEN = {"first_name": "Carmen Rosa", "last_name": "Vilca Mendoza",
          "car_brand": "Chevrolet", "car_model": "Sail"}  # fmt: skip
# (lead, driver, soles at stake, deadline), in the queue's order.
ORDER = [
    ("L2", "D2", 135.0, "2026-10-13"),
    ("L1", "D1", 60.0, "2026-10-15"),
    ("L3", "D3", 25.0, "2026-10-16"),
    ("LE", "D5", 0.0, "2026-07-15"),
    ("LC1", "D6", 0.0, "2026-10-15"),
    ("L3", "D4", 0.0, "2026-10-16"),
]
TOTAL, STAKED = 220.0, 3


def stake_world(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D1", **LUIS), driver("D2", **ROSA, phone="987654321"),
        driver("D3", **JUAN), driver("D4", **JUAN),
        driver("D5", **MARIA, hire_date="2026-07-03"),
        driver("D6", **CARMEN, phone="966777888"),
    ])  # fmt: skip
    load(engine, tmp_path, "trips", [
        {"driver_id": "D1", "date": "2026-10-01", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2026-10-10", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2026-10-15", "completed_trips": "20"},
        {"driver_id": "D1", "date": "2026-10-20", "completed_trips": "30"},
        {"driver_id": "D2", "date": "2026-09-29", "completed_trips": "30"},
        {"driver_id": "D2", "date": "2026-10-06", "completed_trips": "1"},
        {"driver_id": "D3", "date": "2026-10-03", "completed_trips": "1"},
        {"driver_id": "D5", "date": "2026-07-02", "completed_trips": "2"},
        {"driver_id": "D6", "date": "2026-10-02", "completed_trips": "10"},
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", **LUIS, created_at="2026-10-01 09:00:00"),
        lead("L2", **ROSA, created_at="2026-09-29"),
        lead("LZ", first_name="Rosa Elena", last_name="Condori Apaza", phone="987654321",
             created_at="2026-10-05"),
        lead("L3", **JUAN, created_at="2026-10-02"),
        lead("LE", **MARIA, created_at="2026-07-01"),
        lead("LC0", first_name="Carmen Rosa", last_name="Vilca Mendoza", phone="966777888",
             created_at="2026-09-01"),
        lead("LC1", **CARMEN, created_at="2026-10-01"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    compute_claims(engine, SETTINGS, now=NOW)
    return engine


def ordered_ids(engine: Engine) -> list[int]:
    """The ids of ``ORDER``'s items."""
    return [item_id(engine, lead_id, driver_id) for lead_id, driver_id, _s, _d in ORDER]
