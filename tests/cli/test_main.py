"""The command line end to end on real databases: output shapes and exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.factories import lead, write_csv
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.pipeline.operations.checks import CHECKS

runner = CliRunner()


def cli(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def cli_json(db_url: str, *args: str) -> Any:
    return json.loads(cli(db_url, *args, "--json"))


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> tuple[str, Path, dict[str, Any]]:
    data = tmp_path / "data"
    summary = cli_json(db_url, "demo", "--leads", "800", "--seed", "3", "--data-dir", str(data))
    return db_url, data, summary


def test_demo_resolves_and_reports_quality(demo: tuple[str, Path, dict[str, Any]]) -> None:
    _, data, summary = demo
    m = summary["match"]
    assert set(m) >= {"processed", "linked", "new_persons", "unmatched", "review"}
    assert set(m["unmatched"]) == {
        "NO_CANDIDATES", "WEAK_MATCH_ONLY", "MULTIPLE_CANDIDATES", "MISSING_IDENTIFIERS",
        "CONFLICTING_EVIDENCE", "ERROR",
    }  # fmt: skip
    assert m["processed"] == m["linked"] + sum(m["unmatched"].values())
    assert summary["ingest"]["leads"]["rows"] == 800
    ev = summary["evaluate"]["lead_driver"]
    # The deterministic tier alone: the bar of the spine issue.
    assert ev["precision"] >= 0.99 and ev["recall"] >= 0.90, ev
    assert (data / "truth.csv").exists()
    # The demo's unlinked-activity figure is `leadlink activity`'s summary, in two numbers.
    activity = cli_json(demo[0], "activity", "--limit", "0")["summary"]
    assert summary["unlinked_activity"] == {
        "drivers": activity["drivers"], "would_claim": activity["would_claim"]}  # fmt: skip


def test_demo_reports_the_backlog_by_segment(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, data, summary = demo
    imp = summary["impact"]
    assert sum(v["leads"] for v in imp["segments"].values()) == imp["backlog_after"]
    assert sum(imp["lost_by_reason"].values()) == imp["segments"]["lost"]["leads"]
    # The printed summary: a rerun (nothing new) shows the same segments as a table.
    text = cli(db_url, "demo", "--leads", "800", "--seed", "3", "--data-dir", str(data))
    assert "backlog by segment" in text and "lost, by reason" in text
    lost = imp["segments"]["lost"]["leads"]
    assert any("│ lost " in line and f"│ {lost} " in line for line in text.splitlines()), text


def test_rerunning_demo_changes_nothing(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, data, first = demo
    again = cli_json(db_url, "demo", "--leads", "800", "--seed", "3", "--data-dir", str(data))
    assert again["match"]["processed"] == 0
    assert all(r["inserted"] == 0 and r["updated"] == 0 for r in again["ingest"].values())
    assert again["evaluate"] == first["evaluate"]


def test_match_json_and_check_all(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, _, _ = demo
    data = cli_json(db_url, "match")
    assert data["processed"] == 0 and data["linked"] == 0
    checks = cli_json(db_url, "check", "all")
    assert checks["ok"] is True
    # Every invariant of DESIGN.md has its check, and `all` runs every registered one.
    assert set(checks["checks"]) == set(CHECKS) >= {
        "heads", "source-pk", "links", "origins", "unmatched", "idempotent", "drain",
        "quarantine", "claims", "review", "persons", "origin-status",
    }  # fmt: skip


def test_check_exits_1_and_names_the_violation(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, _, _ = demo
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM origin_history"))
    engine.dispose()
    result = runner.invoke(app, ["--db", db_url, "check", "origins", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["checks"]["origins"]["violations"] > 0


def test_export_is_sorted_and_byte_identical_on_rerun(
    demo: tuple[str, Path, dict[str, Any]], tmp_path: Path
) -> None:
    db_url, _, summary = demo
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    cli(db_url, "export", "links", "--out", str(a))
    cli(db_url, "export", "links", "--out", str(b))
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    assert lines[0] == "source,source_pk,person_key,rule,score,confidence"
    keys = [tuple(line.split(",")[:2]) for line in lines[1:]]
    assert keys == sorted(keys)
    # The demo links in match, then the recovery queue may link a few more.
    assert len(keys) == summary["match"]["linked"] + summary["recover"]["matched"]


def test_explain_linked_and_unmatched(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, _, _ = demo
    engine = create_engine(db_url)
    with engine.connect() as conn:
        linked = conn.execute(text(
            "SELECT sr.source_pk FROM source_record sr JOIN link l ON l.record_id = sr.id "
            "WHERE sr.source = 'leads' ORDER BY sr.source_pk LIMIT 1")).scalar_one()  # fmt: skip
        lost = conn.execute(text(
            "SELECT sr.source_pk FROM source_record sr JOIN unmatched u ON u.record_id = sr.id "
            "WHERE sr.source = 'leads' ORDER BY sr.source_pk LIMIT 1")).scalar_one()  # fmt: skip
    engine.dispose()
    data = cli_json(db_url, "explain", "leads", linked)
    assert data["status"] == "linked"
    assert data["link"]["rule"] in {"phone_exact", "document_exact", "plate_name",
                                    "brand_model_name"}  # fmt: skip
    assert data["link"]["evidence"]["fields"]
    assert data["candidates"][0]["person_key"] == data["link"]["person_key"]
    assert data["candidates"][0]["record"].count("/") == 1
    assert any(o["origin"] == "cabinet_lead" for o in data["origins"])
    assert any(r["source"] == "leads" and r["source_pk"] == linked for r in data["person_records"])
    data = cli_json(db_url, "explain", "leads", lost)
    assert data["status"] == "unmatched" and data["unmatched"]["reason"]
    text_out = cli(db_url, "explain", "leads", linked)
    assert "evidence" in text_out


def test_evaluate_json(demo: tuple[str, Path, dict[str, Any]]) -> None:
    db_url, data, summary = demo
    ev = cli_json(db_url, "evaluate", "--truth", str(data / "truth.csv"))
    assert ev["lead_driver"] == summary["evaluate"]["lead_driver"]
    assert 0 < ev["all_sources"]["f1"] <= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "nope", "x.csv"], "unknown source"),
        (["explain", "nope", "1"], "unknown source"),
        (["explain", "leads", "does-not-exist"], "no record"),
        (["check", "everything"], "unknown check"),
        (["evaluate", "--truth", "missing.csv"], "file not found"),
    ],
)
def test_bad_usage_exits_2_with_a_message(db_url: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_invalid_settings_exit_2(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADLINK_ACCEPT_THRESHOLD", "1.7")
    result = runner.invoke(app, ["--db", db_url, "match"])
    assert result.exit_code == 2
    assert "LEADLINK_ACCEPT_THRESHOLD" in result.output


def test_unmigrated_database_is_refused_until_init(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    url = f"sqlite:///{path}"
    # No file: bad input (a misspelt path must not become a new store), and none is created.
    result = runner.invoke(app, ["--db", url, "match"])
    assert result.exit_code == 2 and "leadlink init" in result.output and not path.exists()
    # A file with no schema: refused until init.
    sqlite3.connect(path).close()
    result = runner.invoke(app, ["--db", url, "match"])
    assert result.exit_code == 1 and "leadlink init" in result.output
    cli(url, "init")
    cli(url, "init")  # twice is fine
    assert cli_json(url, "match")["processed"] == 0


def test_real_process_quiet_when_piped(db_url: str, tmp_path: Path) -> None:
    """The installed console script: JSON on stdout, no progress bar when piped."""
    path = write_csv(
        tmp_path / "leads.csv",
        "leads",
        [lead("L1", first_name="Ana", last_name="Torres", phone="987000111")],
    )
    exe = Path(sys.executable).with_name("leadlink")
    proc = subprocess.run([str(exe), "--db", db_url, "ingest", "leads", str(path), "--json"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inserted"] == 1
    assert proc.stderr == ""


def test_model_show_train_and_explain_weights(demo: tuple[str, Path, dict[str, Any]]) -> None:
    """The demo's match trained and stored a model; show it, retrain, explain a model link."""
    db_url, _, summary = demo
    used = summary["match"]["model"]
    assert used["trained_now"] is True
    shown = cli_json(db_url, "model", "show")
    assert (shown["model_id"], shown["sha256"]) == (used["id"], used["sha256"])
    fields = {c["field"] for c in shown["comparisons"]}
    assert {"given", "family1", "phone", "plate"} <= fields
    trained = cli_json(db_url, "model", "train", "--seed", "42")
    assert trained["model_id"] == used["id"] + 1
    assert cli_json(db_url, "model", "show")["model_id"] == trained["model_id"]
    assert cli_json(db_url, "model", "show", str(used["id"]))["sha256"] == used["sha256"]
    cli(db_url, "model", "show", "999", code=2)
    pk = _first(db_url, "SELECT s.source_pk FROM link l JOIN source_record s ON s.id = l.record_id "
                        "WHERE l.active AND l.rule = 'model' ORDER BY s.id LIMIT 1")  # fmt: skip
    assert pk is not None, "the demo's model linked some lead"
    out = cli(db_url, "explain", "leads", pk)
    assert "match weights (model)" in out and "given" in out
    assert "probabilistic model" in cli_json(db_url, "explain", "leads", pk)["link"]["rule_label"]
    # A review-band model verdict keeps its match weights on its review item.
    proposed = _first(
        db_url, "SELECT s.source_pk FROM review_item r JOIN source_record s ON s.id = r.record_id "
                "WHERE r.rule = 'model' AND s.source = 'leads' ORDER BY r.id LIMIT 1")  # fmt: skip
    assert proposed is not None, "the demo's model proposed some lead for review"
    explained = cli_json(db_url, "explain", "leads", proposed)
    assert explained["status"] == "unmatched" and explained["unmatched"]["band"] == "review"
    assert explained["review_items"][0]["evidence"]["waterfall"]
    assert "match weights (model)" in cli(db_url, "explain", "leads", proposed)


def test_model_show_without_a_model_exits_2(db_url: str) -> None:
    assert "no model trained yet" in cli(db_url, "model", "show", code=2)
    assert "too little to train on" in cli(db_url, "model", "train", code=2)


def _first(db_url: str, sql: str) -> Any:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_version_is_the_packages_one_and_needs_no_database(tmp_path: Path) -> None:
    """`leadlink --version` prints the version the package metadata has (pyproject.toml takes it
    from leadlink.__version__), before any database is opened."""
    from importlib.metadata import version

    import leadlink

    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'none.db'}", "--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"leadlink {leadlink.__version__}"
    assert version("leadlink") == leadlink.__version__
    assert not (tmp_path / "none.db").exists()
