"""The worker's database sources (`leadlink worker --sources FILE`): the file checked whole at
start, each source read on its own schedule, a bad read failing its job and nothing else, the
password never shown. The partner's database is a real SQLite file (and a real PostgreSQL one
for the password), the store both backends."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from tests.conftest import PG_ADMIN_URL, REQUIRE_PG
from tests.factories import NOW
from tests.pipeline.ops_world import SETTINGS, rows
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import ConfigError
from leadlink.pipeline.operations import db_sources
from leadlink.pipeline.operations.worker import Worker

# The partner's own column names, renamed by the query; the lead fields it lacks are blank.
QUERY = (
    "SELECT lead_id, nombre AS first_name, celular, creado AS created_at,"
    " '' AS external_id, '' AS middle_name, '' AS last_name, '' AS plate, '' AS car_brand,"
    " '' AS car_model, '' AS car_color, '' AS status, '' AS park_name, '' AS city"
    " FROM prospecto"
)
GOOD = [("L1", "JUAN", "987654321", "2026-10-01 09:00:00"),
        ("L2", "ANA", "987654322", "2026-10-02 09:00:00"),
        ("L3", "LUIS", "987654323", "2026-10-03 09:00:00")]  # fmt: skip


def partner_db(tmp_path: Path, leads: list[tuple[str, ...]] = GOOD) -> str:
    """A partner's SQLite database with its own column names (celular, creado)."""
    path = tmp_path / f"partner-{uuid.uuid4().hex[:6]}.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE prospecto (lead_id TEXT, nombre TEXT, celular TEXT, "
                     "creado TEXT)")  # fmt: skip
        conn.executemany("INSERT INTO prospecto VALUES (?, ?, ?, ?)", leads)
    return f"sqlite:///{path}"


def sources_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"sources-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def leads_table(url: str, every: str | None = "1h", query: str = QUERY) -> str:
    schedule = f'every = "{every}"\n' if every else ""
    return (f'[sources.leads]\nurl = "{url}"\nquery = "{query}"\n'
            f'map = {{ phone = "celular" }}\n{schedule}')  # fmt: skip


def test_the_file_gives_each_source_in_ingest_order(tmp_path: Path) -> None:
    url = partner_db(tmp_path)
    body = (f'[sources.trips]\nurl = "{url}"\nquery = "SELECT 1"\n'
            f'[sources.leads]\nurl_env = "PARTNER_URL"\nquery = "{QUERY}"\nevery = "6h"\n'
            f'[sources.drivers]\nurl = "{url}"\nquery = "SELECT 2"\nmap = {{ phone = "tel" }}\n')
    found = db_sources.load(sources_file(tmp_path, body), {"PARTNER_URL": url})
    assert [s.source for s in found] == [s for s in db_sources.ORDER if s in
                                         {"trips", "leads", "drivers"}]  # fmt: skip
    by_name = {s.source: s for s in found}
    assert by_name["leads"].url == url and by_name["leads"].every_s == 6 * 3600
    assert by_name["drivers"].mapping == {"phone": "tel"} and by_name["drivers"].every_s is None
    assert by_name["trips"].kind == "ingest_db:trips"


BAD = [
    ("not = [toml", "not valid TOML"),
    ('[other]\nx = 1\n', "unknown top-level key 'other'"),
    ("", "no [sources.NAME] table"),
    ('[sources.people]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\n',
     "[sources.people]: unknown source"),
    ('[sources]\nleads = 3\n', "[sources.leads]: must be a table"),
    ('[sources.leads]\nquery = "SELECT 1"\n', "exactly one of url or url_env"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nurl_env = "X"\nquery = "SELECT 1"\n',
     "exactly one of url or url_env"),
    ('[sources.leads]\nurl_env = "LEADLINK_TEST_UNSET_VAR"\nquery = "SELECT 1"\n',
     "LEADLINK_TEST_UNSET_VAR (url_env) is not set"),
    ('[sources.leads]\nurl = "not a url"\nquery = "SELECT 1"\n', "[sources.leads]"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\n', "query must be the SELECT"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "  "\n', "query must be the SELECT"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\nevery = "1w"\n',
     "every takes a positive number"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\nevery = 6\n',
     'every must be a string like "6h"'),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\nmap = "phone=tel"\n',
     "map must be a table"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\nmap = { a = "t", b = "t" }\n',
     "mapped twice"),
    ('[sources.leads]\nurl = "sqlite:///x.db"\nquery = "SELECT 1"\nschedule = "6h"\n',
     "unknown key 'schedule'"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BAD, ids=[m for _, m in BAD])
def test_a_mistake_in_the_file_names_the_file_and_the_key(
    tmp_path: Path, body: str, message: str
) -> None:
    path = sources_file(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        db_sources.load(path, {})
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the sources file"):
        db_sources.load(tmp_path / "nope.toml", {})


def test_the_password_is_kept_out_of_what_a_source_shows(tmp_path: Path) -> None:
    url = "postgresql+psycopg://reader:Zq7pSecret@db.example/crm"
    (found,) = db_sources.load(sources_file(tmp_path, leads_table(url)), {})
    assert "Zq7pSecret" not in repr(found) and "Zq7pSecret" not in found.where
    assert "db.example" in found.where


def _worker(engine: Engine, tmp_path: Path, body: str, at: list[dt.datetime]) -> Worker:
    found = db_sources.load(sources_file(tmp_path, body), {})
    return Worker(engine, SETTINGS, clock=lambda: at[0], db_sources=found)


def _db_runs(engine: Engine) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in rows(engine, "SELECT kind, status FROM job_run WHERE kind "
                                               "LIKE 'ingest_db:%' ORDER BY id")]  # fmt: skip


def test_a_cycle_reads_a_due_source_before_match_and_waits_for_its_schedule(
    engine: Engine, tmp_path: Path
) -> None:
    at = [NOW]
    worker = _worker(engine, tmp_path, leads_table(partner_db(tmp_path), every="1h"), at)
    first = worker.run_cycle()
    assert [o.kind for o in first][:2] == ["ingest_db:leads", "match"]
    read = first[0]
    assert read.status == "ok", read.error
    assert {k: read.counts[k] for k in ("rows", "inserted", "unchanged")} == {
        "rows": 3, "inserted": 3, "unchanged": 0}
    assert read.counts["source"] == "leads"
    assert rows(engine, "SELECT count(*) FROM source_record WHERE source = 'leads'")[0][0] == 3
    # The phone came through the map: the partner's `celular` is our `phone`.
    (data,) = rows(engine, "SELECT data FROM source_record WHERE source_pk = 'L1'")[0]
    assert (json.loads(data) if isinstance(data, str) else data)["phone"] == "987654321"
    assert first[1].status == "ok", first[1].error

    at[0] = NOW + dt.timedelta(minutes=30)
    second = worker.run_cycle()
    assert second[0].kind == "ingest_db:leads" and second[0].status == "not_due"
    assert second[0].run_id is None
    assert _db_runs(engine) == [("ingest_db:leads", "ok")]  # not due: nothing recorded

    at[0] = NOW + dt.timedelta(minutes=61)
    third = worker.run_cycle()
    assert third[0].status == "ok" and third[0].counts["unchanged"] == 3
    assert _db_runs(engine) == [("ingest_db:leads", "ok")] * 2


def test_a_bad_row_fails_its_job_leaves_the_store_as_it_was_and_is_retried(
    engine: Engine, tmp_path: Path
) -> None:
    bad = [GOOD[0], ("L2", "ANA", "987654322", "ayer por la tarde"), GOOD[2]]
    at = [NOW]
    worker = _worker(engine, tmp_path, leads_table(partner_db(tmp_path, bad), every="1h"), at)
    (read,) = [o for o in worker.run_cycle() if o.kind == "ingest_db:leads"]
    assert read.status == "failed"
    assert read.error is not None and "query row 2, column 'created_at'" in read.error
    assert rows(engine, "SELECT count(*) FROM source_record")[0][0] == 0
    at[0] = NOW + dt.timedelta(minutes=5)  # never succeeded: due again at once
    (again,) = [o for o in worker.run_cycle() if o.kind == "ingest_db:leads"]
    assert again.status == "failed"
    assert _db_runs(engine) == [("ingest_db:leads", "failed")] * 2


def test_every_left_out_reads_the_source_each_cycle(engine: Engine, tmp_path: Path) -> None:
    at = [NOW]
    worker = _worker(engine, tmp_path, leads_table(partner_db(tmp_path), every=None), at)
    (job,) = [j for j in worker.jobs() if j.kind == "ingest_db:leads"]
    assert worker.run_job(job).status == "ok"
    at[0] = NOW + dt.timedelta(seconds=1)
    assert job.due is not None and job.due(worker, at[0])


runner = CliRunner()


def test_the_cli_refuses_a_bad_file_before_any_job(db_url: str, tmp_path: Path) -> None:
    path = sources_file(tmp_path, '[sources.leads]\nquery = "SELECT 1"\n')
    result = runner.invoke(app, ["--db", db_url, "worker", "--sources", str(path), "--once"])
    assert result.exit_code == 2
    assert str(path) in result.output and "url or url_env" in result.output
    assert rows(create_engine(db_url), "SELECT count(*) FROM job_run")[0][0] == 0


def test_the_cli_runs_the_sources_of_the_file(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = leads_table(partner_db(tmp_path)).replace("url = ", "url_env = \"P_URL\"\n#", 1)
    monkeypatch.setenv("P_URL", partner_db(tmp_path))
    monkeypatch.setenv("LEADLINK_SOURCES_FILE", str(sources_file(tmp_path, body)))
    result = runner.invoke(app, ["--db", db_url, "worker", "--once", "--json"])
    assert result.exit_code == 0, result.output
    jobs = {j["kind"]: j for j in json.loads(result.output)["jobs"]}
    assert jobs["ingest_db:leads"]["status"] == "ok"
    assert jobs["ingest_db:leads"]["counts"]["inserted"] == 3


def test_a_failing_source_never_shows_its_password(engine: Engine, tmp_path: Path) -> None:
    if not PG_ADMIN_URL:
        if REQUIRE_PG:
            pytest.fail("LEADLINK_REQUIRE_PG is set but LEADLINK_TEST_PG is not")
        pytest.skip("no PostgreSQL server: run the suite through scripts/test.sh (make test)")
    secret = "Zq7pSecretWord"
    url = PG_ADMIN_URL.replace("postgres@", f"postgres:{secret}@", 1)  # the server trusts any
    at = [NOW]
    worker = _worker(engine, tmp_path, leads_table(url, query="SELECT * FROM no_such_view"), at)
    (job,) = [j for j in worker.jobs() if j.kind == "ingest_db:leads"]
    outcome = worker.run_job(job)
    assert outcome.status == "failed" and outcome.error and "no_such_view" in outcome.error
    stored = rows(engine, "SELECT error, counts FROM job_run WHERE kind = 'ingest_db:leads'")
    assert stored and all(secret not in str(value) for row in stored for value in row)
    assert secret not in json.dumps(outcome.as_dict())
