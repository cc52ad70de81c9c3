"""A small matched world for the operations tests (gap, origins, alerts, worker).

At NOW (2026-11-01 12:00): L1 and L2 link to drivers D1 and D2 (phone), L3 is nobody's and a
month old, L5 nobody's and 3 days old, L4 nobody's and 1 day old.

Records are ingested for real; the decisions are written with the real ``write_decisions``
(links, origins and history in one transaction) but decided here, not by the matching engine:
these tests are about what happens after matching, and the engine costs seconds per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load

from leadlink.pipeline.resolution.resolve import person_key_for, write_decisions
from leadlink.settings import Settings
from leadlink.store import jobs
from leadlink.store.db import transaction

SETTINGS = Settings(db="sqlite://")
P1 = person_key_for("drivers", "D1")
P2 = person_key_for("drivers", "D2")


def build(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D1", first_name="Ana", last_name="Torres Vega", phone="987000111",
               document="11223344"),
        driver("D2", first_name="Luis", last_name="Ramos Cruz", phone="987000222"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", first_name="Ana", last_name="Torres Vega", phone="987000111"),
        lead("L2", first_name="Luis", last_name="Ramos Cruz", phone="987000222"),
        lead("L3", first_name="Nadie", last_name="Nunca Jamas", phone="955999888"),
        lead("L4", first_name="Otro", last_name="Nadie Mas", phone="955999777",
             created_at="2026-10-31 09:00:00"),
        lead("L5", first_name="Tercero", last_name="Sin Nombre", phone="955999666",
             created_at="2026-10-29 09:00:00"),
    ])  # fmt: skip
    decide(engine, {"drivers/D1": P1, "drivers/D2": P2, "leads/L1": P1, "leads/L2": P2},
           unmatched=["leads/L3", "leads/L4", "leads/L5"])  # fmt: skip
    return engine


def decide(engine: Engine, links: dict[str, str], unmatched: Sequence[str] = ()) -> int:
    """Write decisions for "source/pk" keys: drivers found their person, others link to it."""
    ids = {
        f"{r[0]}/{r[1]}": r[2]
        for r in rows(engine, "SELECT source, source_pk, id FROM source_record")
    }
    decided: list[dict[str, Any]] = []
    for key, person in links.items():
        found = key.startswith("drivers/")
        decided.append({"rid": ids[key], "decision": "found" if found else "link",
                        "person_key": person, "rule": "new_person" if found else "phone_exact",
                        "score": 1.0 if found else 0.95, "confidence": "high",
                        "evidence": "{}", "candidates": "[]"})  # fmt: skip
    for key in unmatched:
        decided.append({"rid": ids[key], "decision": "unmatched", "reason": "NO_CANDIDATES",
                        "message": None, "band": "reject", "candidates": "[]"})  # fmt: skip
    run_id = jobs.start(engine, "match", NOW)
    with transaction(engine) as session:
        write_decisions(session, decided, run_id=run_id, now=NOW,
                        window_days=Settings().claim_window_days)  # fmt: skip
    jobs.finish(engine, run_id, NOW, counts={"processed": len(decided)})
    return run_id


def execute(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def lead_record(engine: Engine, lead_id: str) -> int:
    found = rows(engine, "SELECT id FROM source_record WHERE source = 'leads' AND source_pk = :pk",
                 pk=lead_id)  # fmt: skip
    return int(found[0][0])
