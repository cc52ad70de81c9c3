"""`match --engine spark`: Splink on Spark scores the model's pairs; the links are DuckDB's.

Two copies of one store (same records, same stored model): `match` on DuckDB in one, `match
--engine spark` in the other, through the command line. Every link, unmatched reason and review
item must agree. Needs a JVM: skipped only when Java is absent; when Java is there, pyspark must
be too (make installs the spark extra whenever java is on PATH).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.conftest import fresh_pg_database
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.matching import model as probabilistic
from leadlink.matching import prepare, training
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.model import train
from leadlink.settings import Settings
from leadlink.store.db import make_engine
from leadlink.synth import generate

NOW = dt.datetime(2026, 11, 23, 12, 0)
runner = CliRunner()


def _needs_spark() -> None:
    """Skip without Java; with Java, a missing pyspark is a failure (CI installs the extra)."""
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: the Spark engine needs a JVM")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("Java is installed but pyspark is not: pip install -e '.[dev,spark]'")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session for the module (a JVM start costs seconds)."""
    _needs_spark()
    from leadlink.pipeline.resolution.spark import SparkEngine

    with SparkEngine(Settings()) as engine:
        yield engine


def _clone(engine: Engine, db_url: str, tmp_path: Path) -> str:
    """A second database with the same rows (ids included) as ``engine``'s."""
    engine.dispose()
    if db_url.startswith("sqlite"):
        copy = tmp_path / "spark.db"
        with sqlite3.connect(engine.url.database or "") as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        return f"sqlite:///{copy}"
    return fresh_pg_database(engine.url.database or "")  # CREATE DATABASE ... TEMPLATE it


def _match(db_url: str, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["--db", db_url, "match", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _outcome(db_url: str) -> dict[str, Any]:
    """Everything match decided, keyed by (source, source_pk): no ids, no times."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        links = conn.execute(text(
            "SELECT s.source, s.source_pk, l.person_key, l.rule, l.score, l.confidence, "
            "l.evidence FROM link l JOIN source_record s ON s.id = l.record_id WHERE l.active"
        )).all()  # fmt: skip
        unmatched = conn.execute(text(
            "SELECT s.source, s.source_pk, u.reason, u.candidates FROM unmatched u "
            "JOIN source_record s ON s.id = u.record_id"
        )).all()  # fmt: skip
        review = conn.execute(text(
            "SELECT s.source, s.source_pk, r.person_key, r.status FROM review_item r "
            "JOIN source_record s ON s.id = r.record_id"
        )).all()  # fmt: skip
    engine.dispose()
    return {
        "links": {(s, pk): (key, rule, conf) for s, pk, key, rule, _, conf, _ in links},
        "scores": {(s, pk): float(score) for s, pk, _, _, score, _, _ in links},
        # A model link's evidence holds its waterfall: every comparison's level and weight.
        "evidence": {(s, pk): _json(ev) for s, pk, *_, ev in links},
        "unmatched": {(s, pk): (reason, _json(c)) for s, pk, reason, c in unmatched},
        "review": sorted(tuple(r) for r in review),
    }


def _json(value: Any) -> Any:
    """A JSON column as Python (SQLite hands back text, PostgreSQL the decoded value)."""
    return json.loads(value) if isinstance(value, str) else value


# SQLite only: the store code is the DuckDB engine's on both databases (tested on PostgreSQL
# everywhere else), and a Spark run costs a minute on two cores.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_spark_and_duckdb_engines_write_the_same_links(
    spark: Any, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    generate(data, leads=400, seed=11)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)
    stored = train(engine, now=NOW, min_records=100)
    spark_url = _clone(engine, db_url, tmp_path)

    on_duckdb = _match(db_url)
    on_spark = _match(spark_url, "--engine", "spark")

    assert on_duckdb["engine"] == {"name": "duckdb"}
    assert on_spark["engine"]["name"] == "spark"
    # Spark really scored the open records of the attaching sources, and found pairs.
    assert on_spark["engine"]["batches"] >= 2 and on_spark["engine"]["pairs"] > 0
    for result in (on_duckdb, on_spark):
        assert result["model"]["id"] == stored.id and not result["model"]["trained_now"]
    keys = ("processed", "linked", "new_persons", "unmatched", "review", "by_rule", "by_source")
    assert {k: on_spark[k] for k in keys} == {k: on_duckdb[k] for k in keys}

    a, b = _outcome(db_url), _outcome(spark_url)
    assert b["links"] == a["links"]
    assert b["unmatched"] == a["unmatched"]  # reasons, and the candidates with their scores
    assert b["review"] == a["review"]
    assert max(abs(b["scores"][k] - a["scores"][k]) for k in a["scores"]) < 1e-9
    model_links = [k for k, (_, rule, _) in a["links"].items() if rule == "model"]
    assert {k: b["evidence"][k] for k in model_links} == {k: a["evidence"][k] for k in model_links}
    # The model tier decided something here, so the agreement covers it.
    assert model_links and a["review"]
    assert all(a["evidence"][k]["waterfall"] for k in model_links)


def test_the_model_in_spark_sql_is_the_stored_model(tmp_path: Path) -> None:
    """in_dialect rewrites only the SQL: every trained parameter is kept, level by level."""
    generate(tmp_path, leads=300, seed=4)

    def frame(source: str) -> Any:
        with (tmp_path / f"{source}.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        return prepare(canonical_frame((source, i, r, None) for i, r in enumerate(rows)))

    model = training.train(frame("leads"), frame("drivers")).settings
    spark_model = probabilistic.in_dialect(model, "spark")
    assert probabilistic.in_dialect(model, "duckdb") is model
    conditions = []
    for stored, rewritten in zip(model["comparisons"], spark_model["comparisons"], strict=True):
        for a, b in zip(stored["comparison_levels"], rewritten["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == {
                k: v for k, v in b.items() if k != "sql_condition"}  # fmt: skip
            conditions.append(b["sql_condition"])
    assert any("jaro_winkler(" in c for c in conditions)  # the jar's UDF, not DuckDB's name
    assert not any("jaro_winkler_similarity" in c or "EPOCH" in c for c in conditions)
    broken = {**model, "comparisons": model["comparisons"][:-1] + [
        {**model["comparisons"][-1], "comparison_levels": model["comparisons"][-1][
            "comparison_levels"][:-1]}]}  # fmt: skip
    with pytest.raises(ValueError, match="not the ones this version builds"):
        probabilistic.in_dialect(broken, "spark")


def test_without_pyspark_the_command_says_what_to_install(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what an install without the extra sees
    result = runner.invoke(app, ["--db", db_url, "match", "--engine", "spark"])
    assert result.exit_code == 2 and "pip install 'leadlink[spark]'" in result.output


def test_without_java_the_command_says_so(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_spark()  # (the pyspark check comes first)
    empty = tmp_path / "no-jdk"
    empty.mkdir()
    monkeypatch.setenv("JAVA_HOME", str(empty))  # pyspark would launch $JAVA_HOME/bin/java
    result = runner.invoke(app, ["--db", db_url, "match", "--engine", "spark"])
    assert result.exit_code == 2 and "Java is not installed" in result.output


def test_a_cluster_master_needs_a_shared_checkpoint_folder(db_url: str) -> None:
    _needs_spark()
    result = runner.invoke(app, ["--db", db_url, "match", "--engine", "spark"],
                           env={"LEADLINK_SPARK_MASTER": "spark://nowhere:7077"})  # fmt: skip
    assert result.exit_code == 2 and "LEADLINK_SPARK_CHECKPOINT_DIR" in result.output


def test_a_master_spark_cannot_use_fails_the_command_at_once(tmp_path: Path) -> None:
    """A real process (the module's session would be reused in this one): exit 2, no work."""
    _needs_spark()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "LEADLINK_SPARK_MASTER": "bogus://nowhere", "TMPDIR": str(scratch),
           "LEADLINK_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}  # fmt: skip
    db = f"sqlite:///{tmp_path / 'leadlink.db'}"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("leadlink")), "--db", db, "match", "--engine",
         "spark"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Spark did not start at 'bogus://nowhere'" in done.stderr
    assert not (tmp_path / "leadlink.db").exists()  # nothing was opened, let alone written
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("leadlink-spark-")]
