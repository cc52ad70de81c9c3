"""Review-band worlds: leads that only the review band can tie to a driver.

``brand_model_name`` (same car brand and model, same full name, hired -30..+7 days around the
lead) scores 0.62 with the name bonus: above the review threshold (0.5), below accept (0.75).
So a lead with a driver's name and car, and no phone, document or plate, is proposed for
review, never linked. Two drivers with the same name and car (homonyms) make it
MULTIPLE_CANDIDATES, still in the review band.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from tests.factories import driver, lead, load

from leadlink.settings import Settings

# The deterministic tier only: these worlds are built on its rules. (Unknown settings are
# ignored, so this also holds where the probabilistic tier does not exist.)
SETTINGS = Settings(db="sqlite://", probabilistic=False)

LUIS = {"first_name": "Luis Alberto", "last_name": "Huaman Ccori",
        "car_brand": "Toyota", "car_model": "Yaris"}  # fmt: skip
ROSA = {"first_name": "Rosa Elena", "last_name": "Condori Apaza",
        "car_brand": "Kia", "car_model": "Rio"}  # fmt: skip
JUAN = {"first_name": "Juan Carlos", "last_name": "Mamani Quispe",
        "car_brand": "Hyundai", "car_model": "Accent"}  # fmt: skip


def review_world(engine: Engine, tmp_path: Path) -> Engine:
    """Drivers D1 (Luis), D2 (Rosa), D3 and D4 (two Juans, homonyms with the same car).

    Leads: L1 Luis dated 2026-10-01 (deadline 10-15), L2 Rosa dated 2026-09-29 (deadline
    10-13), L3 Juan dated 2026-10-02 (MULTIPLE_CANDIDATES: D3 or D4, deadline 10-16).
    """
    load(engine, tmp_path, "drivers", [
        driver("D1", **LUIS), driver("D2", **ROSA), driver("D3", **JUAN), driver("D4", **JUAN),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", **LUIS, created_at="2026-10-01 09:00:00"),
        lead("L2", **ROSA, created_at="2026-09-29"),
        lead("L3", **JUAN, created_at="2026-10-02"),
    ])  # fmt: skip
    return engine


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def items(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """lead_id -> [(driver_id of the proposed person, status)], sorted."""
    found = rows(
        engine,
        "SELECT sr.source_pk, d.source_pk, ri.status FROM review_item ri "
        "JOIN source_record sr ON sr.id = ri.record_id "
        "JOIN link l ON l.person_key = ri.person_key AND l.active "
        "JOIN source_record d ON d.id = l.record_id AND d.source = 'drivers' "
        "ORDER BY 1, 2",
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for lead_id, driver_id, status in found:
        out.setdefault(lead_id, []).append((driver_id, status))
    return out


def item_id(engine: Engine, lead_id: str, driver_id: str) -> int:
    found = rows(
        engine,
        "SELECT ri.id FROM review_item ri JOIN source_record sr ON sr.id = ri.record_id "
        "JOIN link l ON l.person_key = ri.person_key AND l.active "
        "JOIN source_record d ON d.id = l.record_id AND d.source = 'drivers' "
        "WHERE sr.source_pk = :lead AND d.source_pk = :drv",
        lead=lead_id,
        drv=driver_id,
    )
    assert len(found) == 1, found
    return int(found[0][0])


def dump(engine: Engine, table: str) -> list[Any]:
    return rows(engine, f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - a table name
