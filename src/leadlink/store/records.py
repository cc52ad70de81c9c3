"""SQL for ``source_record``: read existing content hashes, bulk upsert, forget unmatched.

Everything is set-based: keys go in chunks of :data:`CHUNK` per query, never one query per
row. The upsert is keyed on ``(source, source_pk)`` and only touches a row whose
``content_hash`` differs, so re-sending an identical row is a no-op even under a race.

- SQLite: ``executemany`` of ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` per chunk.
- PostgreSQL: psycopg 3 ``COPY`` into a temporary table (dropped at commit), then one
  ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE``.

The caller owns the transaction (``leadlink.store.db.transaction``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from leadlink.store.keys import record_key, record_term
from leadlink.store.models import SourceRecord, Unmatched

CHUNK = 5000
"""Rows per executemany or COPY progress step, keys per lookup query."""

T = TypeVar("T")
_enc: Callable[[str], str] = encode_basestring
_records: Table = SourceRecord.__table__  # type: ignore[assignment]
_unmatched: Table = Unmatched.__table__  # type: ignore[assignment]

_stage = Table(
    "leadlink_ingest_stage",
    MetaData(),
    Column("source_pk", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("event_date", Date),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


class RecordRow(NamedTuple):
    """A record ready to be written; ``data_json`` is :func:`canonical_json` of ``data``."""

    source_pk: str
    data: dict[str, str]
    data_json: str
    content_hash: str
    event_date: dt.date | None


def canonical_json(data: dict[str, str]) -> str:
    """The text the content hash is taken of.

    Exactly ``json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``
    for a dict of strings, built directly because it is on the hot path of ingest.
    """
    return "{" + ",".join([_enc(k) + ":" + _enc(v) for k, v in sorted(data.items())]) + "}"


def chunks(items: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    step = size or CHUNK
    for start in range(0, len(items), step):
        yield items[start : start + step]


def existing_hashes(session: Session, source: str, keys: Sequence[str]) -> dict[str, str]:
    """``{source_pk: content_hash}`` of the given keys already stored for ``source``."""
    conn = session.connection()
    found: dict[str, str] = {}
    for part in chunks(keys):
        stmt = select(_records.c.source_pk, _records.c.content_hash).where(
            _records.c.source == source, _key_in(conn, part)
        )
        found.update((pk, h) for pk, h in conn.execute(stmt))
    return found


def _key_in(conn: Connection, keys: Sequence[str]) -> ColumnElement[bool]:
    """``source_pk`` in ``keys``, as ONE bound parameter (an array, or a JSON list on SQLite).

    An ``IN (?, ?, ...)`` list of thousands of parameters costs more to compile and plan
    than to run.
    """
    if conn.dialect.name == "postgresql":
        return _records.c.source_pk == any_(bindparam("keys", list(keys), type_=ARRAY(String)))
    listed = func.json_each(bindparam("keys", json.dumps(list(keys)), type_=Text))
    return _records.c.source_pk.in_(select(listed.table_valued("value").c.value))


def upsert(
    session: Session,
    source: str,
    rows: Sequence[RecordRow],
    *,
    now: dt.datetime,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Insert new keys, update those whose hash changed (``updated_at = now``), skip the rest.

    ``on_chunk(done)`` is called after each chunk with the number of rows sent so far.
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _upsert_postgresql(conn, source, rows, now, on_chunk)
    else:
        _upsert_sqlite(conn, source, rows, now, on_chunk)


def _conflict_set(excluded: Any) -> dict[str, Any]:
    return {
        "data": excluded.data,
        "content_hash": excluded.content_hash,
        "event_date": excluded.event_date,
        "updated_at": excluded.updated_at,
    }


def _upsert_sqlite(
    conn: Connection,
    source: str,
    rows: Sequence[RecordRow],
    now: dt.datetime,
    on_chunk: Callable[[int], None] | None,
) -> None:
    # The values are bound as the text SQLite stores (produced once by the column types'
    # own processors, JSON already serialised) so executemany does no per-row conversion.
    dialect = conn.dialect
    now_text = _records.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    date_text = _records.c.event_date.type.dialect_impl(dialect).bind_processor(dialect)
    assert now_text is not None and date_text is not None
    ins = sqlite_insert(_records).values(
        source=bindparam("source", type_=String),
        source_pk=bindparam("pk", type_=String),
        data=bindparam("data", type_=Text),
        content_hash=bindparam("hash", type_=String),
        event_date=bindparam("day", type_=String),
        ingested_at=bindparam("now", type_=String),
        updated_at=bindparam("now", type_=String),
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[_records.c.source, _records.c.source_pk],
        set_=_conflict_set(ins.excluded),
        where=_records.c.content_hash != ins.excluded.content_hash,
    )
    stamp = now_text(now)
    done = 0
    for part in chunks(rows):
        params = [
            {
                "source": source,
                "pk": r.source_pk,
                "data": r.data_json,
                "hash": r.content_hash,
                "day": None if r.event_date is None else date_text(r.event_date),
                "now": stamp,
            }
            for r in part
        ]
        conn.execute(stmt, params)
        done += len(part)
        if on_chunk is not None:
            on_chunk(done)


def _upsert_postgresql(
    conn: Connection,
    source: str,
    rows: Sequence[RecordRow],
    now: dt.datetime,
    on_chunk: Callable[[int], None] | None,
) -> None:
    from psycopg import sql

    _stage.create(conn)
    raw = conn.connection.driver_connection
    assert raw is not None
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(_stage.name),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in _stage.columns),
    )
    done = 0
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        for part in chunks(rows):
            for r in part:
                copy.write_row((r.source_pk, r.data_json, r.content_hash, r.event_date))
            done += len(part)
            if on_chunk is not None:
                on_chunk(done)
    ins = pg_insert(_records).from_select(
        ["source", "source_pk", "data", "content_hash", "event_date", "ingested_at", "updated_at"],
        select(
            literal(source, String),
            _stage.c.source_pk,
            cast(_stage.c.data, JSON),
            _stage.c.content_hash,
            _stage.c.event_date,
            literal(now, DateTime),
            literal(now, DateTime),
        ),
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[_records.c.source, _records.c.source_pk],
        set_=_conflict_set(ins.excluded),
        where=_records.c.content_hash != ins.excluded.content_hash,
    )
    conn.execute(stmt)
    _stage.drop(conn)


def forget_unmatched(session: Session, source: str, keys: Sequence[str]) -> None:
    """Delete the ``unmatched`` rows of these records, so ``match`` considers them again."""
    conn = session.connection()
    for part in chunks(keys):
        ids = select(_records.c.id).where(_records.c.source == source, _key_in(conn, part))
        conn.execute(delete(_unmatched).where(_unmatched.c.record_id.in_(ids)))


def forget_keys(session: Session, source: str, keys: Sequence[str]) -> None:
    """Delete the blocking keys and model terms of these records (their content changed):
    ``match`` derives them again from the new data (see ``leadlink.store.keys``)."""
    conn = session.connection()
    for part in chunks(keys):
        ids = select(_records.c.id).where(_records.c.source == source, _key_in(conn, part))
        conn.execute(delete(record_key).where(record_key.c.record_id.in_(ids)))
        conn.execute(delete(record_term).where(record_term.c.record_id.in_(ids)))
