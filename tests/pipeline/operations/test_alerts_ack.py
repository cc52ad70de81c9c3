"""Acknowledging alerts on real SQLite and PostgreSQL: the service (who, when, the note, the
audit row), its conflicts (twice, resolved, unknown), what a later evaluation does with an
acknowledged alert, and `leadlink alerts ack` with its exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.pipeline.ops_world import SETTINGS, build, decide, rows
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline.operations.alerts import acknowledge, evaluate, open_now
from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.store import listing_ops
from leadlink.store.listing import Window

LATER = NOW + dt.timedelta(days=6)  # L3 37 days old, L5 9 days, L4 7 days: both lead alerts


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    build(engine, tmp_path)
    evaluate(engine, SETTINGS, now=LATER, job_kinds=[])
    return engine


def _id(engine: Engine, kind: str) -> int:
    return next(a["id"] for a in open_now(engine) if a["kind"] == kind)


def _audit(engine: Engine) -> list[tuple[Any, ...]]:
    found = rows(engine, "SELECT actor, action, target, detail FROM audit_log "
                         "WHERE action = 'alert_ack' ORDER BY id")  # fmt: skip
    return [(r[0], r[1], r[2], r[3] if isinstance(r[3], dict) else json.loads(r[3]))
            for r in found]  # fmt: skip


def _link_every_lead(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "drivers", [driver("D3", first_name="Nadie", phone="955999888"),
                                       driver("D4", first_name="Otro"),
                                       driver("D5", first_name="Tercero")])  # fmt: skip
    decide(engine, {f"{s}/{pk}": person_key_for("drivers", d)
                    for d, lead_id in (("D3", "L3"), ("D4", "L4"), ("D5", "L5"))
                    for s, pk in (("drivers", d), ("leads", lead_id))})  # fmt: skip


def test_acknowledge_records_who_when_and_the_note_and_audits_it(world: Engine) -> None:
    alert_id = _id(world, "over_7d_unresolved")
    at = LATER + dt.timedelta(minutes=5)
    got = acknowledge(world, alert_id, actor=" ana ", note="  llamando a los leads ", now=at)
    assert got["id"] == alert_id and got["open"] and got["acknowledged"]
    assert (got["acknowledged_by"], got["acknowledged_at"], got["ack_note"]) == (
        "ana",
        at.isoformat(),
        "llamando a los leads",
    )
    # Still open, now with its acknowledgement, in every listing.
    (listed,) = [a for a in open_now(world) if a["id"] == alert_id]
    assert listed == got
    other = next(a for a in open_now(world) if a["id"] != alert_id)
    assert not other["acknowledged"] and other["acknowledged_by"] is None
    total, items = listing_ops.alerts(world, listing_ops.AlertFilter(acknowledged=True),
                                      Window(limit=10, offset=0))  # fmt: skip
    assert total == 1 and items[0]["id"] == alert_id and items[0]["ack_note"] == got["ack_note"]
    total, items = listing_ops.alerts(world, listing_ops.AlertFilter(acknowledged=False),
                                      Window(limit=10, offset=0))  # fmt: skip
    assert [i["id"] for i in items] == [other["id"]]
    assert _audit(world) == [("ana", "alert_ack", f"alert:{alert_id}", {
        "kind": "over_7d_unresolved", "subject": "leads", "severity": "critical",
        "note": "llamando a los leads"})]  # fmt: skip


def test_twice_resolved_unknown_and_nameless_are_errors_that_change_nothing(
    world: Engine, tmp_path: Path
) -> None:
    alert_id = _id(world, "over_24h_no_identity")
    acknowledge(world, alert_id, actor="ana", note=None, now=LATER)
    with pytest.raises(UsageError, match=r"already acknowledged by ana at 2026-11-07 12:00"):
        acknowledge(world, alert_id, actor="beto", note="yo también", now=LATER)
    with pytest.raises(NotFoundError, match="no alert 999"):
        acknowledge(world, 999, actor="ana", note=None, now=LATER)
    other = _id(world, "over_7d_unresolved")
    with pytest.raises(UsageError, match="needs who"):
        acknowledge(world, other, actor="  ", note=None, now=LATER)
    with pytest.raises(UsageError, match="at most 2000"):
        acknowledge(world, other, actor="ana", note="x" * 2001, now=LATER)
    _link_every_lead(world, tmp_path)
    evaluate(world, SETTINGS, now=LATER, job_kinds=[])
    with pytest.raises(UsageError, match=f"alert {other} .* is resolved since"):
        acknowledge(world, other, actor="ana", note=None, now=LATER)
    assert [a[0] for a in _audit(world)] == ["ana"]
    assert rows(world, "SELECT acknowledged_by FROM alert WHERE id = :i", i=other) == [(None,)]


def test_an_acknowledged_alert_keeps_its_acknowledgement_until_it_resolves_and_refires_new(
    world: Engine, tmp_path: Path
) -> None:
    alert_id = _id(world, "over_24h_no_identity")
    acknowledge(world, alert_id, actor="ana", note="visto", now=LATER)
    # The rule still holds, with a new count: the same row, its detail refreshed, still
    # acknowledged.
    load(world, tmp_path, "drivers", [driver("D3", first_name="Nadie", phone="955999888")])
    decide(world, {"drivers/D3": person_key_for("drivers", "D3"),
                   "leads/L3": person_key_for("drivers", "D3")})  # fmt: skip
    evaluate(world, SETTINGS, now=LATER, job_kinds=[])
    (same,) = [a for a in open_now(world) if a["kind"] == "over_24h_no_identity"]
    assert same["id"] == alert_id and same["detail"]["leads"] == 2
    assert same["acknowledged_by"] == "ana" and same["ack_note"] == "visto"
    # It clears: resolved, the acknowledgement kept with the row it belonged to.
    load(world, tmp_path, "drivers", [driver("D4", first_name="Otro"),
                                      driver("D5", first_name="Tercero")])  # fmt: skip
    decide(world, {f"{s}/{pk}": person_key_for("drivers", d)
                   for d, lead_id in (("D4", "L4"), ("D5", "L5"))
                   for s, pk in (("drivers", d), ("leads", lead_id))})  # fmt: skip
    evaluate(world, SETTINGS, now=LATER, job_kinds=[])
    assert open_now(world) == []
    assert rows(world, "SELECT acknowledged_by, resolved_at IS NOT NULL FROM alert "
                       "WHERE id = :i", i=alert_id) == [("ana", True)]  # fmt: skip
    # A new lead nobody links: the rule fires again, a new row nobody acknowledged.
    load(world, tmp_path, "leads", [lead("L9", first_name="Nuevo", last_name="Sin Driver",
                                         phone="955000001", created_at="2026-10-20")])  # fmt: skip
    decide(world, {}, unmatched=["leads/L9"])
    evaluate(world, SETTINGS, now=LATER, job_kinds=[])
    (fresh,) = [a for a in open_now(world) if a["kind"] == "over_24h_no_identity"]
    assert fresh["id"] != alert_id and not fresh["acknowledged"]


def test_cli_ack_json_and_exit_codes(world: Engine, db_url: str) -> None:
    alert_id = _id(world, "over_7d_unresolved")
    runner = CliRunner()
    got = runner.invoke(app, ["--db", db_url, "alerts", "ack", str(alert_id), "--note",
                              "revisando", "--by", "carla", "--json"])  # fmt: skip
    assert got.exit_code == 0, got.output
    data = json.loads(got.stdout)
    assert (data["id"], data["acknowledged_by"], data["ack_note"]) == (alert_id, "carla",
                                                                      "revisando")  # fmt: skip
    again = runner.invoke(app, ["--db", db_url, "alerts", "ack", str(alert_id), "--by", "dani"])
    assert again.exit_code == 2 and "already acknowledged by carla" in again.output
    missing = runner.invoke(app, ["--db", db_url, "alerts", "ack", "999"])
    assert missing.exit_code == 2 and "no alert 999" in missing.output
    # The text listing of `leadlink alerts` shows who acknowledged; --json says it too.
    table = runner.invoke(app, ["--db", db_url, "alerts"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "unacknowledged" in table.output and "carla" in table.output
    listed = json.loads(runner.invoke(app, ["--db", db_url, "alerts", "--json"]).stdout)
    acked = [a for a in listed["open"] if a["acknowledged"]]
    assert [(a["id"], a["acknowledged_by"]) for a in acked] == [(alert_id, "carla")]
    assert [a[0] for a in _audit(world)] == ["carla"]
