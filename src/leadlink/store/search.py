"""Search's lookups (``pipeline/resolution/search.py``): every one reads a range of an index,
never every row.

- ``by_source_pk``: a record by its id in its source, through the unique ``(source,
  source_pk)`` index of ``source_record`` (a lead id, a driver id...);
- ``sharing_keys``: the records carrying one of a few blocking keys, through the primary key
  ``(key, record_id)`` of ``record_key`` (``store/keys.py``): phone, plate, document, name;
- ``leads_of``: the leads actively linked to a few persons, through ``link.person_key``;
- ``records``: those records by id, with their state (``listing.record_status``), person and
  unmatched reason.

Values are bound parameters; each lookup takes at most ``limit`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from leadlink.store.keys import id_in, record_key
from leadlink.store.listing import iso, record_status
from leadlink.store.models import Link, SourceRecord, Unmatched


def by_source_pk(session: Session, sources: Sequence[str], source_pk: str) -> list[int]:
    """Ids of the records whose id in one of ``sources`` is ``source_pk`` (one per source)."""
    query = select(SourceRecord.id).where(
        SourceRecord.source.in_(list(sources)), SourceRecord.source_pk == source_pk
    )
    return sorted(session.scalars(query))


def sharing_keys(session: Session, keys: Sequence[int], *, limit: int) -> list[int]:
    """Ids of the records carrying one of ``keys``, newest record first, at most ``limit``.

    A key is a hash (``matching.blocking.record_keys``): a record found here shares a key with
    the query, which the caller checks against the record's own normalised values."""
    if not keys:
        return []
    conn = session.connection()
    rid = record_key.c.record_id
    query = (
        select(rid)
        .where(id_in(conn, record_key.c.key, sorted(set(keys))))
        .distinct()
        .order_by(rid.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def leads_of(session: Session, person_keys: Sequence[str], *, limit: int) -> list[int]:
    """Ids of the leads actively linked to one of ``person_keys``, at most ``limit``."""
    if not person_keys:
        return []
    query = (
        select(Link.record_id)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.person_key.in_(sorted(set(person_keys))), Link.active,
               SourceRecord.source == "leads")
        .order_by(Link.record_id.desc())
        .limit(limit)
    )  # fmt: skip
    return list(session.scalars(query))


def records(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The records ``ids`` (any order): ``id, source, source_pk, date, data, status,
    person_key, rule, score, reason, band``."""
    if not ids:
        return []
    query = (
        select(
            SourceRecord.id, SourceRecord.source, SourceRecord.source_pk,
            SourceRecord.event_date, SourceRecord.data, record_status().label("status"),
            Link.person_key, Link.rule, Link.score, Unmatched.reason, Unmatched.band,
        )
        .select_from(SourceRecord)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .outerjoin(Unmatched, Unmatched.record_id == SourceRecord.id)
        .where(SourceRecord.id.in_(sorted(set(ids))))
    )  # fmt: skip
    out = []
    for r in session.execute(query):
        row = dict(r._mapping)
        row["date"] = iso(row.pop("event_date"))
        out.append(row)
    return out
