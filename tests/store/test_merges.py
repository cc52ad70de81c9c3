"""store.merges on real databases: nothing is lost, the retired key resolves, reruns are no-ops."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from tests.merge_world import LATER, P1, P2, P3, SETTINGS, World, world_fixture  # noqa: F401

from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.store import merges, person_keys, persons, unmerge
from leadlink.store.db import transaction
from leadlink.store.models import Claim, Payment, Person, Quarantine, ReviewItem


def _merge(world: World, survivor: str = P1, retired: str = P2, **kw: Any) -> dict[str, Any]:
    with transaction(world.engine) as session:
        return merges.merge(session, survivor, retired, run_id=kw.get("run_id", 7), now=LATER,
                            actor=kw.get("actor", "ops"), reason="same DNI")  # fmt: skip


def test_every_record_linked_before_is_linked_after_to_the_survivor(world: World) -> None:
    before = world.linked()
    assert sorted(k for k, v in before.items() if v == P2) == [
        "drivers/D2", "leads/L2", "scouting/S1"
    ]  # fmt: skip
    old_links = world.rows("SELECT id, record_id, rule, score FROM link WHERE person_key = :p",
                           p=P2)  # fmt: skip
    result = _merge(world)
    after = world.linked()
    assert set(after) == set(before)
    assert set(after.values()) == {P1}
    assert result["links_moved"] == 3 and result["status"] == "merged"
    # The old rows are still there, inactive; each new link names the one it replaces.
    for lid, rid, rule, score in old_links:
        assert world.rows("SELECT active FROM link WHERE id = :i", i=lid)[0][0] in (False, 0)
        new = world.rows(
            "SELECT person_key, rule, score, evidence, run_id FROM link "
            "WHERE record_id = :r AND active",
            r=rid,
        )
        assert len(new) == 1
        key, new_rule, new_score, evidence, run_id = new[0]
        assert (key, new_rule, new_score, run_id) == (P1, rule, score, 7)
        ev = evidence if isinstance(evidence, dict) else json.loads(evidence)
        assert ev["merged_from"] == P2 and ev["previous_link"] == lid


def test_origins_all_move_with_a_merged_journal_and_the_new_link(world: World) -> None:
    before = world.rows("SELECT id, record_id, origin FROM origin ORDER BY id")
    result = _merge(world)
    after = world.rows("SELECT id, record_id, origin, person_key, link_id FROM origin ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in after] == [tuple(r) for r in before]
    assert {r[3] for r in after} == {P1}
    assert result["origins_moved"] == 2 and result["origins_duplicate"] == 0
    for _, rid, _, _, link_id in after:
        active = world.rows("SELECT id FROM link WHERE record_id = :r AND active", r=rid)
        assert link_id == active[0][0]
    journal = world.rows(
        "SELECT origin_id, detail FROM origin_history WHERE event = 'merged' ORDER BY origin_id"
    )
    p2_records = {world.record_id("leads", "L2"), world.record_id("scouting", "S1")}
    moved = sorted(r[0] for r in after if r[1] in p2_records)
    assert [r[0] for r in journal] == moved and len(moved) == 2
    assert all("from" in str(r[1]) and P2 in str(r[1]) and P1 in str(r[1]) for r in journal)


def test_retired_key_resolves_and_the_audit_log_has_the_merge(world: World) -> None:
    _merge(world, actor="maria")
    assert world.rows("SELECT retired_into FROM person WHERE person_key = :p", p=P2) == [(P1,)]
    with transaction(world.engine) as session:
        assert person_keys.live_key(session, P2) == P1
        assert person_keys.live_key(session, P1) == P1
        assert person_keys.live_keys(session, [P1, P2, "nobody"]) == {P1: P1, P2: P1}
        assert person_keys.retired_into_person(session, P1) == [P2]
        with pytest.raises(NotFoundError):
            person_keys.live_key(session, "nobody")
    audit = world.rows("SELECT actor, action, target, detail FROM audit_log")
    assert len(audit) == 1
    actor, action, target, detail = audit[0]
    assert (actor, action, target) == ("maria", "merge", P2)
    assert "same DNI" in str(detail) and P1 in str(detail)


def test_merging_again_changes_nothing(world: World) -> None:
    first = _merge(world)
    before = world.dump()
    again = _merge(world)
    assert again == {"survivor": P1, "retired": P2, "status": "already_merged"}
    assert world.dump() == before
    assert first["status"] == "merged"


@pytest.mark.parametrize(
    ("survivor", "retired", "message"),
    [(P1, P1, "into itself"), (P1, "nobody", "no person"), ("nobody", P1, "no person")],
)
def test_bad_merges_are_refused_and_write_nothing(
    world: World, survivor: str, retired: str, message: str
) -> None:
    before = world.dump()
    with pytest.raises((UsageError, NotFoundError), match=message):
        _merge(world, survivor, retired)
    assert world.dump() == before


def test_a_retired_key_cannot_survive_and_chains_resolve_to_the_live_end(world: World) -> None:
    _add_person(world, P3, world_created=dt.datetime(2026, 11, 3))
    _merge(world)  # P2 -> P1
    with pytest.raises(UsageError, match="retired"):
        _merge(world, P2, P3)
    with pytest.raises(UsageError, match="already retired"):
        _merge(world, P3, P2)
    # A two-hop chain written by an older version still resolves, in one query per hop.
    world.exec("UPDATE person SET retired_into = :p2 WHERE person_key = :p3", p2=P2, p3=P3)
    with transaction(world.engine) as session:
        assert person_keys.live_keys(session, [P3, P2, P1]) == {P1: P1, P2: P1, P3: P1}


def test_merging_into_a_person_that_absorbed_others_compresses_the_chain(world: World) -> None:
    _add_person(world, P3, world_created=dt.datetime(2026, 11, 3))
    _merge(world, P2, P3)  # P3 -> P2, then P2 -> P1: P3 now points straight at P1
    result = _merge(world)
    assert result["chain_repointed"] == 1
    assert world.rows("SELECT retired_into FROM person WHERE person_key = :p", p=P3) == [(P1,)]


def test_review_items_claims_payments_and_quarantine_follow_the_survivor(world: World) -> None:
    lead1, lead2 = world.record_id("leads", "L1"), world.record_id("leads", "L2")
    d2 = world.record_id("drivers", "D2")
    with transaction(world.engine) as s:
        s.add_all([
            _review(lead2, P2, "open"),  # moves
            _review(lead1, P2, "open"),  # P1 has one for L1: superseded
            _review(lead1, P1, "open"),
            _claim(P2, "M1", "paid", lead2, 11),  # beats P1's expected M1: swapped in
            _claim(P1, "M1", "expected", lead1, 10),
            _claim(P2, "M5", "expected", lead2, 12),  # moves
            _claim(P1, "M25", "generated", lead1, 13),
            _claim(P2, "M25", "expected", lead2, 14),  # loses to generated: rejected
            Payment(record_id=lead2, person_key=P2, milestone="M1", amount=25.0, method="name",
                    status="reconciled", detail={}, updated_at=LATER),
            Quarantine(record_id=d2, person_key=P2, reason="orphan", active=True,
                       quarantined_at=LATER),
        ])  # fmt: skip
    result = _merge(world)
    assert (result["review_items_moved"], result["review_items_superseded"]) == (1, 1)
    assert (result["claims_moved"], result["claims_rejected"]) == (2, 2)
    assert result["claims_double_paid"] == []
    assert (result["payments_moved"], result["quarantine_moved"]) == (1, 1)
    claims = world.rows("SELECT person_key, milestone, status, amount FROM claim ORDER BY amount")
    assert claims == [
        (P2, "M1", "rejected", 10.0), (P1, "M1", "paid", 11.0), (P1, "M5", "expected", 12.0),
        (P1, "M25", "generated", 13.0), (P2, "M25", "rejected", 14.0),
    ]  # fmt: skip
    reviews = world.rows("SELECT record_id, person_key, status FROM review_item ORDER BY id")
    assert reviews == [(lead2, P1, "open"), (lead1, P2, "superseded"), (lead1, P1, "open")]
    assert world.rows("SELECT person_key FROM payment") == [(P1,)]
    assert world.rows("SELECT person_key FROM quarantine") == [(P1,)]
    with transaction(world.engine) as session:
        assert all(n == 0 for n, _ in persons.pointers_to_retired(session))


def test_unmerge_puts_review_items_claims_payments_and_quarantine_back(world: World) -> None:
    """The swap, the rejections, the superseded item: each goes back as it was."""
    lead1, lead2 = world.record_id("leads", "L1"), world.record_id("leads", "L2")
    d2 = world.record_id("drivers", "D2")
    with transaction(world.engine) as s:
        s.add_all([
            _review(lead2, P2, "open"), _review(lead1, P2, "open"), _review(lead1, P1, "open"),
            _claim(P2, "M1", "paid", lead2, 11), _claim(P1, "M1", "expected", lead1, 10),
            _claim(P2, "M5", "expected", lead2, 12), _claim(P1, "M25", "generated", lead1, 13),
            _claim(P2, "M25", "expected", lead2, 14),
            Payment(record_id=lead2, person_key=P2, milestone="M1", amount=25.0, method="name",
                    status="reconciled", detail={}, updated_at=LATER),
            Quarantine(record_id=d2, person_key=P2, reason="orphan", active=True,
                       quarantined_at=LATER),
        ])  # fmt: skip
    tables = ("SELECT id, person_key, milestone, status FROM claim ORDER BY id",
              "SELECT id, person_key, status, decided_by FROM review_item ORDER BY id",
              "SELECT id, person_key FROM payment", "SELECT id, person_key FROM quarantine",
              "SELECT id, person_key, status FROM origin ORDER BY id")  # fmt: skip
    before = [world.rows(q) for q in tables]
    _merge(world)
    assert [world.rows(q) for q in tables] != before
    with transaction(world.engine) as session:
        result = unmerge.unmerge(session, P2, run_id=8, now=LATER, actor="ops", reason="wrong")
    assert (result["claims_restored"], result["review_items_restored"],
            result["review_items_reopened"]) == (4, 1, 1)  # fmt: skip
    assert (result["payment_restored"], result["quarantine_restored"]) == (1, 1)
    assert [world.rows(q) for q in tables] == before
    with transaction(world.engine) as session:
        assert person_keys.live_key(session, P2) == P2
        assert all(n == 0 for n, _ in persons.pointers_to_retired(session))


def test_two_paid_claims_of_one_milestone_are_kept_and_reported(world: World) -> None:
    lead1, lead2 = world.record_id("leads", "L1"), world.record_id("leads", "L2")
    with transaction(world.engine) as s:
        s.add_all([_claim(P1, "M1", "paid", lead1, 10), _claim(P2, "M1", "paid", lead2, 11)])
    result = _merge(world)
    assert result["claims_double_paid"] == ["M1"] and result["claims_rejected"] == 0
    assert world.rows("SELECT person_key, status FROM claim ORDER BY amount") == [
        (P1, "paid"), (P2, "paid")
    ]  # fmt: skip


def _add_person(world: World, key: str, *, world_created: dt.datetime) -> None:
    with transaction(world.engine) as s:
        s.add(Person(person_key=key, created_at=world_created, run_id=None))


def _review(record_id: int, key: str, status: str) -> ReviewItem:
    return ReviewItem(record_id=record_id, person_key=key, rule="brand_model_name", score=0.6,
                      evidence={}, status=status, created_at=LATER)  # fmt: skip


def _claim(key: str, milestone: str, status: str, lead_id: int, amount: float) -> Claim:
    return Claim(person_key=key, milestone=milestone, lead_record_id=lead_id,
                 lead_date=dt.date(2026, 10, 1), amount=amount, status=status,
                 created_at=LATER, updated_at=LATER)  # fmt: skip


def test_an_origin_the_survivor_already_has_is_kept_and_the_duplicate_discarded(
    world: World,
) -> None:
    """P1 already holds an origin of lead L2 (say, from a link L2 once had to P1)."""
    l2 = world.record_id("leads", "L2")
    world.exec(
        "INSERT INTO origin (person_key, record_id, origin, decided_by, status, created_at) "
        "VALUES (:p, :r, 'cabinet_lead', 'system', 'resolved_auto', :t)",
        p=P1, r=l2, t=LATER,
    )  # fmt: skip
    world.exec(
        "INSERT INTO origin_history (origin_id, event, detail, at) SELECT id, 'created', "
        "'{}', :t FROM origin WHERE person_key = :p AND record_id = :r",
        p=P1, r=l2, t=LATER,
    )  # fmt: skip
    n_before = world.rows("SELECT count(*) FROM origin")[0][0]
    result = _merge(world)
    assert (result["origins_moved"], result["origins_duplicate"]) == (1, 1)
    rows = world.rows(
        "SELECT person_key, status FROM origin WHERE record_id = :r ORDER BY id", r=l2
    )
    assert rows == [(P2, "discarded"), (P1, "resolved_auto")]
    assert world.rows("SELECT count(*) FROM origin")[0][0] == n_before
    journal = world.rows(
        "SELECT h.detail FROM origin_history h JOIN origin o ON o.id = h.origin_id "
        "WHERE o.person_key = :p AND h.event = 'merged'",
        p=P2,
    )
    assert len(journal) == 1 and "kept" in str(journal[0][0])
    results = run_checks(world.engine, SETTINGS, list(CHECKS))
    assert [(r.name, r.examples) for r in results if not r.ok] == []
