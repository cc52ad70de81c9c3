"""candidate_pair on real SQLite and PostgreSQL: the triggers of migration 0009 keep it equal to
the ``unmatched`` rows' candidate lists, whoever writes them, and ``check unmatched`` sees a
pair that drifted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alembic import command
from sqlalchemy import Engine, delete, insert, select, text, update

from leadlink.store import checks as checks_store
from leadlink.store.db import alembic_config, transaction
from leadlink.store.models import CandidatePair, SourceRecord, Unmatched

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)
TWO = [
    {"person_key": "P1", "cid": 1, "rule": "weak", "score": 0.31},
    {"person_key": "P2", "cid": 2, "rule": "brand_model_name", "score": 0.62},
]


def _lead(engine: Engine, lead_id: str, candidates: list[dict[str, Any]]) -> int:
    with transaction(engine) as session:
        rid = session.scalar(
            insert(SourceRecord)
            .values(source="leads", source_pk=lead_id, data={}, content_hash="x",
                    ingested_at=NOW, updated_at=NOW)
            .returning(SourceRecord.id)
        )  # fmt: skip
        verdict = {"record_id": rid, "reason": "WEAK_MATCH_ONLY", "candidates": candidates,
                   "updated_at": NOW}  # fmt: skip
        session.execute(insert(Unmatched).values(**verdict))
    assert isinstance(rid, int)
    return rid


def _pairs(engine: Engine) -> list[tuple[Any, ...]]:
    p = CandidatePair
    query = select(p.lead_record_id, p.position, p.person_key, p.rule, p.score)
    with transaction(engine) as session:
        return sorted(tuple(r) for r in session.execute(query))


def _out_of_step(engine: Engine) -> int:
    with transaction(engine) as session:
        return checks_store.candidate_pairs_out_of_step(session)[0]


def test_inserting_updating_and_deleting_unmatched_rows_moves_their_pairs(engine: Engine) -> None:
    first = _lead(engine, "L1", TWO)
    second = _lead(engine, "L2", [{"cid": 3, "rule": "weak", "score": 0.2}])  # no person
    _lead(engine, "L3", [])
    assert _pairs(engine) == [(first, 0, "P1", "weak", 0.31),
                              (first, 1, "P2", "brand_model_name", 0.62),
                              (second, 0, None, "weak", 0.2)]  # fmt: skip
    with transaction(engine) as session:
        other = [{"person_key": "P9", "rule": "r", "score": 0.5}]
        session.execute(update(Unmatched).where(Unmatched.record_id == first)
                        .values(candidates=other))  # fmt: skip
        session.execute(delete(Unmatched).where(Unmatched.record_id == second))
    assert _pairs(engine) == [(first, 0, "P9", "r", 0.5)]
    assert _out_of_step(engine) == 0


def test_a_pair_changed_added_or_lost_by_hand_is_out_of_step(engine: Engine) -> None:
    _lead(engine, "L1", TWO)
    assert _out_of_step(engine) == 0
    edits = [
        "UPDATE candidate_pair SET person_key = 'P7' WHERE position = 0",
        # A duplicate of a listed pair: only the count sees it.
        "INSERT INTO candidate_pair (lead_record_id, position, person_key, rule, score) "
        "SELECT lead_record_id, 5, person_key, rule, score FROM candidate_pair WHERE position = 1",
        "DELETE FROM candidate_pair WHERE position = 1",
    ]
    for edit in edits:
        with engine.begin() as conn:
            saved = [tuple(r) for r in conn.execute(text("SELECT * FROM candidate_pair"))]
            conn.execute(text(edit))
        assert _out_of_step(engine) > 0, edit
        with engine.begin() as conn:  # put it back for the next edit
            conn.execute(text("DELETE FROM candidate_pair"))
            for row in saved:
                conn.execute(text("INSERT INTO candidate_pair VALUES (:a, :b, :c, :d, :e)"),
                             dict(zip("abcde", row, strict=True)))  # fmt: skip
        assert _out_of_step(engine) == 0


def test_the_migration_indexes_the_rows_already_there_and_downgrades_cleanly(
    engine: Engine,
) -> None:
    cfg = alembic_config(engine)
    first = _lead(engine, "L1", TWO)
    command.downgrade(cfg, "0008_money_summaries")
    with transaction(engine) as session:  # no trigger now: nothing indexes this row
        session.execute(update(Unmatched).where(Unmatched.record_id == first)
                        .values(candidates=TWO[1:]))  # fmt: skip
    command.upgrade(cfg, "head")
    assert _pairs(engine) == [(first, 0, "P2", "brand_model_name", 0.62)]
    assert _out_of_step(engine) == 0
