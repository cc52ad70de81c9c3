"""A small registry with two persons who are really one, for the merge tests.

Ana Torres Vega registered twice as a driver, under two different documents (her DNI and,
later, a mistyped one), so `match` founded two persons: P1 at T0 (older) and P2 an hour later.
Each got a lead by phone, and P2 a scouting row by licence. A third driver row carrying both
numbers (document of P1, licence of P2) is the evidence that they are one.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.conftest import BACKENDS, fresh_pg_database
from tests.factories import NOW, driver, lead, load, scouting

from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.settings import Settings
from leadlink.store.db import make_engine

# The probabilistic tier has nothing to settle here (every link is a rule's) and trains slowly.
SETTINGS = Settings(db="sqlite://", probabilistic=False)
T0 = NOW
T1 = NOW + dt.timedelta(hours=1)
LATER = NOW + dt.timedelta(days=1)
P1 = person_key_for("drivers", "D1")
P2 = person_key_for("drivers", "D2")
P3 = person_key_for("drivers", "D9")
NAME = {"first_name": "Ana", "last_name": "Torres Vega"}
# Tables a merge writes (or must leave alone), dumped whole to prove a rerun changes nothing.
TABLES = ("person", "link", "origin", "origin_history", "unmatched", "review_item", "claim",
          "payment", "quarantine", "audit_log", "job_run")  # fmt: skip


@dataclass
class World:
    engine: Engine
    tmp_path: Path
    url: str = ""

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def exec(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def linked(self) -> dict[str, str]:
        """source/pk -> person_key of the active link."""
        rows = self.rows(
            "SELECT sr.source, sr.source_pk, l.person_key FROM link l "
            "JOIN source_record sr ON sr.id = l.record_id WHERE l.active"
        )
        return {f"{r[0]}/{r[1]}": r[2] for r in rows}

    def dump(self) -> dict[str, list[Any]]:
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}  # noqa: S608

    def record_id(self, source: str, source_pk: str) -> int:
        rows = self.rows(
            "SELECT id FROM source_record WHERE source = :s AND source_pk = :pk",
            s=source,
            pk=source_pk,
        )
        return int(rows[0][0])


def build(engine: Engine, tmp_path: Path) -> World:
    load(engine, tmp_path, "drivers", [
        driver("D1", **NAME, phone="987000111", document="11111111"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=T0)
    load(engine, tmp_path, "drivers", [
        driver("D2", **NAME, phone="987000222", document="22222222"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", **NAME, phone="987000111"),
        lead("L2", **NAME, phone="+51 987 000 222"),
        lead("L3", first_name="Nadie", last_name="Nunca Jamas", phone="955999888"),
    ])  # fmt: skip
    load(engine, tmp_path, "scouting", [
        scouting(record_id="S1", driver_name="TORRES VEGA ANA", driver_license="Q22222222"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=T1)
    return World(engine, tmp_path)


def add_evidence(world: World) -> None:
    """The driver row that carries both numbers: its document is P1's, its licence P2's."""
    load(world.engine, world.tmp_path, "drivers", [
        driver("D3", **NAME, document="11111111", license="Q22222222"),
    ])  # fmt: skip


# The world is built once per backend and copied for each test (a file copy on SQLite, a
# template database on PostgreSQL): two `match` runs per test would cost most of the time.
_built: dict[str, str] = {}


@pytest.fixture(name="world", params=BACKENDS)
def world_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    backend = request.param
    if backend not in _built:
        _built[backend] = _build_template(request, backend)
    if backend == "sqlite":
        target = tmp_path / "leadlink.db"
        shutil.copyfile(_built[backend], target)
        url = f"sqlite:///{target}"
    else:
        url = fresh_pg_database(_built[backend])
    engine = make_engine(url)
    yield World(engine, tmp_path, url)
    engine.dispose()


def _build_template(request: pytest.FixtureRequest, backend: str) -> str:
    work = request.getfixturevalue("tmp_path_factory").mktemp("merge_world")
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
