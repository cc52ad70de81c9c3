"""The keys of a file being ingested, kept in a temporary table for its one transaction.

A streamed ingest holds one page of rows in memory; the keys of the pages before it live here,
so a key repeated on a later page is found by the one statement per chunk that inserts the
page's keys, and memory does not grow with the file. The table is created by :func:`start`
and dropped by :func:`finish` (a SQLite temporary table would otherwise outlive the commit on
that pooled connection). A rollback empties it; on PostgreSQL it also drops it, while pysqlite
runs the CREATE outside the transaction, so :func:`start` drops a table a failed ingest left on
the connection.
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

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
    was on an earlier page: then ``(key, earlier line, this line)`` of the first such row.

    One ``INSERT ... SELECT`` per chunk that skips keys already there; only when it inserted
    fewer rows than it was given (the error case) are the earlier lines looked up.
    """
    conn = session.connection()
    inserted = 0
    for part in chunks(keys):
        stmt = _insert_new(conn, part).execution_options(preserve_rowcount=True)
        inserted += conn.execute(stmt).rowcount  # psycopg's INSERT count needs the option
    if inserted == len(keys):
        return None
    first_line = min(line for _, line in keys)  # every earlier page's lines are smaller
    earlier: dict[str, int] = {}
    for part in chunks(keys):
        stmt = select(_seen.c.source_pk, _seen.c.line).where(
            _key_in(conn, [k for k, _ in part]), _seen.c.line < first_line
        )
        earlier.update((key, line) for key, line in conn.execute(stmt))
    key, line = min(((k, n) for k, n in keys if k in earlier), key=lambda kn: kn[1])
    return key, earlier[key], line


def _insert_new(conn: Connection, part: Sequence[tuple[str, int]]) -> Executable:
    """INSERT the pairs whose key is not there yet, the pairs as ONE bound parameter."""
    if conn.dialect.name == "postgresql":
        pairs = select(
            func.unnest(bindparam("keys", [k for k, _ in part], type_=ARRAY(Text))),
            func.unnest(bindparam("lines", [n for _, n in part], type_=ARRAY(Integer))),
        )
        return (
            pg_insert(_seen)
            .from_select(["source_pk", "line"], pairs)
            .on_conflict_do_nothing(index_elements=[_seen.c.source_pk])
        )
    listed = func.json_each(bindparam("pairs", json.dumps(list(part)), type_=Text))
    value = listed.table_valued("value").c.value
    pairs = select(func.json_extract(value, "$[0]"), func.json_extract(value, "$[1]"))
    return insert(_seen).from_select(["source_pk", "line"], pairs).prefix_with("OR IGNORE")


def _key_in(conn: Connection, keys: Sequence[str]) -> ColumnElement[bool]:
    """``source_pk`` in ``keys`` as ONE bound parameter (as ``records`` looks keys up)."""
    if conn.dialect.name == "postgresql":
        return _seen.c.source_pk == any_(bindparam("keys", list(keys), type_=ARRAY(String)))
    listed = func.json_each(bindparam("keys", json.dumps(list(keys)), type_=Text))
    return _seen.c.source_pk.in_(select(listed.table_valued("value").c.value))
