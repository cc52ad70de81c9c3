"""The SQL of `match`: what is pending, the registry of linked records, and writing decisions.

Writes are set-based: persons, links and unmatched rows go in with executemany; origins and
their history are derived from the chunk's links by INSERT ... SELECT in the same transaction,
so a linked lead without an origin cannot exist.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, and_, delete, exists, func, select
from sqlalchemy.orm import Session

from leadlink.store import keys, origins
from leadlink.store.keys import LOOKUP_CHUNK, id_in, record_term
from leadlink.store.models import Link, Origin, Person, SourceRecord, Unmatched

RecordRow = tuple[int, str, dict[str, Any]]
"""(record id, source_pk, data)"""


def pending(session: Session, source: str, *, include_unmatched: bool = False) -> list[RecordRow]:
    """Records of a source with no active link (and, unless asked, no unmatched verdict)."""
    linked = exists().where(and_(Link.record_id == SourceRecord.id, Link.active))
    query = select(SourceRecord.id, SourceRecord.source_pk, SourceRecord.data).where(
        SourceRecord.source == source, ~linked
    )
    if not include_unmatched:
        query = query.where(~exists().where(Unmatched.record_id == SourceRecord.id))
    return [(r[0], r[1], r[2]) for r in session.execute(query.order_by(SourceRecord.id))]


def pending_page(
    session: Session, source: str, *, after: int, limit: int, include_unmatched: bool = False
) -> list[tuple[int, str, dict[str, Any], bool, str]]:
    """One page of ``pending`` (keyset: ids after ``after``, at most ``limit``), each row with
    whether the record has its blocking keys already and the hash of the content read:
    (id, source_pk, data, keyed, content_hash)."""
    linked = exists().where(and_(Link.record_id == SourceRecord.id, Link.active))
    keyed = exists().where(record_term.c.record_id == SourceRecord.id)
    query = select(
        SourceRecord.id, SourceRecord.source_pk, SourceRecord.data, keyed,
        SourceRecord.content_hash,
    ).where(SourceRecord.source == source, SourceRecord.id > after, ~linked)  # fmt: skip
    if not include_unmatched:
        query = query.where(~exists().where(Unmatched.record_id == SourceRecord.id))
    rows = session.execute(query.order_by(SourceRecord.id).limit(limit))
    return [(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]


def linked_records(
    session: Session, record_ids: Sequence[int]
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """These records with their active link: (id, source, person_key, data), by id."""
    conn = session.connection()
    out: list[tuple[int, str, str, dict[str, Any]]] = []
    for start in range(0, len(record_ids), LOOKUP_CHUNK):
        part = list(record_ids[start : start + LOOKUP_CHUNK])
        query = (
            select(SourceRecord.id, SourceRecord.source, Link.person_key, SourceRecord.data)
            .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
            .where(id_in(conn, SourceRecord.id, part))
            .order_by(SourceRecord.id)
        )
        out.extend((r[0], r[1], r[2], r[3]) for r in conn.execute(query))
    return out


def count_pending(session: Session, sources: Sequence[str]) -> int:
    linked = exists().where(and_(Link.record_id == SourceRecord.id, Link.active))
    judged = exists().where(Unmatched.record_id == SourceRecord.id)
    query = (
        select(func.count())
        .select_from(SourceRecord)
        .where(SourceRecord.source.in_(sources), ~linked, ~judged)
    )
    return int(session.scalar(query) or 0)


def registry(
    session: Session, sources: Sequence[str]
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """Every actively linked record of the given sources: (id, source, person_key, data)."""
    query = (
        select(SourceRecord.id, SourceRecord.source, Link.person_key, SourceRecord.data)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(sources))
        .order_by(SourceRecord.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query)]


def registry_page(
    session: Session, sources: Sequence[str], *, after: int, limit: int
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """One page of ``registry`` (keyset: ids after ``after``, at most ``limit``)."""
    query = (
        select(SourceRecord.id, SourceRecord.source, Link.person_key, SourceRecord.data)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(sources), SourceRecord.id > after)
        .order_by(SourceRecord.id)
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query)]


def count_registry(session: Session, sources: Sequence[str]) -> int:
    query = (
        select(func.count())
        .select_from(SourceRecord)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(sources))
    )
    return int(session.scalar(query) or 0)


def write_chunk(
    session: Session,
    *,
    run_id: int | None,
    now: dt.datetime,
    persons: Iterable[str],
    links: Sequence[dict[str, Any]],
    unmatched: Sequence[dict[str, Any]],
) -> None:
    """Persist one chunk of decisions; the caller's transaction makes it all-or-nothing."""
    person_rows = [{"person_key": k, "created_at": now, "run_id": run_id} for k in persons]
    if person_rows:
        _insert(session, Person, person_rows)
    touched = [r["record_id"] for r in links] + [r["record_id"] for r in unmatched]
    for start in range(0, len(touched), 500):
        ids = touched[start : start + 500]
        session.execute(delete(Unmatched).where(Unmatched.record_id.in_(ids)))
    if links:
        stamped = [{**r, "run_id": run_id, "active": True, "created_at": now} for r in links]
        _insert(session, Link, stamped)
        _origins_for_new_links(session, run_id, now, [r["record_id"] for r in links])
    if unmatched:
        _insert(session, Unmatched, [{**r, "run_id": run_id, "updated_at": now} for r in unmatched])


class JsonText(str):
    """A JSON column's value already serialised (the engine's evidence and candidates come as
    JSON text from DuckDB): stored as is, not parsed and serialised again."""

    __slots__ = ()


def _json_value(value: Any) -> Any:
    return value if isinstance(value, JsonText) else json.dumps(value)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows of one shape: COPY on PostgreSQL, one plain executemany on SQLite.

    COPY straight into the table (no staging table: these inserts have no ON CONFLICT); JSON
    columns are sent as the text SQLAlchemy would bind (``json.dumps``). On SQLite each value
    goes through the column type's own SQLAlchemy bind processor (the stored text of dates
    and JSON is what an ORM insert writes) without the ORM's per-row work: a third of the
    time of writing 500 k drivers' links and persons went there.
    """
    conn = session.connection()
    table = model.__table__
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    if conn.dialect.name == "postgresql":
        procs: list[Any] = [_json_value if c in as_json else None for c in columns]
    else:
        procs = [_json_value if c in as_json else
                 table.c[c].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
                 for c in columns]  # fmt: skip
    data = [
        tuple(r[c] if p is None else p(r[c]) for c, p in zip(columns, procs, strict=True))
        for r in rows
    ]
    keys.bulk_insert(conn, table.name, columns, data)


def _origins_for_new_links(
    session: Session, run_id: int | None, now: dt.datetime, record_ids: Sequence[int]
) -> None:
    """Origins (and their first history row) for the links this chunk wrote.

    Restricted to the chunk's records: selecting by run alone rescans every earlier chunk of
    the run (quadratic; 20 s of a 50 k run on PostgreSQL).
    """
    for start in range(0, len(record_ids), 1000):
        _origins_for(session, run_id, now, record_ids[start : start + 1000])


def _origins_for(
    session: Session, run_id: int | None, now: dt.datetime, record_ids: Sequence[int]
) -> None:
    in_chunk = Link.record_id.in_(record_ids)
    origins.add_for_links(session, and_(in_chunk, Link.run_id == run_id), decided_by="system",
                          status="resolved_auto", run_id=run_id, now=now)  # fmt: skip
    origins.journal_new(session, and_(Origin.record_id.in_(record_ids), Origin.run_id == run_id),
                        event="created", detail={"by": "match"}, run_id=run_id,
                        now=now)  # fmt: skip


def records_of(
    session: Session, sources: Sequence[str], *, per_source: int | None = None
) -> list[tuple[int, str, dict[str, Any]]]:
    """Every record of the given sources, linked or not: (id, source, data).

    ``per_source``: at most about that many of each source, spread evenly over its ids (every
    k-th id; deterministic, so the same store gives the same sample).
    """
    out: list[tuple[int, str, dict[str, Any]]] = []
    for source in sources:
        query = select(SourceRecord.id, SourceRecord.source, SourceRecord.data).where(
            SourceRecord.source == source
        )
        if per_source is not None:
            total = int(session.scalar(
                select(func.count()).select_from(SourceRecord).where(SourceRecord.source == source)
            ) or 0)  # fmt: skip
            step = -(-total // per_source) if total > per_source else 1
            if step > 1:
                query = query.where(SourceRecord.id % step == 0)
        out.extend((r[0], r[1], r[2]) for r in session.execute(query))
    out.sort(key=lambda r: r[0])
    return out
