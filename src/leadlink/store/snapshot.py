"""A scratch copy of the store, for work that must not touch it (`check idempotent` reruns
`match` on the copy, never on the live store).

- **SQLite**: SQLite's online backup API copies the file page by page into a private temporary
  folder (consistent even while another process writes); the copy is deleted afterwards.
- **PostgreSQL**: a scratch schema in the same database. The migrations build it (its own
  tables, indexes and sequences, under ``search_path`` = the scratch schema), every table's
  rows are copied with one ``INSERT … SELECT`` from the live schema, and each sequence is set
  past the copied ids. ``DROP SCHEMA … CASCADE`` removes it, on failure too. Job locks are not
  copied: the copy's ``match`` must not wait for (or take over) a live job's lock.

Both copy personal data: the SQLite copy lives in a 0700 folder and the schema in the same
database, with the same access, as the original; neither outlives the ``with`` block.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from leadlink.store.db import make_engine, migrate
from leadlink.store.models import Base, CandidatePair, JobLock

SKIPPED = frozenset({JobLock.__tablename__})
# Written by the copy's own triggers while its ``unmatched`` rows are copied (migration 0009).
TRIGGERED = frozenset({CandidatePair.__tablename__})


@contextmanager
def scratch_copy(engine: Engine) -> Iterator[Engine]:
    """An engine on a throwaway copy of ``engine``'s store, removed when the block ends."""
    if engine.dialect.name == "sqlite":
        with _sqlite_copy(engine) as copy:
            yield copy
    else:
        with _schema_copy(engine) as copy:
            yield copy


@contextmanager
def _sqlite_copy(engine: Engine) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="leadlink-check-") as folder:
        path = Path(folder) / "copy.db"
        target = sqlite3.connect(path)
        source = engine.raw_connection()
        try:
            live = source.driver_connection
            assert isinstance(live, sqlite3.Connection)
            live.backup(target)
        finally:
            source.close()
            target.close()
        copy = make_engine(f"sqlite:///{path}")
        try:
            with copy.begin() as conn:
                for name in SKIPPED:
                    conn.execute(text(f"DELETE FROM {_quoted(copy, name)}"))  # noqa: S608
            yield copy
        finally:
            copy.dispose()


@contextmanager
def _schema_copy(engine: Engine) -> Iterator[Engine]:
    with engine.connect() as conn:
        live_schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    scratch = f"leadlink_check_{secrets.token_hex(6)}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {_quoted(engine, scratch)}"))
    copy = make_engine(engine.url.render_as_string(hide_password=False), search_path=scratch)
    try:
        migrate(copy)
        with copy.begin() as conn:
            for table in Base.metadata.sorted_tables:
                if table.name in SKIPPED | TRIGGERED:
                    continue
                name = _quoted(copy, table.name)
                cols = ", ".join(_quoted(copy, c.name) for c in table.columns)
                source = f"{_quoted(copy, live_schema)}.{name}"
                conn.execute(text(
                    f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {source}"))  # noqa: S608
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].type.python_type is int:
                    # Ids the copy's match makes continue past the copied ones.
                    column = _quoted(copy, pk[0].name)
                    # Identifiers of ours, quoted by the dialect; the values are bound.
                    seq = "pg_get_serial_sequence(:t, :c)"
                    reset = f"SELECT setval({seq}, COALESCE(max({column}), 0) + 1, false) FROM {name} HAVING {seq} IS NOT NULL"  # noqa: S608, E501
                    conn.execute(text(reset), {"t": f"{scratch}.{table.name}", "c": pk[0].name})
        yield copy
    finally:
        copy.dispose()
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(engine, scratch)} CASCADE"))


def _quoted(engine: Engine, name: str) -> str:
    """An identifier of ours (a table, column or scratch schema name), quoted by the dialect:
    never a value."""
    return engine.dialect.identifier_preparer.quote(name)

