"""The keys of a file being ingested, kept in a temporary table for its one transaction.

A streamed ingest holds one page of rows in memory; the keys of the pages before it live here,
so a key repeated on a later page is found by one query per chunk of the page, and memory does
not grow with the file. The table is created by :func:`start` and dropped by :func:`finish` (a
SQLite temporary table would otherwise outlive the commit on that pooled connection). A
rollback empties it; on PostgreSQL it also drops it, while pysqlite runs the CREATE outside the
transaction, so :func:`start` drops a table a failed ingest left on the connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from leadlink.store.records import chunks

_seen = Table(
    "leadlink_ingest_seen",
    MetaData(),
    Column("source_pk", Text, primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def start(session: Session) -> None:
    conn = session.connection()
    # pysqlite runs DDL outside the transaction: a failed ingest's (empty) table may be left.
    _seen.drop(conn, checkfirst=True)
    _seen.create(conn)


def finish(session: Session) -> None:
    _seen.drop(session.connection())


def add_page(session: Session, keys: Sequence[tuple[str, int]]) -> tuple[str, int, int] | None:
    """Remember a page's ``(key, line)`` pairs (unique within the page), unless one of its keys
    was on an earlier page: then ``(key, earlier line, this line)`` of the first such row."""
    conn = session.connection()
    earlier: dict[str, int] = {}
    for part in chunks(keys):
        stmt = select(_seen.c.source_pk, _seen.c.line).where(_key_in(conn, [k for k, _ in part]))
        earlier.update((key, line) for key, line in conn.execute(stmt))
    if earlier:
        key, line = next((k, n) for k, n in keys if k in earlier)
        return key, earlier[key], line
    for part in chunks(keys):
        conn.execute(insert(_seen), [{"source_pk": k, "line": n} for k, n in part])
    return None


def _key_in(conn: Connection, keys: Sequence[str]) -> ColumnElement[bool]:
    """``source_pk`` in ``keys`` as ONE bound parameter (as ``records`` looks keys up)."""
    if conn.dialect.name == "postgresql":
        return _seen.c.source_pk == any_(bindparam("keys", list(keys), type_=ARRAY(String)))
    listed = func.json_each(bindparam("keys", json.dumps(list(keys)), type_=Text))
    return _seen.c.source_pk.in_(select(listed.table_valued("value").c.value))
