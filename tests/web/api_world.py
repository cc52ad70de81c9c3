"""One world for the read API tests, built for real once per backend and copied per test.

At NOW (2026-11-01 12:00), after real ingest, `match`, claims, a recovery run and an alerts
evaluation:

- the hand-checked claims fixture (tests/fixtures/claims): drivers DA1..DG1, leads LA1..LF1
  (LF1 nobody's), trips, payments; claims and payments as its README explains;
- the review world's people (tests/review_factories.py) under their own ids: leads RL1 (Luis)
  and RL2 (Rosa) in the review band, RL3 (Juan) MULTIPLE_CANDIDATES between drivers RD3 and
  RD4; drivers RD1..RD4;
- LX1 (nobody, 2026-10-20: high risk), LX2 (nobody, 2026-10-31: low risk, inside the grace
  day), LX3 (no phone, no name: MISSING_IDENTIFIERS), all unmatched; LR1 unmatched by the
  match, then linked by the recovery run once its driver RD5 arrived; LP1 ingested last:
  pending.

A test module imports the fixtures ``db_url`` (replaces conftest's empty database), ``app``
(the real app, its clock pinned to NOW) and ``api`` (GET as the viewer, checking the status):
import ``world_db_url``, ``pinned_app_fixture`` and ``api_fixture`` (``# noqa: F401``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.conftest import BACKENDS, fresh_pg_database
from tests.factories import NOW, driver, lead, load
from tests.pipeline.claims_world import SETTINGS, load_fixture
from tests.review_factories import JUAN, LUIS, ROSA

from leadlink.clock import utcnow
from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.money.recovery import recover, seed
from leadlink.pipeline.operations.alerts import evaluate, stale_kinds
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store.db import make_engine
from leadlink.store.models import Base
from leadlink.web import create_app

REVIEW_LEADS = {"RL1": LUIS, "RL2": ROSA, "RL3": JUAN}
UNMATCHED_LEADS = ("LX1", "LX2", "LX3", "LF1")


def build(engine: Engine, tmp_path: Path) -> None:
    load_fixture(engine)
    load(engine, tmp_path, "drivers", [
        driver("RD1", **LUIS), driver("RD2", **ROSA), driver("RD3", **JUAN), driver("RD4", **JUAN),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("RL1", **LUIS, created_at="2026-10-01 09:00:00"),
        lead("RL2", **ROSA, created_at="2026-09-29"),
        lead("RL3", **JUAN, created_at="2026-10-02"),
        lead("LX1", first_name="Nadie", last_name="Nunca Jamas", phone="955999888",
             created_at="2026-10-20"),
        lead("LX2", first_name="Otro", last_name="Nadie Mas", phone="955999777",
             created_at="2026-10-31 09:00:00"),
        lead("LX3", created_at="2026-10-25"),
        lead("LR1", first_name="Marco", last_name="Diaz Soto", phone="955111222",
             created_at="2026-10-15"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    # LR1's driver arrives after the match: the recovery run links LR1.
    load(engine, tmp_path, "drivers", [
        driver("RD5", first_name="Marco", last_name="Diaz Soto", phone="955111222"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    compute_claims(engine, SETTINGS, now=NOW)
    seed(engine, SETTINGS, now=NOW)
    recover(engine, SETTINGS, now=NOW)
    # The world watches a folder but loads its files by hand: ingest never ran as a job.
    evaluate(engine, SETTINGS, now=NOW, job_kinds=stale_kinds(SETTINGS, watching=True))
    load(engine, tmp_path, "leads", [lead("LP1", first_name="Nueva", created_at="2026-10-30")])


_built: dict[str, str] = {}


@pytest.fixture(name="db_url", params=BACKENDS)
def world_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the built world (a file copy on SQLite, a template clone on PostgreSQL)."""
    backend = request.param
    if backend not in _built:
        _built[backend] = _build_template(request, backend)
    if backend == "sqlite":
        target = tmp_path / "leadlink.db"
        shutil.copyfile(_built[backend], target)
        return f"sqlite:///{target}"
    return fresh_pg_database(_built[backend])


def _build_template(request: pytest.FixtureRequest, backend: str) -> str:
    work = request.getfixturevalue("tmp_path_factory").mktemp("api_world")
    if backend == "sqlite":
        path = work / "world.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_template"))
    engine = make_engine(url)
    build(engine, work)
    if backend == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return str(path) if backend == "sqlite" else url.rsplit("/", 1)[1]


def pinned_app(settings: Settings, engine: Engine) -> FastAPI:
    """The real app whose clock reads NOW (the world's day), so ages and risks are fixed."""
    app = create_app(settings, engine)
    app.dependency_overrides[utcnow] = lambda: NOW
    return app


@pytest.fixture(name="app")
def pinned_app_fixture(web_settings: Settings, engine: Engine) -> FastAPI:
    return pinned_app(web_settings, engine)


Get = Callable[..., Any]


@pytest.fixture(name="api")
def api_fixture(client: TestClient, viewer: dict[str, str]) -> Get:
    """api(path, params=None, status=200) -> the JSON body, asserting the status."""

    def get(path: str, params: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = client.get(path, params=params, headers=viewer)
        assert response.status_code == status, (path, params, response.status_code, response.text)
        return response.json()

    return get


def error_fields(body: dict[str, Any]) -> set[str]:
    """The parameter names a 422's ``detail[].loc`` points at."""
    return {part for e in body["detail"] for part in e["loc"][1:] if isinstance(part, str)}


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table of the schema (to prove a request changed none)."""
    return {
        t.name: int(rows(engine, f"SELECT count(*) FROM {t.name}")[0][0])  # noqa: S608 - schema names
        for t in Base.metadata.sorted_tables
    }


def all_items(get: Callable[..., Any], path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list route, page after page (so a test never trusts one page)."""
    out: list[dict[str, Any]] = []
    while True:
        body = get(path, params={**params, "limit": 500, "offset": len(out)})
        out += body["items"]
        if len(out) >= body["total"] or not body["items"]:
            return out
