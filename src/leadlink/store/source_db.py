"""Reading a partner's database: one user query, streamed page by page, never writing.

This is the one place a query written by the user (``leadlink ingest SOURCE --from URL
--query Q``) is executed. It runs as the user wrote it: on the driver's own cursor, with no
parameters, so a ``%`` or a ``:name`` in it is not taken for a placeholder, and nothing of ours
is interpolated into it. What keeps it a read:

- PostgreSQL: the transaction is ``READ ONLY`` (set before the query; a write in it, even in a
  function it calls, fails with SQLSTATE 25006) and the query runs as ``DECLARE ... CURSOR``,
  which only accepts a ``SELECT``/``VALUES`` without data-modifying ``WITH``. The transaction
  is rolled back at the end.
- SQLite: the file is opened ``mode=ro`` and ``PRAGMA query_only`` is on.

Memory is bounded by the page: PostgreSQL keeps the result on the server (a named, server-side
cursor; each page is one ``FETCH FORWARD n``), SQLite steps through it row by row.
The connection carries ``application_name=leadlink-ingest`` so the partner's DBA can see it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from leadlink.errors import BadInputError, ConfigError
from leadlink.store.db import DatabaseError, describe, redact, sqlite_file

APPLICATION_NAME = "leadlink-ingest"


@dataclass(frozen=True)
class SourceQuery:
    """A query's result as it streams: its column names and an iterator of pages of rows."""

    where: str  # the database, password masked
    columns: tuple[str, ...]
    pages: Iterator[Sequence[tuple[Any, ...]]]


def source_url(url: str) -> URL:
    """``url`` parsed; ConfigError (password masked) when it is not a database URL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"cannot use source URL {redact(url)}: {redact(str(exc))}") from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise ConfigError(f"source URL {describe(parsed)}: only PostgreSQL and SQLite sources "
                          f"are supported, not {backend}")  # fmt: skip
    return parsed


def where_of(url: str) -> str:
    """How messages name the source database: its URL with the password masked."""
    return describe(source_url(url))


def _engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            path = sqlite_file(url)
            if path is None or not path.is_file():
                raise ConfigError(f"source {describe(url)}: no such SQLite file")
            # Read-only at the file: a source is never written, not even its journal mode.
            ro = URL.create("sqlite", database=f"file:{path}?mode=ro", query={"uri": "true"})
            return create_engine(ro, poolclass=NullPool)
        args = {"application_name": APPLICATION_NAME}
        return create_engine(url, poolclass=NullPool, connect_args=args)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        detail = redact(str(exc), url)
        raise ConfigError(f"cannot use source URL {describe(url)}: {detail}") from None


@contextmanager
def stream(url: str, query: str, *, page_rows: int) -> Iterator[SourceQuery]:
    """Run ``query`` read-only on the database at ``url``; pages of at most ``page_rows`` rows.

    Any failure of the source (cannot connect, bad SQL, a write refused) is a
    :class:`BadInputError` (or :class:`DatabaseError` for a connection) naming the source
    with its password masked. Leaving the block rolls back and closes the connection.
    """
    parsed = source_url(url)
    where = describe(parsed)
    engine = _engine(parsed)
    try:
        try:
            raw = engine.raw_connection()
        except Exception as exc:  # SQLAlchemy's or the driver's own (raw connections)
            detail = redact(str(getattr(exc, "orig", None) or exc), parsed)
            raise DatabaseError(f"cannot open the source database {where}: {detail}") from None
        try:
            cursor = _open_cursor(raw, parsed, query, where, page_rows)
            columns = tuple(str(d[0]) for d in cursor.description or ())
            yield SourceQuery(where, columns, _pages(cursor, page_rows, parsed, where))
        finally:
            try:
                raw.rollback()
            finally:
                raw.close()
    finally:
        engine.dispose()


def _open_cursor(raw: Any, url: URL, query: str, where: str, page_rows: int) -> Any:
    try:
        if url.get_backend_name() == "postgresql":
            raw.cursor().execute("SET TRANSACTION READ ONLY")
            # A named cursor is a server-side one: DECLARE, then FETCH FORWARD per page.
            cursor = raw.cursor(name=f"leadlink_source_{uuid.uuid4().hex[:8]}")
            cursor.itersize = page_rows
        else:
            raw.cursor().execute("PRAGMA query_only = ON")
            cursor = raw.cursor()
        cursor.execute(query)  # the user's SQL, as written: no parameters, nothing added
    except Exception as exc:
        raise _query_error(exc, url, where) from None
    if cursor.description is None:
        raise BadInputError(f"source {where}", "the query returns no rows (not a SELECT?)")
    return cursor


def _pages(cursor: Any, page_rows: int, url: URL, where: str) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        try:
            page = cursor.fetchmany(page_rows)
        except Exception as exc:
            raise _query_error(exc, url, where) from None
        if not page:
            return
        yield [tuple(row) for row in page]


def _query_error(exc: Exception, url: URL, where: str) -> BadInputError:
    detail = redact(str(exc), url) or type(exc).__name__
    lowered = detail.lower()
    wrote = "readonly" in lowered or "query_only" in lowered
    if getattr(exc, "sqlstate", None) == "25006" or wrote:
        detail = f"the query tried to write, and a source is only read ({detail})"
    return BadInputError(f"source {where}", f"the query failed: {detail}")
