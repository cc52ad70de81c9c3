"""Blocking keys and model terms of identity records: find a record's candidates in SQL.

``record_key (key, record_id)`` holds every candidate key of a record (``matching.blocking
.record_keys``: hashed phone tail, plate, driver id, documents, name+car blocks, the model's
name blocks); two records that could be a candidate pair share one. ``record_term`` holds the
values the model weighs by frequency (given name, family names, car, city), one row per record,
and marks the record as keyed. Both are derived from ``source_record.data`` by ``match`` when it
first prepares a record; ingest drops them when a record's content changes.

So ``match`` finds the registry rows a batch of pending records can meet with one indexed
join instead of loading every linked record, and counts term frequencies in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    exists,
    func,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from leadlink.store.models import Link, SourceRecord

TERM_COLUMNS = ("given", "family1", "family2", "brand_model", "city")

_meta = MetaData()
record_key = Table(
    "record_key",
    _meta,
    Column("key", BigInteger, primary_key=True),
    Column("record_id", Integer, primary_key=True),
)
record_term = Table(
    "record_term",
    _meta,
    Column("record_id", Integer, primary_key=True),
    *(Column(c, String) for c in TERM_COLUMNS),
)

SQLITE_CACHE_KIB = 256 * 1024
# Bound values per statement (keys, ids): one array / JSON parameter, see id_in().
LOOKUP_CHUNK = 20_000


def write_parts(session: Session, parts: Iterable[tuple[str, pa.Table]]) -> int:
    """Store ("key", ``(rid, key)``) and ("term", ``(rid, *TERM_COLUMNS)``) parts in the
    caller's transaction, in the order given (keys in key order: each lands next to the last
    in the key-ordered table, so a big batch rewrites each B-tree page once); return the
    number of term rows (records keyed)."""
    conn = session.connection()
    keyed = 0
    for kind, part in parts:
        if kind == "key":
            rows = zip(part.column("key").to_pylist(), part.column("rid").to_pylist(),
                       strict=True)  # fmt: skip
            bulk_insert(conn, record_key.name, ("key", "record_id"), list(rows))
        else:
            cols = (part.column(c).to_pylist() for c in ("rid", *TERM_COLUMNS))
            terms = list(zip(*cols, strict=True))
            bulk_insert(conn, record_term.name, ("record_id", *TERM_COLUMNS), terms)
            keyed += part.num_rows
    return keyed


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert plain rows fast: COPY on PostgreSQL, one executemany on SQLite.

    ``table`` and ``columns`` are our own names (code), values are always bound / copied.
    """
    if not rows:
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        from psycopg import sql

        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with raw.cursor() as cur, cur.copy(stmt) as copy:
            for row in rows:
                copy.write_row(row)
        return
    # Keys arrive in random order over a table of millions of rows: SQLite's default 2 MB page
    # cache would re-read B-tree pages from disk for most inserts (this connection only).
    raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    marks = ", ".join("?" for _ in columns)
    names = ", ".join(columns)
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cur.close()


def _active(record_id: Any) -> ColumnElement[bool]:
    return exists().where(and_(Link.record_id == record_id, Link.active))


def id_in(conn: Connection, column: Any, values: Sequence[int]) -> ColumnElement[bool]:
    """``column IN values`` as ONE bound parameter (an array, or a JSON list on SQLite)."""
    if conn.dialect.name == "postgresql":
        array = bindparam("vals", list(values), type_=ARRAY(BigInteger))
        return column == any_(array)  # type: ignore[no-any-return]
    listed = func.json_each(bindparam("vals", json.dumps(list(values)), type_=Text))
    return column.in_(select(listed.table_valued("value").c.value))  # type: ignore[no-any-return]


def registry_sharing(session: Session, keys: Sequence[int]) -> list[int]:
    """Ids of actively linked records that share one of ``keys`` (sorted, distinct)."""
    conn = session.connection()
    found: set[int] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        part = unique[start : start + LOOKUP_CHUNK]
        query = (
            select(record_key.c.record_id)
            .where(id_in(conn, record_key.c.key, part), _active(record_key.c.record_id))
            .distinct()
        )
        found.update(r[0] for r in conn.execute(query))
    return sorted(found)


def registry_rows(
    session: Session, keys: Sequence[int]
) -> list[tuple[int, str, str, dict[str, Any], str]]:
    """The actively linked records sharing one of ``keys`` (a handful: one lead's keys), in
    one statement: ``(id, source, person_key, data, content_hash)`` by id. The online path's
    candidates; ``registry_sharing`` is the same lookup for a batch chunk's many keys."""
    conn = session.connection()
    sharing = select(record_key.c.record_id).where(
        id_in(conn, record_key.c.key, sorted(set(keys)))
    )
    query = (
        select(SourceRecord.id, SourceRecord.source, Link.person_key, SourceRecord.data,
               SourceRecord.content_hash)  # fmt: skip
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.id.in_(sharing))
        .order_by(SourceRecord.id)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(query)]


def unkeyed_linked(
    session: Session, sources: Sequence[str], *, after: int, limit: int
) -> list[tuple[int, str, dict[str, Any], str]]:
    """Linked records with no keys yet (linked before keys existed, or changed since):
    ``(id, source, data, content_hash)`` in id order after ``after``, at most ``limit``."""
    query = (
        select(SourceRecord.id, SourceRecord.source, SourceRecord.data, SourceRecord.content_hash)
        .where(
            SourceRecord.source.in_(sources),
            SourceRecord.id > after,
            _active(SourceRecord.id),
            ~exists().where(record_term.c.record_id == SourceRecord.id),
        )
        .order_by(SourceRecord.id)
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query)]


def changed(session: Session, hashes: pa.Table) -> list[int]:
    """Of ``hashes (rid, content_hash)`` as read earlier, the records whose content changed
    since (or that are gone): keys derived from what was read would be stale."""
    conn = session.connection()
    rids = hashes.column("rid").to_pylist()
    seen = dict(zip(rids, hashes.column("content_hash").to_pylist(), strict=True))
    now: dict[int, str] = {}
    for start in range(0, len(rids), LOOKUP_CHUNK):
        part = rids[start : start + LOOKUP_CHUNK]
        query = select(SourceRecord.id, SourceRecord.content_hash).where(
            id_in(conn, SourceRecord.id, part)
        )
        now.update((r[0], r[1]) for r in conn.execute(query))
    return [rid for rid in rids if now.get(rid) != seen[rid]]


def term_counts(session: Session) -> dict[str, list[tuple[str, int]]]:
    """How often each term occurs in the registry (actively linked records; only identity
    records are keyed): the population of the model's term frequencies, counted in SQL."""
    linked = record_term.join(
        Link.__table__, and_(Link.record_id == record_term.c.record_id, Link.active)
    )
    parts = [
        select(
            bindparam(f"col_{c}", c, type_=String).label("col"),
            record_term.c[c].label("value"),
            func.count().label("n"),
        )
        .select_from(linked)
        .where(record_term.c[c].is_not(None))
        .group_by(record_term.c[c])
        for c in TERM_COLUMNS
    ]
    out: dict[str, list[tuple[str, int]]] = {c: [] for c in TERM_COLUMNS}
    for col, value, n in session.execute(union_all(*parts)):
        out[col].append((value, int(n)))
    return out
