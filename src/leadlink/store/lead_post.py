"""What POST /api/leads reads to know whether its in-memory registry is still the store's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadlink.store.models import Link, MatchModel, SourceRecord


def newest_link_id(session: Session) -> int | None:
    return session.scalar(select(func.max(Link.id)))


def links_after(session: Session, link_id: int | None) -> int:
    """How many links (active or not) were written after ``link_id``: a range scan of the key."""
    query = select(func.count()).select_from(Link)
    if link_id is not None:
        query = query.where(Link.id > link_id)
    return int(session.scalar(query) or 0)


def newest_model_id(session: Session) -> int | None:
    return session.scalar(select(func.max(MatchModel.id)))


def insert_record(
    session: Session,
    *,
    source: str,
    source_pk: str,
    data: dict[str, str],
    content_hash: str,
    event_date: dt.date | None,
    now: dt.datetime,
) -> int:
    """One new record (the caller knows its key is new: the unique key refuses a duplicate)."""
    row = SourceRecord(source=source, source_pk=source_pk, data=data, content_hash=content_hash,
                       event_date=event_date, ingested_at=now, updated_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row.id
