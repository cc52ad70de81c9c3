"""How a database URL is opened (store/db.py): SQLite URI parameters, read-only stores and
folders, missing files, and passwords kept out of every message. Real SQLite files throughout."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text
from tests.store.read_only_fs import frozen_folder

from leadlink.errors import ConfigError
from leadlink.store.db import (
    DatabaseError,
    NoDatabaseError,
    ReadOnlyDatabaseError,
    ensure_current,
    make_engine,
    migrate,
    redact,
    transaction,
)

INSERT_TOKEN = text(
    "INSERT INTO api_token (name, token_hash, role, created_at) "
    "VALUES ('probe', 'h', 'viewer', '2026-10-01 00:00:00')"
)


def token_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM api_token")).scalar_one())


@pytest.fixture
def store(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated store file (WAL mode, as `leadlink init` leaves it)."""
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    return path


@contextmanager
def opened(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def writable(store: Path) -> Iterator[Engine]:
    with opened(f"sqlite:///{store}") as engine:
        yield engine


# 5. SQLite URI parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix",
    ["?mode=ro", "?mode=ro&uri=true", "?mode=ro&timeout=5", "?immutable=1"],
)
def test_sqlite_parameters_reach_sqlite(store: Path, writable: Engine, suffix: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SQLAlchemy warns when it drops a parameter
        with opened(f"sqlite:///{store}{suffix}") as engine:
            ensure_current(engine)
            assert token_count(engine) == 0
            with pytest.raises(ReadOnlyDatabaseError) as caught, transaction(engine) as session:
                session.execute(INSERT_TOKEN)
    assert caught.value.exit_code == 2
    assert str(store) in str(caught.value)
    assert token_count(writable) == 0
    # The parameters did not become part of a file name beside the store.
    assert sorted(p.name for p in store.parent.iterdir() if "?" in p.name) == []


def test_the_documented_file_uri_form_opens_the_same_file(store: Path) -> None:
    with opened(f"sqlite:///file:{store}?mode=ro&uri=true") as engine:
        ensure_current(engine)
        with pytest.raises(ReadOnlyDatabaseError), transaction(engine) as session:
            session.execute(INSERT_TOKEN)


def test_a_path_with_spaces_and_uri_characters_opens_read_only(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "my store #1 100%.db"
    shutil.copyfile(sqlite_template, path)
    with opened(f"sqlite:///{quote(str(path))}?mode=ro") as engine:
        ensure_current(engine)
        with pytest.raises(ReadOnlyDatabaseError), transaction(engine) as session:
            session.execute(INSERT_TOKEN)
    # The store and, since a WAL reader made them, its -wal and -shm: no file named otherwise.
    assert {p.name.removesuffix("-wal").removesuffix("-shm") for p in tmp_path.iterdir()} == {
        path.name
    }


def test_in_memory_databases_still_work() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        with opened(url) as engine:
            migrate(engine)
            ensure_current(engine)
            assert token_count(engine) == 0


# 2. Writing to a read-only database ---------------------------------------------------------


def read_only_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return db_url + "?mode=ro"
    # A session that refuses writes, as on a hot standby.
    return db_url + "?options=" + quote("-c default_transaction_read_only=on")


def test_a_write_to_a_read_only_database_writes_nothing(db_url: str, engine: Engine) -> None:
    with opened(read_only_url(db_url)) as read_only:
        ensure_current(read_only)
        with pytest.raises(ReadOnlyDatabaseError) as caught, transaction(read_only) as session:
            session.execute(INSERT_TOKEN)
    assert "read-only" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert token_count(engine) == 0


# 3. Read-only folders -----------------------------------------------------------------------


@pytest.fixture(params=["wal", "delete"])
def frozen_store(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Path]:
    """A store in a folder that cannot be written: in WAL mode (as init leaves it, no -shm
    beside it) or in rollback-journal mode (WAL cannot be set there)."""
    source = tmp_path / "source.db"
    shutil.copyfile(sqlite_template, source)
    if request.param == "delete":
        conn = sqlite3.connect(source)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
    with frozen_folder(tmp_path / "frozen", {"store.db": source}) as folder:
        yield folder / "store.db"


def test_a_store_in_a_read_only_folder_is_read(frozen_store: Path) -> None:
    with opened(f"sqlite:///{frozen_store}") as engine:
        ensure_current(engine)
        assert token_count(engine) == 0
        with pytest.raises(ReadOnlyDatabaseError), transaction(engine) as session:
            session.execute(INSERT_TOKEN)
    assert sorted(p.name for p in frozen_store.parent.iterdir()) == ["store.db"]


def test_writable_stores_are_still_wal(tmp_path: Path, sqlite_template: Path) -> None:
    fresh = tmp_path / "fresh.db"
    rollback = tmp_path / "rollback.db"
    shutil.copyfile(sqlite_template, rollback)
    conn = sqlite3.connect(rollback)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    for path in (fresh, rollback):
        with opened(f"sqlite:///{path}") as engine:
            migrate(engine)
            with engine.connect() as c:
                assert c.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


# 4. Missing SQLite files --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "?mode=ro"])
def test_a_missing_file_is_refused_and_not_created(tmp_path: Path, suffix: str) -> None:
    missing = tmp_path / "misspelt.db"
    with opened(f"sqlite:///{missing}{suffix}") as engine, pytest.raises(NoDatabaseError) as caught:
        ensure_current(engine)
    assert str(caught.value) == f"no database at {missing}: run `leadlink init` first"
    assert caught.value.exit_code == 2
    assert not missing.exists()


def test_migrate_creates_the_file_and_then_it_is_current(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with opened(f"sqlite:///{path}") as engine:
        migrate(engine)
        ensure_current(engine)
    assert path.is_file()


def test_migrate_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "x.db"
    with opened(f"sqlite:///{path}") as engine, pytest.raises(NoDatabaseError, match="no folder"):
        migrate(engine)


# 1. Passwords -------------------------------------------------------------------------------

SECRET = "s3cret-Pw"  # noqa: S105


def test_an_unreachable_server_is_named_without_its_password() -> None:
    # Port 1 on the loopback: refused at once, no server needed.
    url = f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/leadlink"
    with opened(url) as engine, pytest.raises(DatabaseError) as caught:
        ensure_current(engine)
    message = str(caught.value)
    assert SECRET not in message
    assert "postgresql+psycopg://bob:***@127.0.0.1:1/leadlink" in message
    assert "\n" not in message


def test_a_bad_connection_option_is_a_database_error_without_the_password() -> None:
    url = f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/leadlink?foo=bar"
    with opened(url) as engine, pytest.raises(DatabaseError) as caught:
        migrate(engine)
    assert 'invalid connection option "foo"' in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://bob:{SECRET}@localhost:notaport/db",
        f"postgresql+psycopg2://bob:{SECRET}@localhost/db",
    ],
)
def test_an_unusable_url_is_named_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_engine(url)
    assert SECRET not in str(caught.value)
    assert "bob:***@" in str(caught.value)


@pytest.mark.parametrize(
    "message",
    [
        f"connection to postgresql://bob:{SECRET}@db/x failed",
        f"invalid dsn: host=db password={SECRET} dbname=x",
        f"invalid dsn: host=db password = '{SECRET} \\' x' dbname=x",
        f"PASSWORD={SECRET}",
    ],
)
def test_redact_masks_passwords_in_driver_messages(message: str) -> None:
    assert SECRET not in redact(message)
    assert "***" in redact(message)


def test_redact_masks_the_urls_own_password_anywhere_and_keeps_one_line() -> None:
    from sqlalchemy import make_url

    url = make_url(f"postgresql+psycopg://bob:{SECRET}@db/x")
    assert redact(f"auth for {SECRET!r} failed\n\tIs the server running?", url) == (
        "auth for '***' failed Is the server running?"
    )


def test_postgresql_connections_run_without_jit_and_keep_the_urls_options(db_url: str) -> None:
    """JIT compiled the console's correlated queries for longer than they ran (docs/console.md);
    options the URL carries are kept beside it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("JIT is PostgreSQL's")
    sep = "&" if "?" in db_url else "?"
    engine = make_engine(f"{db_url}{sep}options={quote('-cstatement_timeout=12345')}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "12345ms"
    finally:
        engine.dispose()
