"""What POST /api/leads reads and writes besides its decision: the newest model, its record."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadlink.store.models import MatchModel, SourceRecord


def newest_model(session: Session) -> int | None:
    """The newest stored model's id (the key's maximum: one index probe)."""
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
