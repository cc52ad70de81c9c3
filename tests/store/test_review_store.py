"""store.review on real databases: proposing is idempotent, closed pairs stay closed, the page
order is the claim deadline, and every invariant of `check review` can fail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW
from tests.review_factories import SETTINGS, dump, item_id, review_world, rows

from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.store import review as store
from leadlink.store.db import transaction

LATER = NOW + dt.timedelta(hours=1)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    review_world(engine, tmp_path)
    match(engine, SETTINGS, now=NOW)
    return engine


def record_id(engine: Engine, source_pk: str) -> int:
    return int(
        rows(engine, "SELECT id FROM source_record WHERE source_pk = :pk", pk=source_pk)[0][0]
    )


def proposal(rid: int, driver_id: str, score: float = 0.55, **extra: Any) -> dict[str, Any]:
    return {"record_id": rid, "person_key": person_key_for("drivers", driver_id),
            "rule": "weak", "score": score, "evidence": {"rule": "weak"},
            "deadline": dt.date(2026, 10, 20), **extra}  # fmt: skip


def test_proposing_twice_adds_nothing_and_closed_pairs_stay_closed(world: Engine) -> None:
    l1 = record_id(world, "L1")
    rejected = item_id(world, "L1", "D1")
    review.reject(world, SETTINGS, rejected, actor="ana", now=NOW)
    before = dump(world, "review_item")
    with transaction(world) as session:
        # The same pairs again (one of them rejected), with other values: nothing changes.
        store.propose(session, [proposal(l1, "D1", 0.7), proposal(record_id(world, "L2"), "D2")],
                      run_id=99, now=LATER)  # fmt: skip
    assert dump(world, "review_item") == before
    with transaction(world) as session:
        store.propose(session, [proposal(l1, "D2")], run_id=99, now=LATER)
    new = rows(world, "SELECT status, run_id, score FROM review_item WHERE id > :m",
               m=max(r[0] for r in before))  # fmt: skip
    assert new == [("open", 99, pytest.approx(0.55))]


def test_supersede_closes_open_items_except_the_kept_pairs(world: Engine) -> None:
    l3 = record_id(world, "L3")
    l1 = record_id(world, "L1")
    accepted = item_id(world, "L2", "D2")
    review.accept(world, SETTINGS, accepted, actor="ana", now=NOW)
    keep = {(l3, person_key_for("drivers", "D4"))}
    with transaction(world) as session:
        closed = store.supersede(session, [l3, l1, record_id(world, "L2")], now=LATER, keep=keep)
    assert closed == 2  # L3/D3 and L1/D1; L3/D4 is kept, L2/D2 is not open
    status = {
        (r[0], r[1]): (r[2], r[3])
        for r in rows(
            world,
            "SELECT sr.source_pk, ri.person_key, ri.status, ri.decided_at FROM review_item ri "
            "JOIN source_record sr ON sr.id = ri.record_id",
        )
    }
    assert status[("L3", person_key_for("drivers", "D4"))][0] == "open"
    assert status[("L3", person_key_for("drivers", "D3"))][0] == "superseded"
    assert status[("L1", person_key_for("drivers", "D1"))][0] == "superseded"
    assert str(status[("L1", person_key_for("drivers", "D1"))][1]).startswith(str(LATER))
    assert status[("L2", person_key_for("drivers", "D2"))][0] == "accepted"
    with transaction(world) as session:
        assert store.supersede(session, [], now=LATER) == 0


def test_page_order_deadline_then_score_then_id_undated_last(world: Engine) -> None:
    l1, l2 = record_id(world, "L1"), record_id(world, "L2")
    with transaction(world) as session:
        store.propose(session, [
            proposal(l1, "D3", 0.51, deadline=None),
            proposal(l2, "D3", 0.7, deadline=dt.date(2026, 10, 15)),  # ties L1/D1's deadline
            proposal(l2, "D4", 0.9, deadline=dt.date(2026, 10, 1)),
        ], run_id=None, now=LATER)  # fmt: skip
    with transaction(world) as session:
        total, page = store.list_page(session, status="open", limit=10, offset=0)
    got = [(r.source_pk, i.deadline and i.deadline.isoformat(), i.score) for i, r in page]
    assert total == 7
    assert got == [
        ("L2", "2026-10-01", pytest.approx(0.9)),
        ("L2", "2026-10-13", pytest.approx(0.62)),
        # Same deadline: the higher score first, though it was proposed later.
        ("L2", "2026-10-15", pytest.approx(0.7)),
        ("L1", "2026-10-15", pytest.approx(0.62)),
        ("L3", "2026-10-16", pytest.approx(0.62)),
        ("L3", "2026-10-16", pytest.approx(0.62)),
        ("L1", None, pytest.approx(0.51)),
    ]
    ids = [i.id for i, _ in page]
    assert ids[4] < ids[5]  # full tie: oldest item first


def _corrupt(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_every_review_invariant_can_fail(world: Engine) -> None:
    def failing() -> list[int]:
        with transaction(world) as session:
            return [n for n, _ in store.invariant_violations(session)]

    accepted = item_id(world, "L1", "D1")
    rejected = item_id(world, "L2", "D2")
    review.accept(world, SETTINGS, accepted, actor="ana", now=NOW)
    review.reject(world, SETTINGS, rejected, actor="ana", now=NOW)
    assert failing() == [0, 0, 0, 0]
    assert review.check_review(world, SETTINGS).ok

    # 1. an open item on a record that is linked
    _corrupt(world, "UPDATE review_item SET status = 'open' WHERE id = :i", i=rejected)
    _corrupt(world, "UPDATE review_item SET record_id = :r WHERE id = :i",
             r=record_id(world, "L1"), i=rejected)  # fmt: skip
    assert failing() == [1, 0, 0, 0]
    _corrupt(world, "UPDATE review_item SET status = 'rejected', record_id = :r WHERE id = :i",
             r=record_id(world, "L2"), i=rejected)  # fmt: skip
    # 2. an accepted item without its link
    _corrupt(world, "UPDATE review_item SET status = 'accepted' WHERE id = :i",
             i=item_id(world, "L3", "D3"))  # fmt: skip
    # 3. a decision nobody audited (and the item above has no audit row either)
    _corrupt(world, "DELETE FROM audit_log WHERE action = 'review_reject'")
    # 4. a status nobody knows
    _corrupt(world, "UPDATE review_item SET status = 'maybe' WHERE id = :i",
             i=item_id(world, "L3", "D4"))  # fmt: skip
    assert failing() == [0, 1, 2, 1]
    result = review.check_review(world, SETTINGS)
    assert not result.ok and result.violations == 4
    assert any("unknown status" in e for e in result.examples)
    assert any(f"review_item {rejected}" in e for e in result.examples)
