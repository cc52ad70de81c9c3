"""The review queue end to end on real databases: match proposes, a person decides, audited."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, load
from tests.review_factories import (
    SETTINGS,
    dump,
    item_id,
    items,
    review_world,
    rows,
)
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.pipeline.resolution import decider, review
from leadlink.pipeline.resolution.resolve import match, person_key_for

runner = CliRunner()


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    review_world(engine, tmp_path)
    match(engine, SETTINGS, now=NOW)
    return engine


def test_match_proposes_review_band_pairs(world: Engine) -> None:
    assert items(world) == {
        "L1": [("D1", "open")],
        "L2": [("D2", "open")],
        # Homonyms with the same car: the engine cannot choose, both are proposed.
        "L3": [("D3", "open"), ("D4", "open")],
    }
    found = rows(world, "SELECT rule, score, run_id, evidence FROM review_item ORDER BY id")
    assert {r[0] for r in found} == {"brand_model_name"}
    assert all(r[1] == pytest.approx(0.62) and r[2] is not None for r in found)
    evidence = [e if isinstance(e, dict) else json.loads(e) for *_, e in found]
    assert {e["reason"] for e in evidence} == {"WEAK_MATCH_ONLY", "MULTIPLE_CANDIDATES"}
    assert all(e["rule"] == "brand_model_name" and e["candidates"] for e in evidence)
    # They stay unmatched meanwhile: proposing is not linking.
    assert rows(world, "SELECT count(*) FROM unmatched")[0][0] == 3
    assert rows(world, "SELECT count(*) FROM link WHERE rule = 'review_accept'")[0][0] == 0


def test_list_is_ordered_by_claim_deadline(world: Engine) -> None:
    page = review.list_items(world, SETTINGS, now=NOW)
    got = [(i["record"]["source_pk"], i["deadline"], i["days_left"]) for i in page["items"]]
    # L2 is the oldest lead: its 14-day window closes first.
    assert [g[0] for g in got] == ["L2", "L1", "L3", "L3"]
    assert [g[1] for g in got] == ["2026-10-13", "2026-10-15", "2026-10-16", "2026-10-16"]
    assert got[0][2] == -19  # 2026-10-13 - 2026-11-01
    assert page["total"] == 4
    first = page["items"][0]
    assert first["record"]["name"] == "Rosa Elena Condori Apaza"
    assert first["record"]["car"] == "Kia Rio"
    assert first["person"]["records"] == 1
    assert first["person"]["shown"][0]["source_pk"] == "D2"
    assert first["person"]["person_key"] == person_key_for("drivers", "D2")
    # Paging.
    second = review.list_items(world, SETTINGS, limit=1, offset=1, now=NOW)
    assert [i["record"]["source_pk"] for i in second["items"]] == ["L1"]
    assert second["total"] == 4
    assert review.list_items(world, SETTINGS, status="rejected")["total"] == 0
    with pytest.raises(UsageError):
        review.list_items(world, SETTINGS, status="closed")


def test_deadlines_follow_the_runs_settings_not_the_environment(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim window comes from the Settings `match` was given; the process environment
    (what a fallback would read) has no say."""
    monkeypatch.setenv("LEADLINK_CLAIM_WINDOW_DAYS", "3")
    review_world(engine, tmp_path)
    match(engine, SETTINGS.model_copy(update={"claim_window_days": 30}), now=NOW)
    page = review.list_items(engine, SETTINGS, now=NOW)
    # The same leads as test_list_is_ordered_by_claim_deadline, 16 days later than 14 days.
    got = [(i["record"]["source_pk"], i["deadline"]) for i in page["items"]]
    assert got == [("L2", "2026-10-29"), ("L1", "2026-10-31"), ("L3", "2026-11-01"),
                   ("L3", "2026-11-01")]  # fmt: skip


def test_accept_links_with_origin_supersedes_the_rest_and_is_audited(world: Engine) -> None:
    chosen = item_id(world, "L3", "D4")
    out = review.accept(world, SETTINGS, chosen, actor="ana", note="same DNI on the call",
                        now=NOW)  # fmt: skip
    p4 = person_key_for("drivers", "D4")
    assert out["link"]["person_key"] == p4 and out["superseded"] == 1
    assert out["item"]["status"] == "accepted" and out["item"]["decided_by"] == "ana"
    link = rows(
        world,
        "SELECT l.person_key, l.rule, l.score, l.confidence, l.evidence FROM link l "
        "JOIN source_record sr ON sr.id = l.record_id WHERE sr.source_pk = 'L3' AND l.active",
    )
    assert len(link) == 1
    key, rule, score, confidence, evidence = link[0]
    evidence = evidence if isinstance(evidence, dict) else json.loads(evidence)
    assert (key, rule, confidence) == (p4, "review_accept", "medium")
    assert score == pytest.approx(0.62)
    assert evidence["accepted_by"] == "ana" and evidence["review_item"] == chosen
    assert evidence["rule"] == "brand_model_name"
    origin = rows(
        world,
        "SELECT o.origin, o.decided_by, o.status, h.event FROM origin o "
        "JOIN origin_history h ON h.origin_id = o.id WHERE o.person_key = :k",
        k=p4,
    )
    assert origin == [("cabinet_lead", "manual", "resolved_manual", "created")]
    assert items(world)["L3"] == [("D3", "superseded"), ("D4", "accepted")]
    assert rows(world, "SELECT count(*) FROM unmatched u JOIN source_record sr "
                       "ON sr.id = u.record_id WHERE sr.source_pk = 'L3'")[0][0] == 0  # fmt: skip
    audit = rows(world, "SELECT actor, action, target, detail, at FROM audit_log")
    assert len(audit) == 1
    actor, action, target, detail, at = audit[0]
    detail = detail if isinstance(detail, dict) else json.loads(detail)
    assert (actor, action, target) == ("ana", "review_accept", f"review_item:{chosen}")
    assert detail["record"] == "leads/L3" and detail["person_key"] == p4
    assert detail["note"] == "same DNI on the call" and detail["score"] == pytest.approx(0.62)
    assert str(at).startswith(str(NOW))  # SQLite hands raw text back
    results = run_checks(world, SETTINGS, list(CHECKS))
    assert [(r.name, r.examples) for r in results if not r.ok] == []


def test_reject_is_audited_and_never_proposed_again(world: Engine) -> None:
    rejected = item_id(world, "L1", "D1")
    out = review.reject(world, SETTINGS, rejected, actor="luis", note="different person",
                        now=NOW)  # fmt: skip
    assert out["item"]["status"] == "rejected" and out["item"]["note"] == "different person"
    audit = rows(world, "SELECT actor, action, target FROM audit_log")
    assert audit == [("luis", "review_reject", f"review_item:{rejected}")]
    # The lead still waits for its person, with its reason.
    assert rows(world, "SELECT u.reason, u.band FROM unmatched u JOIN source_record sr "
                       "ON sr.id = u.record_id WHERE sr.source_pk = 'L1'") == [
        ("WEAK_MATCH_ONLY", "review")]  # fmt: skip
    before = dump(world, "review_item")
    again = match(world, SETTINGS, now=NOW, rematch=True)
    assert again.processed == 3  # the three leads were reconsidered...
    assert dump(world, "review_item") == before  # ...and nothing reopened or added
    assert items(world)["L1"] == [("D1", "rejected")]
    assert review.list_items(world, SETTINGS)["total"] == 3


def test_rerun_of_match_adds_no_items(world: Engine) -> None:
    before = dump(world, "review_item")
    assert match(world, SETTINGS, now=NOW).processed == 0
    assert dump(world, "review_item") == before
    assert len(before) == 4


def test_a_record_that_gets_linked_closes_its_items(world: Engine, tmp_path: Path) -> None:
    """Rosa's lead gets her phone and a driver with it arrives: the rematch links L2 by
    phone, so its review item is moot."""
    load(world, tmp_path, "drivers", [
        driver("D9", first_name="Rosa Elena", last_name="Condori Apaza", phone="955000111"),
    ])  # fmt: skip
    load(world, tmp_path, "leads", [
        {"lead_id": "L2", "created_at": "2026-09-29", "first_name": "Rosa Elena",
         "last_name": "Condori Apaza", "car_brand": "Kia", "car_model": "Rio",
         "phone": "955000111"},
    ])  # fmt: skip
    match(world, SETTINGS, now=NOW, rematch=True)
    linked = rows(world, "SELECT l.rule FROM link l JOIN source_record sr ON sr.id = l.record_id "
                         "WHERE sr.source_pk = 'L2' AND l.active")  # fmt: skip
    assert linked == [("phone_exact",)]
    assert items(world)["L2"] == [("D2", "superseded")]
    assert run_checks(world, SETTINGS, ["review", "links"])[0].ok


def test_engine_error_leaves_open_items_alone(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("engine down")

    monkeypatch.setattr(decider, "resolve", failing)
    match(world, SETTINGS, now=NOW, rematch=True)
    assert rows(world, "SELECT count(*) FROM unmatched WHERE reason = 'ERROR'")[0][0] == 3
    assert review.list_items(world, SETTINGS)["total"] == 4


def test_deciding_a_closed_or_unknown_item_is_refused(world: Engine) -> None:
    first = item_id(world, "L2", "D2")
    review.accept(world, SETTINGS, first, actor="ana", now=NOW)
    with pytest.raises(UsageError, match="already accepted \\(by ana"):
        review.reject(world, SETTINGS, first, actor="ana", now=NOW)
    with pytest.raises(UsageError, match="already accepted"):
        review.accept(world, SETTINGS, first, actor="ana", now=NOW)
    with pytest.raises(NotFoundError):
        review.accept(world, SETTINGS, 999_999, actor="ana", now=NOW)
    with pytest.raises(UsageError, match="who"):
        review.reject(world, SETTINGS, item_id(world, "L1", "D1"), actor="  ", now=NOW)
    assert len(rows(world, "SELECT id FROM audit_log")) == 1


def test_accepting_an_item_whose_record_got_linked_meanwhile(world: Engine) -> None:
    """Something linked L1 behind the queue's back: the accept is refused, the item closed."""
    stale = item_id(world, "L1", "D1")
    with world.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE review_item SET status = 'open' WHERE id = %d" % stale  # noqa: S608, UP031
        )
    other = item_id(world, "L2", "D2")
    review.accept(world, SETTINGS, other, actor="ana", now=NOW)
    # Point L1's proposal at the record L2 just got linked to: now that record is linked.
    with world.begin() as conn:
        l2 = conn.exec_driver_sql("SELECT id FROM source_record WHERE source_pk = 'L2'").scalar()
        conn.exec_driver_sql(
            "UPDATE review_item SET record_id = %d WHERE id = %d" % (l2, stale)  # noqa: S608, UP031
        )
    with pytest.raises(UsageError, match="already linked"):
        review.accept(world, SETTINGS, stale, actor="ana", now=NOW)
    assert rows(world, "SELECT status, decided_by FROM review_item WHERE id = :i", i=stale) == [
        ("superseded", "ana")
    ]
    assert rows(world, "SELECT action FROM audit_log ORDER BY id") == [
        ("review_accept",), ("review_stale",)
    ]  # fmt: skip


# --------------------------------------------------------------------------- the command line


def cli(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, "review", *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def test_cli_list_accept_reject(world: Engine, db_url: str) -> None:
    listed = json.loads(cli(db_url, "list", "--json"))
    assert listed["total"] == 4
    assert [i["record"]["source_pk"] for i in listed["items"]] == ["L2", "L1", "L3", "L3"]
    human = cli(db_url, "list")
    assert "leads/L2" in human and "Condori" in human and "drivers/D2" in human
    first, second = listed["items"][0]["id"], listed["items"][1]["id"]
    accepted = json.loads(cli(db_url, "accept", str(first), "--json"))
    assert accepted["item"]["decided_by"] == getpass.getuser()
    assert accepted["link"]["rule"] == "review_accept"
    out = cli(db_url, "reject", str(second), "--note", "not him", "--by", "ana")
    assert "rejected" in out
    # Deciding twice, or an unknown item: exit 2 with a clear message.
    again = runner.invoke(app, ["--db", db_url, "review", "accept", str(first)])
    assert again.exit_code == 2 and "already accepted" in again.output
    again = runner.invoke(app, ["--db", db_url, "review", "reject", str(second)])
    assert again.exit_code == 2 and "already rejected (by ana" in again.output
    missing = runner.invoke(app, ["--db", db_url, "review", "accept", "4242"])
    assert missing.exit_code == 2 and "no review item 4242" in missing.output
    bad = runner.invoke(app, ["--db", db_url, "review", "list", "--status", "nope"])
    assert bad.exit_code == 2
    assert json.loads(cli(db_url, "list", "--json"))["total"] == 2
    everything = json.loads(cli(db_url, "list", "--status", "all", "--json"))
    assert sorted(i["status"] for i in everything["items"]) == [
        "accepted", "open", "open", "rejected"
    ]  # fmt: skip
    actions = rows(world, "SELECT actor, action FROM audit_log ORDER BY id")
    assert actions == [(getpass.getuser(), "review_accept"), ("ana", "review_reject")]
