"""Real databases for every test: a migrated SQLite file and a PostgreSQL database per test.

PostgreSQL comes from ``scripts/test.sh`` (``LEADLINK_TEST_PG``). Without it the PostgreSQL
half is skipped with a reason, unless ``LEADLINK_REQUIRE_PG`` is set, which makes it an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from leadlink.store.db import make_engine, migrate

PG_ADMIN_URL = os.environ.get("LEADLINK_TEST_PG")
REQUIRE_PG = os.environ.get("LEADLINK_REQUIRE_PG") == "1"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_ADMIN_URL:
        if REQUIRE_PG:
            pytest.fail("LEADLINK_REQUIRE_PG is set but LEADLINK_TEST_PG is not")
        pytest.skip("no PostgreSQL server: run the suite through scripts/test.sh (make test)")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"leadlink_tpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    migrate(engine)
    engine.dispose()
    yield name
    admin.dispose()


def _pg_url(database: str) -> str:
    assert PG_ADMIN_URL is not None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def fresh_pg_database(template: str) -> str:
    """A new database cloned from the migrated template; returns its URL."""
    assert PG_ADMIN_URL is not None
    # Unique without a counter: this module is imported twice (as pytest's conftest and as
    # tests.conftest by shared fixtures), and two counters gave two tests the same database.
    name = f"leadlink_t{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return _pg_url(name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a freshly migrated, empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "leadlink.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    return fresh_pg_database(request.getfixturevalue("pg_template"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
