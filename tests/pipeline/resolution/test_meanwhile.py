"""A record linked by another path while `match` decided it: match leaves it, never crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load

from leadlink.pipeline.operations.checks import check_links
from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.settings import Settings
from leadlink.store import resolution
from leadlink.store import review as review_store
from leadlink.store.db import transaction

SETTINGS = Settings(db="sqlite://")


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


def _record_id(engine: Engine, pk: str) -> int:
    return int(_rows(engine, f"SELECT id FROM source_record WHERE source_pk = '{pk}'")[0][0])  # noqa: S608


def test_a_record_linked_by_another_path_while_match_decided_it_is_left_alone(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "drivers", [
        driver("D1", first_name="María Elena", last_name="Quispe Mamani", phone="987654321",
               document="12345678"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        # L1 is one match links; L3 one it leaves unmatched.
        lead("L1", first_name="MARIA", last_name="QUISPE MAMANI", phone="+51 987 654 321"),
        lead("L3", first_name="Pedro", last_name="Rojas Diaz", phone="955000111"),
    ])  # fmt: skip
    person = person_key_for("drivers", "D1")
    linked_by_other: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        # While match decides the leads (read as pending), a review accept / an API post links
        # both: the same write any linking path does, committed in its own transaction.
        if stage == "decide leads" and not linked_by_other:
            ids = [_record_id(engine, "L1"), _record_id(engine, "L3")]
            with transaction(engine) as session:
                resolution.write_chunk(session, run_id=None, now=NOW, persons=[], links=[
                    {"record_id": rid, "person_key": person, "rule": review_store.ACCEPT_RULE,
                     "score": 0.9, "confidence": "medium", "evidence": {"by": "other path"}}
                    for rid in ids], unmatched=[])  # fmt: skip
            linked_by_other.extend(ids)

    result = match(engine, SETTINGS, now=NOW, progress=progress)
    assert linked_by_other, "the leads were never decided"
    assert result.linked_meanwhile == 2
    assert result.by_source["leads"]["linked_meanwhile"] == 2
    links = _rows(engine, "SELECT sr.source_pk, l.rule, l.run_id FROM link l JOIN source_record sr "
                          "ON sr.id = l.record_id WHERE l.active AND sr.source = 'leads' "
                          "ORDER BY 1")  # fmt: skip
    # One active link each, the other path's; no unmatched verdict on a linked record.
    assert links == [("L1", review_store.ACCEPT_RULE, None), ("L3", review_store.ACCEPT_RULE, None)]
    assert _rows(engine, "SELECT count(*) FROM unmatched")[0][0] == 0
    assert check_links(engine, SETTINGS).ok
    status = _rows(engine, f"SELECT status FROM job_run WHERE id = {result.run_id}")  # noqa: S608
    assert status == [("ok",)]
