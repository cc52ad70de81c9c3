"""Origins: backfill of legacy links, statuses, append-only history, the checks, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, load, scouting
from tests.pipeline.ops_world import P1, P2, SETTINGS, build, decide, execute, lead_record, rows
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline.money import origins
from leadlink.pipeline.money.gap import gap_report
from leadlink.pipeline.operations.checks import CHECKS

LATER = NOW + dt.timedelta(days=3)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return build(engine, tmp_path)


def _legacy(engine: Engine) -> None:
    """What the old system left: links, but no origin and no history at all."""
    execute(engine, "DELETE FROM origin_history")
    execute(engine, "DELETE FROM origin")


def _origins(engine: Engine) -> list[tuple]:
    return [tuple(r) for r in rows(engine, "SELECT o.id, sr.source_pk, o.person_key, o.origin, "
            "o.status, o.decided_by FROM origin o JOIN source_record sr ON sr.id = o.record_id "
            "ORDER BY o.id")]  # fmt: skip


def test_backfill_repairs_a_legacy_database_and_is_idempotent(world: Engine) -> None:
    _legacy(world)
    before = CHECKS["origins"](world, SETTINGS)
    assert not before.ok and before.violations == 2
    assert gap_report(world, SETTINGS, now=LATER)["summary"]["no_origin"] == 2

    result = origins.backfill(world, SETTINGS, now=LATER)
    assert result.as_dict() == {"run_id": result.run_id, "backfilled": 2, "journaled": 0,
                                "by_status": {"marked_legacy": 2}}  # fmt: skip
    got = {(pk, key, kind, status, by) for _, pk, key, kind, status, by in _origins(world)}
    assert got == {("L1", P1, "cabinet_lead", "marked_legacy", "system"),
                   ("L2", P2, "cabinet_lead", "marked_legacy", "system")}  # fmt: skip
    history = rows(world, "SELECT event, run_id FROM origin_history ORDER BY id")
    assert [tuple(h) for h in history] == [("backfilled", result.run_id)] * 2
    assert CHECKS["origins"](world, SETTINGS).ok
    assert gap_report(world, SETTINGS, now=LATER)["summary"]["resolved"] == 2

    again = origins.backfill(world, SETTINGS, now=LATER)
    assert (again.backfilled, again.journaled) == (0, 0)
    assert len(_origins(world)) == 2
    run = rows(world, "SELECT kind, status, counts FROM job_run WHERE id = :i", i=result.run_id)
    assert (run[0][0], run[0][1]) == ("backfill_origins", "ok")


def test_backfill_in_chunks_matches_one_go(world: Engine) -> None:
    _legacy(world)
    small = SETTINGS.model_copy(update={"chunk_size": 1})
    assert origins.backfill(world, small, now=LATER).backfilled == 2
    assert CHECKS["origins"](world, SETTINGS).ok


def _drop_origin(engine: Engine, record_id: int) -> None:
    execute(engine, "DELETE FROM origin_history WHERE origin_id IN "
                    "(SELECT id FROM origin WHERE record_id = :r)", r=record_id)  # fmt: skip
    execute(engine, "DELETE FROM origin WHERE record_id = :r", r=record_id)


def test_legacy_means_linked_before_the_first_origin(world: Engine) -> None:
    l2 = lead_record(world, "L2")
    # L2 lost its origin although origins existed when it was linked (L1's is as old).
    _drop_origin(world, l2)
    assert dict(origins.backfill(world, SETTINGS, now=LATER).by_status) == {"resolved_auto": 1}
    # Now L2's link is older than every origin: it predates origins, so it is legacy.
    _drop_origin(world, l2)
    execute(world, "UPDATE link SET created_at = :t WHERE record_id = :r",
            t=NOW - dt.timedelta(days=400), r=l2)  # fmt: skip
    assert dict(origins.backfill(world, SETTINGS, now=LATER).by_status) == {"marked_legacy": 1}
    statuses = {pk: status for _, pk, _, _, status, _ in _origins(world)}
    assert statuses == {"L1": "resolved_auto", "L2": "marked_legacy"}


def test_origins_without_history_are_journaled(world: Engine) -> None:
    execute(world, "DELETE FROM origin_history")
    assert not CHECKS["origins"](world, SETTINGS).ok
    result = origins.backfill(world, SETTINGS, now=LATER)
    assert (result.backfilled, result.journaled) == (0, 2)
    assert CHECKS["origins"](world, SETTINGS).ok


def test_a_second_origin_is_added_never_swapped(world: Engine, tmp_path: Path) -> None:
    first = _origins(world)
    first_history = rows(world, "SELECT id, origin_id, event, at FROM origin_history ORDER BY id")
    load(world, tmp_path, "scouting", [scouting(record_id="SC1", driver_name="ANA TORRES VEGA",
                                                driver_phone="987000111")])  # fmt: skip
    decide(world, {"scouting/SC1": P1})
    after = _origins(world)
    assert after[: len(first)] == first  # nothing changed, nothing moved
    added = after[len(first) :]
    assert [(pk, key, kind) for _, pk, key, kind, *_ in added] == [
        ("SC1", P1, "scout_registration")
    ]
    history = rows(world, "SELECT id, origin_id, event, at FROM origin_history ORDER BY id")
    assert history[: len(first_history)] == first_history
    assert [h[2] for h in history[len(first_history) :]] == ["created"]
    person = [o for o in after if o[2] == P1]
    assert {o[3] for o in person} == {"cabinet_lead", "scout_registration"}
    assert origins.backfill(world, SETTINGS, now=LATER).backfilled == 0


def test_a_manual_decision_changes_the_status_and_appends_history(world: Engine) -> None:
    origin_id = next(o[0] for o in _origins(world) if o[1] == "L1")
    data = origins.decide(world, origin_id, status="discarded", actor="ana.ops", note="duplicate",
                          now=LATER)  # fmt: skip
    assert (data["status"], data["decided_by"], data["source_pk"]) == ("discarded", "manual", "L1")
    assert [h["event"] for h in data["history"]] == ["created", "status_changed"]
    change = data["history"][1]["detail"]
    assert change["from"] == {"status": "resolved_auto", "decided_by": "system"}
    assert change["to"] == {"status": "discarded", "decided_by": "manual"}
    assert change["actor"] == "ana.ops"
    audit = rows(world, "SELECT actor, action, target FROM audit_log")
    assert [tuple(a) for a in audit] == [("ana.ops", "origin_decide", f"origin:{origin_id}")]
    # The person's only origin is discarded now: the gap analysis says so.
    leads = gap_report(world, SETTINGS, now=LATER, reasons=["inconsistent_origin"])["leads"]
    assert [r["lead_id"] for r in leads] == ["L1"]
    with pytest.raises(UsageError):
        origins.decide(world, origin_id, status="resolved_auto", actor="x", note=None, now=LATER)
    with pytest.raises(NotFoundError):
        origins.decide(world, 999999, status="discarded", actor="x", note=None, now=LATER)


def test_check_origin_status_fails_on_an_unknown_status(world: Engine) -> None:
    assert CHECKS["origin-status"](world, SETTINGS).ok
    execute(world, "UPDATE origin SET status = 'maybe' WHERE id = (SELECT min(id) FROM origin)")
    bad = CHECKS["origin-status"](world, SETTINGS)
    assert not bad.ok and bad.violations == 1 and "'maybe'" in bad.examples[0]


def test_cli_backfill_and_check(world: Engine, db_url: str) -> None:
    runner = CliRunner()
    _legacy(world)
    assert runner.invoke(app, ["--db", db_url, "check", "origins"]).exit_code == 1
    result = runner.invoke(app, ["--db", db_url, "backfill", "origins", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["backfilled"] == 2
    assert runner.invoke(app, ["--db", db_url, "check", "origins"]).exit_code == 0
    listed = runner.invoke(app, ["--db", db_url, "origins", "list", "--json"])
    assert json.loads(listed.stdout)["by_status"] == {"marked_legacy": 2}
    oid = json.loads(listed.stdout)["origins"][0]["id"]
    decided = runner.invoke(app, ["--db", db_url, "origins", "decide", str(oid), "--status",
                                  "resolved_manual", "--by", "ops", "--json"])  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert json.loads(decided.stdout)["status"] == "resolved_manual"
    missing = runner.invoke(app, ["--db", db_url, "origins", "decide", "424242", "--status",
                                  "discarded", "--by", "ops"])  # fmt: skip
    assert missing.exit_code == 2
