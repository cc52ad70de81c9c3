"""Read-side queries for explain, export and evaluate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from leadlink.store.models import Link, Origin, ReviewItem, SourceRecord, Unmatched


def record(session: Session, source: str, source_pk: str) -> SourceRecord | None:
    return session.scalar(
        select(SourceRecord).where(
            SourceRecord.source == source, SourceRecord.source_pk == source_pk
        )
    )


def active_link(session: Session, record_id: int) -> Link | None:
    return session.scalar(select(Link).where(Link.record_id == record_id, Link.active))


def unmatched(session: Session, record_id: int) -> Unmatched | None:
    return session.scalar(select(Unmatched).where(Unmatched.record_id == record_id))


def records_by_id(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = session.execute(
        select(SourceRecord.id, SourceRecord.source, SourceRecord.source_pk).where(
            SourceRecord.id.in_(ids)
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def person_records(session: Session, person_key: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SourceRecord.source, SourceRecord.source_pk, Link.rule, Link.score, Link.confidence)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(Link.person_key == person_key)
        .order_by(SourceRecord.source, SourceRecord.source_pk)
    )
    return [
        {"source": r[0], "source_pk": r[1], "rule": r[2], "score": r[3], "confidence": r[4]}
        for r in rows
    ]


def person_origins(session: Session, person_key: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Origin.origin, SourceRecord.source, SourceRecord.source_pk, Origin.status,
               Origin.decided_by, Origin.created_at)
        .join(SourceRecord, SourceRecord.id == Origin.record_id)
        .where(Origin.person_key == person_key)
        .order_by(Origin.id)
    )  # fmt: skip
    return [
        {
            "origin": r[0],
            "source": r[1],
            "source_pk": r[2],
            "status": r[3],
            "decided_by": r[4],
            "created_at": r[5].isoformat(),
        }  # fmt: skip
        for r in rows
    ]


def export_links(session: Session) -> list[tuple[str, str, str, str, float, str]]:
    rows = session.execute(
        select(SourceRecord.source, SourceRecord.source_pk, Link.person_key, Link.rule,
               Link.score, Link.confidence)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .order_by(SourceRecord.source, SourceRecord.source_pk)
    )  # fmt: skip
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def assignments(session: Session, sources: list[str]) -> list[tuple[str, str, str | None]]:
    """(source, source_pk, person_key or None) for every record of the sources."""
    rows = session.execute(
        select(SourceRecord.source, SourceRecord.source_pk, Link.person_key)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(sources))
    )
    return [(r[0], r[1], r[2]) for r in rows]


def review_items(session: Session, record_id: int) -> list[dict[str, Any]]:
    """Every review item proposed for a record, best score first."""
    rows = session.scalars(
        select(ReviewItem)
        .where(ReviewItem.record_id == record_id)
        .order_by(ReviewItem.score.desc(), ReviewItem.id)
    )
    return [
        {"id": r.id, "person_key": r.person_key, "rule": r.rule, "score": r.score,
         "status": r.status, "deadline": r.deadline.isoformat() if r.deadline else None,
         "evidence": r.evidence}
        for r in rows
    ]  # fmt: skip


def source_count(session: Session, source: str) -> int:
    """How many records ``source`` holds (one range of the source key index)."""
    query = select(func.count()).select_from(SourceRecord).where(SourceRecord.source == source)
    return int(session.scalar(query) or 0)
