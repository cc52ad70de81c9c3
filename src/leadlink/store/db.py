"""Engine, sessions and migrations; how a database URL is opened and what its failures say.

What a URL does is written down in docs/contract-notes.md, "Database URLs": SQLite's own query
parameters (``?mode=ro``, ``immutable=1``...) reach SQLite; a store whose folder cannot be
written is still read; only ``init`` (and ``demo``, which inits) creates a SQLite file; a write
to a read-only database and a failed connection end as a DatabaseError that names the database
with its password masked.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from leadlink.errors import ConfigError, LeadlinkError

MIGRATIONS = Path(__file__).parent / "migrations"

# The arguments of Python's sqlite3.connect() that SQLAlchemy's pysqlite dialect reads from the
# query string; every other query parameter is SQLite's own and reaches SQLite only inside a
# ``file:`` URI opened with uri=true (without it SQLAlchemy drops them with a warning).
PYSQLITE_ARGS = frozenset(
    {"uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements"}
)


class DatabaseError(LeadlinkError):
    """The database cannot be reached or is not at the expected schema."""

    exit_code = 1


class NoDatabaseError(DatabaseError):
    """A SQLite path names no store: a misspelt path must not become a new, empty database."""

    exit_code = 2


class ReadOnlyDatabaseError(DatabaseError):
    """A write reached a database that refuses writes; the transaction wrote nothing."""

    exit_code = 2


def make_engine(url: str, *, search_path: str | None = None) -> Engine:
    """An engine for ``url``. It may create a SQLite file on first connect: only ``migrate``
    should be the first to connect to a new path (``ensure_current`` refuses a missing file).
    ``search_path`` (PostgreSQL): the one schema its connections use (``store/snapshot.py``)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"cannot use database URL {redact(url)}: {redact(str(exc))}") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(sqlite_open_url(parsed), connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True,
                                   connect_args={"options": _pg_options(parsed, search_path)})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(
            f"cannot use database URL {describe(parsed)}: {redact(str(exc), parsed)}"
        ) from exc
    event.listen(engine, "handle_error", _translate_error)
    return engine


def _pg_options(url: URL, search_path: str | None) -> str:
    """The server options of every PostgreSQL connection: the URL's own ``options`` first,
    then JIT off (the console's queries are many small correlated lookups whose cost estimates
    pass ``jit_above_cost``: compiling them took 1.5 s of the 2.5 s the backlog and unlinked
    activity took at 100 k leads, for nothing), then the scratch schema's ``search_path``."""
    own = url.query.get("options")
    parts = ([own] if isinstance(own, str) else list(own or ())) + ["-cjit=off"]
    if search_path:
        parts.append(f"-csearch_path={search_path}")
    return " ".join(parts)


def sqlite_open_url(url: URL) -> URL:
    """The URL a SQLite store is opened with.

    SQLite parameters in the query go into a ``file:`` URI with uri=true, the form SQLAlchemy's
    pysqlite dialect passes on (a plain path with uri=true would make ``?mode=ro`` part of the
    file name). A WAL store in a folder that cannot be written is opened immutable=1: every
    WAL reader must create the ``-shm`` file beside it, so nothing else lets SQLite read it; no
    one can be writing it there either, since a writer needs that folder for its ``-wal`` file.
    """
    query = {key: str(value) for key, value in url.query.items()}
    database = url.database or ""
    in_uri_form = database.startswith("file:")
    path = _strip_file_scheme(database) if in_uri_form else database
    sqlite_params = {k: v for k, v in query.items() if k not in PYSQLITE_ARGS}
    if path in ("", ":memory:") or sqlite_params.get("mode") == "memory":
        return url
    path = os.path.abspath(path)
    if "immutable" not in sqlite_params and _wal_store_in_read_only_folder(Path(path)):
        query["immutable"] = "1"
    elif not (in_uri_form or sqlite_params or "uri" in query):
        return url
    query["uri"] = "true"
    # make_url decoded the path; a SQLite URI needs ?, # and % (and spaces) percent-encoded.
    return url.set(database="file:" + quote(path, safe="/"), query=query)


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite store opened by ``make_engine`` (None: not SQLite, or in memory)."""
    if url.get_backend_name() != "sqlite" or url.query.get("mode") == "memory":
        return None
    database = url.database or ""
    if database.startswith("file:"):  # sqlite_open_url percent-encoded it
        database = unquote(_strip_file_scheme(database))
    if database in ("", ":memory:"):
        return None
    return Path(os.path.abspath(database))


def _strip_file_scheme(database: str) -> str:
    """``file:rel``, ``file:/abs``, ``file:///abs``, ``file://localhost/abs`` -> the path."""
    rest = database[len("file:") :]
    if rest.startswith("//"):
        authority_end = rest.find("/", 2)
        rest = rest[authority_end:] if authority_end >= 0 else ""
    return rest


def _wal_store_in_read_only_folder(path: Path) -> bool:
    if not path.is_file() or os.access(path.parent, os.W_OK):
        return False
    if Path(f"{path}-wal").exists() or Path(f"{path}-shm").exists():
        return False  # someone has it open (or left a WAL to replay): SQLite must see it
    with path.open("rb") as fh:
        header = fh.read(20)
    # Bytes 18 and 19 of the header, the file format write and read versions: 2 is WAL.
    return header[18:20] == b"\x02\x02"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one writer works (the suite's concurrent readers rely on it).
    # The file keeps its journal mode, so `init` sets it once for good; a store that cannot be
    # written (mode=ro, immutable, a read-only folder) keeps the mode it has and is still read.
    (journal_mode,) = cur.execute("PRAGMA journal_mode").fetchone()
    if journal_mode.lower() not in ("wal", "memory"):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if not _cannot_write(exc):
                raise
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _cannot_write(exc: BaseException) -> bool:
    """SQLite could not write the store or create a file beside it (its -wal, a journal)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN"))


def _refused_write(exc: BaseException) -> bool:
    if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
        return True
    # PostgreSQL's read_only_sql_transaction: a standby, or default_transaction_read_only.
    return getattr(exc, "sqlstate", None) == "25006"


def _translate_error(ctx: ExceptionContext) -> None:
    """Driver errors every caller would have to explain the same way become DatabaseErrors here,
    once, for the CLI, the server and the worker alike (the edges map them to exit 2 / 503)."""
    if ctx.is_pre_ping:  # the pool reconnects on its own
        return
    original = ctx.original_exception
    url = ctx.engine.url if ctx.engine is not None else None
    where = describe(url) if url is not None else "the database"
    if _refused_write(original):
        raise ReadOnlyDatabaseError(
            "the database {where} is read-only (opened with mode=ro or immutable=1, or its "
            "file or folder cannot be written): nothing was written",
            code="database_read_only", where=where,
        )
    if ctx.connection is None and isinstance(ctx.sqlalchemy_exception, DBAPIError):
        raise DatabaseError("cannot open the database {where}: {why}", code="database_unreachable",
                            where=where, why=redact(str(original), url))


def describe(url: URL) -> str:
    """How a message names a database: a SQLite store by its file, any other by its URL with
    the password masked."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    if url.get_backend_name() == "sqlite":
        return "in memory"
    return url.render_as_string(hide_password=True)


# user:password@ in any URL, and password=... in a libpq connection string (psycopg quotes
# the connection string in some messages), quoted or not.
_URL_PASSWORD = re.compile(r"(?P<head>[\w+.-]+://[^:/@\s]*:)[^@\s]*@")
_CONNINFO_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s'\"]+)")
# Shorter passwords are not replaced wherever they occur: "pw" would mangle every message.
_MIN_SECRET_TO_REPLACE = 4


def redact(text: str, url: URL | None = None) -> str:
    """``text`` on one line with every password in it masked as ***."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    text = _CONNINFO_PASSWORD.sub(r"\g<head>***", text)
    secret = url.password if url is not None else None
    if secret and len(str(secret)) >= _MIN_SECRET_TO_REPLACE:
        text = text.replace(str(secret), "***")
    # One line: a message must stay greppable (libpq adds an indented "Is the server
    # running..." line; SQLAlchemy adds its background link after a blank line).
    return " ".join(text.split())


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to head (the one way a new SQLite file comes to be)."""
    path = sqlite_file(engine.url)
    if path is not None and not path.parent.is_dir():
        raise NoDatabaseError(f"cannot create the database {path}: no folder {path.parent}")
    try:
        command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot migrate the database {describe(engine.url)}: "
            f"{redact(str(exc.orig), engine.url)}"
        ) from exc


def heads(engine: Engine) -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database that is missing or not migrated to head."""
    path = sqlite_file(engine.url)
    # Checked before connecting: connecting would create the file.
    if path is not None and not path.exists():
        raise NoDatabaseError(f"no database at {path}: run `leadlink init` first")
    try:
        rev = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open the database {describe(engine.url)}: {redact(str(exc.orig), engine.url)}"
        ) from exc
    expected = heads(engine)
    if rev not in expected:
        raise DatabaseError(
            f"database schema is at {rev or 'nothing'}, expected {', '.join(expected)}: "
            "run `leadlink init`"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def conflict_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@contextmanager
def rehearsal(engine: Engine) -> Iterator[Session]:
    """A unit of work that is always rolled back: a dry run does the real writes, reads what
    they did, and leaves the database as it was (same SQL, same checks, nothing kept)."""
    with session_factory(engine)() as session:
        session.begin()
        try:
            yield session
        finally:
            session.rollback()


# Rows a bulk write must change before the planner's statistics are refreshed at once.
BULK_ROWS = 10_000
# The tables an ingest and a match fill (the ones the console's queries plan over).
INGEST_TABLES = ("source_record",)
MATCH_TABLES = ("source_record", "link", "person", "origin", "unmatched", "review_item",
                "record_key", "record_term")  # fmt: skip


def refresh_statistics(engine: Engine, tables: Sequence[str], changed: int) -> None:
    """PostgreSQL: ``ANALYZE`` the tables a bulk write of ``changed`` rows filled, when it was
    a bulk one. Autovacuum would get there, but not before the first pages are read: on a
    store just loaded (a 100 k demo) the planner took 34,566 KPI-red leads for 450 and the
    backlog page took 9 s instead of 2. SQLite plans without such statistics."""
    if engine.dialect.name != "postgresql" or changed < BULK_ROWS:
        return
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"ANALYZE {quote(table)}"))  # our table names, never a value
