"""pipeline.merge: evidence from decisions, merges inside match's transaction, the persons
check, and `leadlink persons merge|show` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.merge_world import LATER, P1, P2, SETTINGS, World, add_evidence, world_fixture  # noqa: F401
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.pipeline.resolution import merge as pm
from leadlink.pipeline.resolution.resolve import match
from leadlink.store import resolution
from leadlink.store.db import transaction
from leadlink.store.models import Person

A, B, C = "aaaa", "bbbb", "cccc"


def _cand(key: str, rule: str = "document_exact", score: float = 0.98) -> dict[str, Any]:
    return {"person_key": key, "cid": hash(key) % 100, "rule": rule, "score": score}


def _multiple(*cands: dict[str, Any], as_text: bool = True) -> dict[str, Any]:
    listed = list(cands)
    return {"rid": 1, "decision": "unmatched", "reason": "MULTIPLE_CANDIDATES",
            "candidates": json.dumps(listed) if as_text else listed}  # fmt: skip


@pytest.mark.parametrize(
    ("decisions", "pairs"),
    [
        ([_multiple(_cand(A), _cand(B))], [(A, B)]),
        ([_multiple(_cand(A), _cand(B), as_text=False)], [(A, B)]),
        ([_multiple(_cand(A), _cand(B), _cand(C))], [(A, B), (A, C)]),
        # A phone shared by two persons proves nothing: families share phones.
        ([_multiple(_cand(A), _cand(B, "phone_exact"))], []),
        ([_multiple(_cand(A, "phone_exact"), _cand(B))], []),
        ([_multiple(_cand(A), _cand(B), _cand(C, "plate_name"))], [(A, B)]),
        ([{**_multiple(_cand(A), _cand(B)), "reason": "WEAK_MATCH_ONLY"}], []),
        ([{"rid": 2, "decision": "link", "person_key": A, "reason": None}], []),
        ([_multiple(_cand(A), _cand(B)), _multiple(_cand(A), _cand(B))], [(A, B)]),
    ],
)
def test_merges_from_decisions(decisions: list[dict[str, Any]], pairs: list[Any]) -> None:
    assert pm.merges_from_decisions(decisions) == pairs


def test_redirect_relinks_to_survivors_and_settles_collapsed_ambiguity() -> None:
    link = {"rid": 1, "decision": "link", "person_key": B, "rule": "phone_exact"}
    collapsed = {**_multiple(_cand(A), _cand(B)), "rid": 2}
    still = {**_multiple(_cand(A), _cand(B), _cand(C, "phone_exact", 0.97)), "rid": 3}
    out = pm.redirect([link, collapsed, still], {B: A}, margin=0.05)
    assert out[0] == {**link, "person_key": A}
    assert (out[1]["decision"], out[1]["person_key"], out[1]["rule"]) == (
        "link",
        A,
        "document_exact",
    )
    assert json.loads(out[1]["evidence"])["merged"] == [B]
    assert out[2] == still
    assert pm.redirect([link], {}, margin=0.05) == [link]


def test_chain_problems_finds_loops_and_dead_ends() -> None:
    assert pm.chain_problems({B: A, C: B}, {A, B}) == []
    assert pm.chain_problems({A: B, B: A}, {A, B}) == [
        f"retired chain from {A} loops back to {A}", f"retired chain from {B} loops back to {B}"
    ]  # fmt: skip
    assert pm.chain_problems({B: "ghost"}, {A}) == [f"retired chain from {B} ends in missing "
                                                     "person ghost"]  # fmt: skip


def test_a_driver_with_both_documents_merges_the_two_persons(world: World) -> None:
    """match decides, merges the pairs, redirects and writes, all in one transaction."""
    before = world.linked()
    add_evidence(world)
    result = match(world.engine, SETTINGS, now=LATER)
    assert result.merged == 1
    after = world.linked()
    assert after == {**{k: P1 for k in before}, "drivers/D3": P1}
    d3 = world.record_id("drivers", "D3")
    assert world.rows("SELECT count(*) FROM unmatched WHERE record_id = :r", r=d3) == [(0,)]
    assert world.rows("SELECT retired_into FROM person WHERE person_key = :k", k=P2) == [(P1,)]
    results = run_checks(world.engine, SETTINGS, list(CHECKS))
    assert [(r.name, r.examples) for r in results if not r.ok] == []
    # The same evidence again is a no-op, through match and through apply.
    assert match(world.engine, SETTINGS, now=LATER).processed == 0
    dump = world.dump()
    with transaction(world.engine) as session:
        rows = resolution.pending(session, "drivers", include_unmatched=True)
    assert rows == []
    with transaction(world.engine) as session:
        assert pm.apply(session, [(P1, P2)], run_id=None, now=LATER) == {}
    assert world.dump() == dump


def test_check_persons_passes_after_a_merge_and_fails_on_corruption(world: World) -> None:
    pm.merge_persons(world.engine, P1, P2, now=LATER, actor="ops", reason="test", force=True)
    assert _persons_check(world).ok
    l1 = world.record_id("leads", "L1")
    world.exec("UPDATE link SET person_key = :p WHERE record_id = :r AND active", p=P2, r=l1)
    broken = _persons_check(world)
    assert not broken.ok and broken.violations == 1
    assert broken.examples[0].startswith("active link") and P2 in broken.examples[0]
    world.exec("UPDATE link SET person_key = :p WHERE record_id = :r AND active", p=P1, r=l1)
    world.exec("UPDATE origin SET person_key = :p WHERE record_id = :r", p=P2, r=l1)
    assert _persons_check(world).examples[0].startswith("origin")
    world.exec("UPDATE origin SET person_key = :p WHERE record_id = :r", p=P1, r=l1)
    assert _persons_check(world).ok
    world.exec("UPDATE person SET retired_into = :p WHERE person_key = :k", p=P2, k=P1)
    loop = _persons_check(world)
    assert not loop.ok and any("loops back" in e for e in loop.examples)


def _persons_check(world: World) -> Any:
    return CHECKS["persons"](world.engine, SETTINGS)


runner = CliRunner()


def _cli(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def test_persons_merge_and_show_on_the_command_line(world: World) -> None:
    out = json.loads(_cli(world.url, "persons", "merge", P1, P2, "--reason", "same DNI", "--by",
                          "maria", "--force", "--json"))  # fmt: skip
    assert (out["status"], out["survivor"], out["retired"], out["forced"]) == (
        "merged", P1, P2, True)  # fmt: skip
    assert out["links_moved"] == 3 and out["run_id"] and out["dry_run"] is False
    assert world.rows("SELECT actor, action FROM audit_log") == [("maria", "merge")]
    assert world.rows("SELECT kind, status FROM job_run WHERE kind = 'merge'") == [("merge", "ok")]
    again = json.loads(_cli(world.url, "persons", "merge", P1, P2, "--json"))
    assert (again["status"], again["survivor"]) == ("already_merged", P1)
    shown = json.loads(_cli(world.url, "persons", "show", P2, "--json"))
    assert (shown["person_key"], shown["was_retired"], shown["retired_keys"]) == (P1, True, [P2])
    assert [f"{r['source']}/{r['source_pk']}" for r in shown["records"]] == sorted(world.linked())
    assert sum(not link["active"] for link in shown["links"]) == 3
    assert all(o["person_key"] == P1 for o in shown["origins"])
    text = " ".join(_cli(world.url, "persons", "show", P2).split())  # Rich wraps long lines
    assert f"resolves to {P1}" in text
    assert "itself" in _cli(world.url, "persons", "merge", P1, P1, code=2)
    assert "no person" in _cli(world.url, "persons", "show", "nobody", code=2)


def test_two_dnis_refuse_the_merge_and_the_dry_run_shows_why(world: World) -> None:
    """P1 carries DNI 11111111, P2 DNI 22222222 and licence Q22222222: two people on paper."""
    before = world.dump()
    refused = " ".join(_cli(world.url, "persons", "merge", P1, P2, code=2).split())
    assert "look like two people" in refused and "11111111 / 22222222" in refused
    assert "--force" in refused and world.dump() == before
    dry = json.loads(_cli(world.url, "persons", "merge", P1, P2, "--dry-run", "--json"))
    assert (dry["status"], dry["dry_run"], dry["run_id"], dry["audit_id"]) == (
        "would_merge", True, None, None)  # fmt: skip
    assert dry["conflicts"] == [{"field": "identity_number", "keep": ["11111111"],
                                 "retire": ["22222222"], "blocks": True}]  # fmt: skip
    assert (dry["survivor"], dry["retired"], dry["links_moved"]) == (P1, P2, 3)
    assert world.dump() == before  # the dry run did the merge and rolled it back
    table = " ".join(_cli(world.url, "persons", "merge", P1, P2, "--dry-run").split())
    assert "dry run: nothing written" in table and "identity_number" in table


def test_the_key_the_operator_keeps_survives(world: World) -> None:
    """P2 is the younger key: asked to keep it, the merge keeps it (it used to keep P1)."""
    out = json.loads(_cli(world.url, "persons", "merge", P2, P1, "--force", "--json"))
    assert (out["survivor"], out["retired"]) == (P2, P1)
    assert P1 not in world.linked().values()
    text = " ".join(_cli(world.url, "persons", "merge", P2, P1).split())
    assert "already one person" in text and P2 in text


def test_merge_then_unmerge_puts_everything_back(world: World) -> None:
    before = _state(world)
    merged = pm.merge_persons(world.engine, P1, P2, now=LATER, actor="ops", reason="t",
                              force=True)  # fmt: skip
    assert merged["links_moved"] == 3 and _state(world) != before
    dry = json.loads(_cli(world.url, "persons", "unmerge", P2, "--dry-run", "--json"))
    assert (dry["status"], dry["links_restored"], dry["run_id"]) == ("would_unmerge", 3, None)
    assert _state(world)["links"] == {k: P1 for k in before["links"]}  # still merged
    out = json.loads(_cli(world.url, "persons", "unmerge", P2[:8], "--by", "ana", "--json"))
    assert (out["status"], out["restored"], out["survivor"]) == ("unmerged", P2, P1)
    # D2, L2 and S1 come back to P2, with the origins of L2 and S1.
    assert (out["links_restored"], out["links_kept"], out["origins_restored"]) == (3, 0, 2)
    assert _state(world) == before  # every record and origin on its person again
    assert _persons_check(world).ok
    assert world.rows("SELECT action, target, actor FROM audit_log ORDER BY id") == [
        ("merge", P2, "ops"), ("unmerge", P2, "ana")]  # fmt: skip
    history = world.rows("SELECT event FROM origin_history WHERE event = 'unmerged'")
    assert len(history) == 2
    # Undone once: a second undo has nothing to undo; merging again works and is undoable.
    assert "not merged" in _cli(world.url, "persons", "unmerge", P2, code=2)
    pm.merge_persons(world.engine, P1, P2, now=LATER, actor="ops", reason="t", force=True)
    assert json.loads(_cli(world.url, "persons", "unmerge", P2, "--json"))["links_restored"] == 3
    assert _state(world) == before


def test_unmerge_keeps_what_changed_since_the_merge(world: World) -> None:
    pm.merge_persons(world.engine, P1, P2, now=LATER, actor="ops", reason="t", force=True)
    # Someone re-linked lead L2 by hand after the merge: the undo must not take it back.
    l2 = world.record_id("leads", "L2")
    world.exec("UPDATE link SET active = FALSE WHERE record_id = :r AND active", r=l2)
    world.exec("INSERT INTO link (record_id, person_key, rule, score, confidence, evidence, "
               "active, created_at) VALUES (:r, :p, 'review_accept', 1.0, 'high', '{}', TRUE, "
               ":t)", r=l2, p=P1, t=LATER)  # fmt: skip
    out = pm.unmerge_persons(world.engine, P2, now=LATER, actor="ops", reason="t")
    assert (out["links_restored"], out["links_kept"]) == (2, 1)
    assert world.linked()["leads/L2"] == P1 and world.linked()["drivers/D2"] == P2


def test_an_old_merge_without_a_journal_cannot_be_undone(world: World) -> None:
    pm.merge_persons(world.engine, P1, P2, now=LATER, actor="ops", reason="t", force=True)
    world.exec("UPDATE audit_log SET detail = '{}' WHERE action = 'merge'")
    before = world.dump()
    assert "no journal" in " ".join(_cli(world.url, "persons", "unmerge", P2, code=2).split())
    assert world.dump() == before


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([("K", "drivers", "document", "12345678"), ("R", "drivers", "license", "Q12345678")], []),
        ([("K", "drivers", "document", "12345678"), ("R", "drivers", "document", "87654321")],
         [{"field": "identity_number", "keep": ["12345678"], "retire": ["87654321"],
           "blocks": True}]),
        # One side without a number: nothing to compare, no conflict.
        ([("K", "drivers", "document", "12345678")], []),
        # One number in common is enough, even if the other side carries a second one.
        ([("K", "drivers", "document", "12345678"), ("R", "drivers", "document", "12345678"),
          ("R", "scouting", "driver_license", "Q55555555")], []),
        ([("K", "drivers", "last_name", "Torres Vega"), ("R", "leads", "last_name", "Quispe")],
         [{"field": "family_name", "keep": ["TORRES", "VEGA"], "retire": ["QUISPE"],
           "blocks": False}]),
        ([("K", "drivers", "last_name", "Torres Vega"),
          ("R", "scouting", "driver_name", "TORRES VEGA ANA")], []),
    ],
)  # fmt: skip
def test_merge_conflicts(values: list[tuple[str, str, str, str]], expected: list[Any]) -> None:
    assert pm.merge_conflicts(values, "K", "R") == expected


def _state(world: World) -> dict[str, Any]:
    """Who holds each record (active link) and each origin."""
    origins = world.rows("SELECT id, person_key, status FROM origin ORDER BY id")
    return {"links": world.linked(), "origins": [tuple(r) for r in origins]}


def test_persons_show_takes_the_start_of_a_key_as_lists_print_it(world: World) -> None:
    # `review list` prints keys cut to 8 characters; `persons show` refused them.
    shown = json.loads(_cli(world.url, "persons", "show", P1[:8], "--json"))
    assert shown["person_key"] == P1 and shown["requested"] == P1
    assert json.loads(_cli(world.url, "persons", "show", P1.upper(), "--json"))["person_key"] == P1
    # A start shared by two keys names them; a start under 8 characters is no key.
    twin = P1[:8] + "-0000-0000-0000-000000000000"
    with transaction(world.engine) as session:
        session.add(Person(person_key=twin, created_at=LATER))
    ambiguous = " ".join(_cli(world.url, "persons", "show", P1[:8], code=2).split())
    assert "more than one person key" in ambiguous and twin in ambiguous
    assert json.loads(_cli(world.url, "persons", "show", P1[:13], "--json"))["person_key"] == P1
    assert "no person" in _cli(world.url, "persons", "show", P1[:7], code=2)
    assert "no person key starts with" in _cli(world.url, "persons", "show", "ffffffff9", code=2)
    assert "no person" in _cli(world.url, "persons", "show", "%%%%%%%%", code=2)
