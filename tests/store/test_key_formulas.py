"""``keys_off_formula``: each source's key formula (``SourceSpec.source_pk``) checked in SQL.

A store loaded through ``ingest`` follows every formula; each case then breaks one record's key
(or its data) by hand and the check must name exactly that record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.factories import driver, lead, load, scouting

from leadlink.store import checks
from leadlink.store.db import transaction


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "leads", [lead("L1"), lead("L2")])
    load(engine, tmp_path, "drivers", [driver("D1")])
    load(engine, tmp_path, "trips", [
        {"driver_id": "D1", "date": "2026-10-01", "completed_trips": "2"},
    ])  # fmt: skip
    load(engine, tmp_path, "scouting", [
        scouting(scout_id="S1", driver_name="Ana", registration_date="2026-10-02"),
    ])  # fmt: skip
    return engine


def _off(engine: Engine) -> tuple[int, int, list[tuple[str, str]]]:
    with transaction(engine) as session:
        return checks.keys_off_formula(session)


def _exec(engine: Engine, sql: str, **params: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_ingested_keys_all_follow_their_formula(loaded: Engine) -> None:
    assert _off(loaded) == (5, 0, [])


SET_PK = "UPDATE source_record SET source_pk = :new WHERE source = :source AND source_pk = :old"
BROKEN = [
    # (what, statement, parameters, the record named)
    ("a lead key that is not its lead_id", SET_PK,
     {"source": "leads", "old": "L1", "new": "L1-bis"}, ("leads", "L1-bis")),
    ("an empty key", SET_PK, {"source": "leads", "old": "L2", "new": ""}, ("leads", "")),
    ("a trips key missing its date", SET_PK,
     {"source": "trips", "old": "D1|2026-10-01", "new": "D1"}, ("trips", "D1")),
    ("a trips key with another day", SET_PK,
     {"source": "trips", "old": "D1|2026-10-01", "new": "D1|2026-10-02"},
     ("trips", "D1|2026-10-02")),
    ("a hashed key in uppercase", "UPDATE source_record SET source_pk = upper(source_pk) "
     "WHERE source = 'scouting'", {}, None),
    ("a hashed key one digit short", "UPDATE source_record SET source_pk = substr(source_pk, 2) "
     "WHERE source = 'scouting'", {}, None),
    ("a source nobody defined", "UPDATE source_record SET source = 'other' WHERE source_pk = 'D1' "
     "AND source = 'drivers'", {}, ("other", "D1")),
]  # fmt: skip


@pytest.mark.parametrize(("what", "sql", "params", "named"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_key_off_its_formula_is_named(
    loaded: Engine, what: str, sql: str, params: dict[str, str], named: tuple[str, str] | None
) -> None:
    _exec(loaded, sql, **params)
    n, bad, examples = _off(loaded)
    assert (n, bad) == (5, 1), what
    if named is not None:
        assert examples == [named]
    else:
        assert examples[0][0] == "scouting"


def test_a_scouting_record_id_is_its_key_when_given(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "scouting", [
        {**scouting(scout_id="S1", registration_date="2026-10-02"), "record_id": "R-7"},
    ])  # fmt: skip
    assert _off(engine)[1] == 0
    # The record id given, the hash of the values is no longer its key.
    _exec(engine, "UPDATE source_record SET source_pk = 'abcdef0123456789' WHERE source_pk = 'R-7'")
    assert _off(engine)[1:] == (1, [("scouting", "abcdef0123456789")])
