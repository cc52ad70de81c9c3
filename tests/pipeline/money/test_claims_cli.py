"""`leadlink claims`, `leadlink quarantine scan|list` and `check quarantine|claims` end to end."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from tests.pipeline.claims_world import load_fixture
from typer.testing import CliRunner

from leadlink.cli import app

runner = CliRunner()


def _json(db_url: str, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["--db", db_url, *args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_claims_json_shape_and_filters(engine: Engine, db_url: str) -> None:
    load_fixture(engine)
    data = _json(db_url, "claims")
    assert set(data) >= {"claims", "payments", "funnel", "quarantined", "run_id", "changes"}
    claims = data["claims"]
    assert isinstance(claims, dict)
    assert set(claims) >= {
        "by_status",
        "by_milestone",
        "amount_outstanding",
        "amount_paid",
        "aging",
    }
    assert set(claims["aging"]) == {"0-7", "8-14", "15-30", ">30"}
    assert "rows" not in data
    paid = _json(db_url, "claims", "--status", "paid", "--milestone", "M1", "--rows")
    rows = paid["rows"]
    assert isinstance(rows, list)
    # As of the real clock every fixture window has closed; M1 paid: DA1 (P01), DD1, DH1.
    assert sorted(r["payment"] for r in rows) == ["P01", "P04", "P10"]
    assert all(r["status"] == "paid" and r["milestone"] == "M1" for r in rows)
    person = rows[0]["person_key"]
    mine = _json(db_url, "claims", "--person", person)
    assert {r["person_key"] for r in mine["rows"]} == {person}  # type: ignore[index]
    runs = runner.invoke(app, ["--db", db_url, "claims"])
    assert runs.exit_code == 0 and "aging of outstanding claims" in runs.stdout


def test_claims_refuses_unknown_filters(engine: Engine, db_url: str) -> None:
    load_fixture(engine, ("drivers",))
    for args in (["--milestone", "M2"], ["--status", "open"]):
        result = runner.invoke(app, ["--db", db_url, "claims", *args])
        assert result.exit_code == 2
        assert "unknown" in result.output


def test_quarantine_scan_list_and_checks(engine: Engine, db_url: str) -> None:
    load_fixture(engine)
    scan = _json(db_url, "quarantine", "scan")
    assert (scan["scanned"], scan["quarantined"], scan["active"]) == (8, 1, 1)
    listed = _json(db_url, "quarantine", "list")
    assert [r["driver_id"] for r in listed["quarantined"]] == ["DE1"]  # type: ignore[index]
    _json(db_url, "claims")
    checks = _json(db_url, "check", "quarantine")
    assert checks["ok"] is True
    assert _json(db_url, "check", "claims")["ok"] is True


def test_claims_filtered_to_a_milestone_report_that_milestone_in_lead_order(
    engine: Engine, db_url: str
) -> None:
    # `--milestone M1` listed M5 and M25 with 0 claims; rows came by person-key hex, with
    # milestones as text (M1, M25, M5).
    load_fixture(engine)
    only = _json(db_url, "claims", "--milestone", "M1")["claims"]
    assert isinstance(only, dict) and set(only["by_milestone"]) == {"M1"}
    everything = _json(db_url, "claims", "--rows")
    assert set(everything["claims"]["by_milestone"]) == {"M1", "M5", "M25"}  # type: ignore[index]
    rows = everything["rows"]
    assert isinstance(rows, list) and len(rows) > 3
    rank = {"M1": 0, "M5": 1, "M25": 2}
    keys = [(r["lead_date"], r["lead_id"], rank[r["milestone"]]) for r in rows]
    assert keys == sorted(keys)
