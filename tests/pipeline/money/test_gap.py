"""Gap analysis on real databases: every reason, the risk rules, filters, summary and CLI."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.pipeline.ops_world import P1, P2, SETTINGS, build, decide, execute, lead_record, rows
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import UsageError
from leadlink.pipeline.money.gap import gap_report
from leadlink.pipeline.resolution.resolve import person_key_for


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return build(engine, tmp_path)


def _by_lead(report: dict) -> dict[str, tuple[str, str, int]]:
    return {r["lead_id"]: (r["gap_reason"], r["risk"], r["age_days"]) for r in report["leads"]}


def test_matched_and_unmatched_leads(world: Engine) -> None:
    report = gap_report(world, SETTINGS, now=NOW)
    assert _by_lead(report) == {
        "L1": ("resolved", "low", 31),
        "L2": ("resolved", "low", 31),
        "L3": ("no_identity", "high", 31),  # >= 7 days with no identity
        "L5": ("no_identity", "medium", 3),  # >= 2 days
        "L4": ("no_identity", "low", 1),
    }
    # High risk first, then oldest, then lead id.
    assert [r["lead_id"] for r in report["leads"]] == ["L3", "L5", "L1", "L2", "L4"]
    s = report["summary"]
    assert (s["resolved"], s["no_identity"], s["no_origin"], s["inconsistent_origin"]) == (
        2,
        3,
        0,
        0,
    )
    assert (s["high_risk"], s["medium_risk"], s["low_risk"], s["total"]) == (1, 1, 3, 5)
    assert s["unresolved_pct"] == 60.0


def test_no_origin_and_inconsistent_origin(world: Engine) -> None:
    l1, l2 = lead_record(world, "L1"), lead_record(world, "L2")
    # L2 linked before origins existed: no origin row at all.
    execute(world, "DELETE FROM origin_history WHERE origin_id IN "
                   "(SELECT id FROM origin WHERE record_id = :r)", r=l2)  # fmt: skip
    execute(world, "DELETE FROM origin WHERE record_id = :r", r=l2)
    # L1's origin sits on another person than its link.
    execute(world, "UPDATE origin SET person_key = :p WHERE record_id = :r", p=P2, r=l1)
    report = gap_report(world, SETTINGS, now=NOW)
    got = _by_lead(report)
    assert got["L1"] == ("inconsistent_origin", "high", 31)
    assert got["L2"] == ("no_origin", "medium", 31)
    s = report["summary"]
    assert (s["resolved"], s["no_origin"], s["inconsistent_origin"], s["high_risk"]) == (0, 1, 1, 2)


def test_a_person_whose_origins_are_all_discarded_is_inconsistent(world: Engine) -> None:
    execute(world, "UPDATE origin SET status = 'discarded' WHERE person_key = :p", p=P1)
    got = _by_lead(gap_report(world, SETTINGS, now=NOW))
    assert got["L1"][0] == "inconsistent_origin"
    assert got["L2"][0] == "resolved"


def test_no_origin_on_a_fresh_lead_is_low_risk(world: Engine) -> None:
    # Two days is the medium threshold: one day later the same lead would be medium.
    l1 = lead_record(world, "L1")
    execute(world, "DELETE FROM origin_history WHERE origin_id IN "
                   "(SELECT id FROM origin WHERE record_id = :r)", r=l1)  # fmt: skip
    execute(world, "DELETE FROM origin WHERE record_id = :r", r=l1)
    execute(world, "UPDATE source_record SET event_date = '2026-10-31' WHERE id = :r", r=l1)
    assert _by_lead(gap_report(world, SETTINGS, now=NOW))["L1"] == ("no_origin", "low", 1)
    execute(world, "UPDATE source_record SET event_date = '2026-10-30' WHERE id = :r", r=l1)
    assert _by_lead(gap_report(world, SETTINGS, now=NOW))["L1"] == ("no_origin", "medium", 2)


def test_filters_and_limit_narrow_the_list_not_the_summary(world: Engine) -> None:
    report = gap_report(world, SETTINGS, now=NOW, reasons=["no_identity"], risks=["high", "medium"])
    assert [r["lead_id"] for r in report["leads"]] == ["L3", "L5"]
    assert report["summary"]["total"] == 5
    limited = gap_report(world, SETTINGS, now=NOW, limit=2)
    assert [r["lead_id"] for r in limited["leads"]] == ["L3", "L5"]
    with pytest.raises(UsageError, match="unknown gap reason or risk bogus"):
        gap_report(world, SETTINGS, now=NOW, reasons=["bogus"])


def test_cli_json_shape(world: Engine, db_url: str) -> None:
    result = CliRunner().invoke(app, ["--db", db_url, "gap", "--json", "--risk", "high"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"summary", "leads"}
    assert {"resolved", "no_identity", "no_origin", "inconsistent_origin", "high_risk"} <= set(
        data["summary"]
    )
    # The CLI uses the clock: after 2026-11-07 every unlinked lead is over a week old.
    assert [r["lead_id"] for r in data["leads"]] == ["L3", "L5", "L4"]
    assert all(set(r) >= {"lead_id", "gap_reason", "risk", "age_days"} for r in data["leads"])
    assert {(r["gap_reason"], r["risk"]) for r in data["leads"]} == {("no_identity", "high")}
    bad = CliRunner().invoke(app, ["--db", db_url, "gap", "--reason", "nope"])
    assert bad.exit_code == 2


def _reference(engine: Engine) -> dict[str, tuple[str, str]]:
    """The gap definitions of docs/operations.md, in plain Python over table dumps."""
    links = {
        r[0]: r[1] for r in rows(engine, "SELECT record_id, person_key FROM link WHERE active")
    }
    origins = [tuple(r) for r in rows(engine, "SELECT record_id, person_key, status FROM origin")]
    out = {}
    for rid, pk, day in rows(engine, "SELECT id, source_pk, event_date FROM source_record "
                                     "WHERE source = 'leads'"):  # fmt: skip
        age = (NOW.date() - (day if isinstance(day, dt.date) else dt.date.fromisoformat(day))).days
        person = links.get(rid)
        mine = [o for o in origins if o[0] == rid]
        live = [o for o in origins if o[1] == person and o[2] != "discarded"]
        if person is None:
            reason = "no_identity"
        elif not mine:
            reason = "no_origin"
        elif not [o for o in mine if o[1] == person] or not live:
            reason = "inconsistent_origin"
        else:
            reason = "resolved"
        if reason == "inconsistent_origin" or (reason == "no_identity" and age >= 7):
            risk = "high"
        elif reason != "resolved" and age >= 2:
            risk = "medium"
        else:
            risk = "low"
        out[pk] = (reason, risk)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_agrees_with_the_definitions_under_random_damage(
    engine: Engine, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    drivers = [driver(f"D{i}", first_name=f"N{i}") for i in range(4)]
    leads = [lead(f"L{i:02d}", created_at=f"2026-10-{rng.randint(20, 31):02d}") for i in range(16)]
    load(engine, tmp_path, "drivers", drivers)
    load(engine, tmp_path, "leads", leads)
    persons = [person_key_for("drivers", f"D{i}") for i in range(4)]
    links = {f"drivers/D{i}": persons[i] for i in range(4)}
    linked = [f"L{i:02d}" for i in range(16) if rng.random() < 0.8]
    links.update({f"leads/{pk}": rng.choice(persons) for pk in linked})
    decide(engine, links, unmatched=[f"leads/L{i:02d}" for i in range(16)
                                     if f"L{i:02d}" not in linked])  # fmt: skip
    for pk in linked:
        rid = lead_record(engine, pk)
        damage = rng.choice(["none", "none", "drop", "move", "discard", "discard_person"])
        if damage == "drop":
            execute(engine, "DELETE FROM origin_history WHERE origin_id IN "
                            "(SELECT id FROM origin WHERE record_id = :r)", r=rid)  # fmt: skip
            execute(engine, "DELETE FROM origin WHERE record_id = :r", r=rid)
        elif damage == "move":
            other = rng.choice(persons)
            execute(engine, "UPDATE origin SET person_key = :p WHERE record_id = :r "
                            "AND NOT EXISTS (SELECT 1 FROM origin o2 WHERE o2.person_key = :p "
                            "AND o2.record_id = :r)", p=other, r=rid)  # fmt: skip
        elif damage == "discard":
            execute(engine, "UPDATE origin SET status = 'discarded' WHERE record_id = :r", r=rid)
        elif damage == "discard_person":
            execute(engine, "UPDATE origin SET status = 'discarded' WHERE person_key IN (SELECT "
                            "person_key FROM link WHERE record_id = :r)", r=rid)  # fmt: skip
    report = gap_report(engine, SETTINGS, now=NOW)
    got = {r["lead_id"]: (r["gap_reason"], r["risk"]) for r in report["leads"]}
    assert got == _reference(engine)
    counted = Counter(reason for reason, _ in got.values())
    assert {k: report["summary"][k] for k in counted} == dict(counted)
    assert sum(report["summary"][f"{r}_risk"] for r in ("high", "medium", "low")) == 16
