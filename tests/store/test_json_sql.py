"""json_elements and member on real SQLite and PostgreSQL: a JSON array read row by row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, Float, cast, insert, select, true

from leadlink.store.db import transaction
from leadlink.store.json_sql import json_elements, member
from leadlink.store.models import SourceRecord, Unmatched

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)


def test_the_elements_of_a_json_array_and_their_members(engine: Engine) -> None:
    candidates = [
        {"person_key": "P1", "cid": 1, "rule": "weak", "score": 0.31},
        {"person_key": "P2", "cid": 2, "rule": "brand_model_name", "score": 0.62},
        {"cid": 3},  # a member that is absent reads as NULL
    ]
    with transaction(engine) as session:
        rid = session.scalar(
            insert(SourceRecord)
            .values(source="leads", source_pk="L1", data={}, content_hash="x",
                    ingested_at=NOW, updated_at=NOW)
            .returning(SourceRecord.id)
        )  # fmt: skip
        session.execute(
            insert(Unmatched).values(
                record_id=rid, reason="WEAK_MATCH_ONLY", candidates=candidates, updated_at=NOW
            )
        )
        element = json_elements(Unmatched.candidates).table_valued("value").alias("c")
        query = (
            select(
                member(element.c.value, "person_key"),
                member(element.c.value, "rule"),
                cast(member(element.c.value, "score"), Float),
            )
            .select_from(Unmatched)
            .join(element, true())
            .order_by(member(element.c.value, "cid"))
        )
        found = [tuple(r) for r in session.execute(query)]
    assert found == [("P1", "weak", 0.31), ("P2", "brand_model_name", 0.62), (None, None, None)]
