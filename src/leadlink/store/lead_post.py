"""What POST /api/leads reads to know whether its in-memory registry is still the store's."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadlink.store.models import Link, MatchModel, SourceRecord


class RegistryState(NamedTuple):
    links_after: int  # links (active or not) written after the id asked about
    newest_link: int | None
    newest_model: int | None


def registry_state(session: Session, after_link_id: int | None) -> RegistryState:
    """One statement: links written after ``after_link_id`` (a range scan of the key; all of
    them when None), the newest link id and the newest model id."""
    after = select(func.count()).select_from(Link)
    if after_link_id is not None:
        after = after.where(Link.id > after_link_id)
    row = session.execute(
        select(
            after.scalar_subquery(),
            select(func.max(Link.id)).scalar_subquery(),
            select(func.max(MatchModel.id)).scalar_subquery(),
        )
    ).one()
    return RegistryState(int(row[0] or 0), row[1], row[2])


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
