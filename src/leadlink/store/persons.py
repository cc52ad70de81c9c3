"""Reading persons across merges: their links and origins, and what still names a retired key.

The read side of ``store.merges`` (which writes merges), kept apart so each stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadlink.store.merges import LIMIT, OPEN_CLAIM_STATUSES, ORIGIN_DUPLICATE_STATUS
from leadlink.store.models import (
    Claim,
    Link,
    Origin,
    OriginHistory,
    Payment,
    Person,
    Quarantine,
    ReviewItem,
    SourceRecord,
)

# Where a person's records carry an identity number or a family name: (source, JSON field).
IDENTITY_FIELDS = (("drivers", "document"), ("drivers", "license"), ("scouting", "driver_license"))
NAME_FIELDS = (("drivers", "last_name"), ("leads", "last_name"), ("scouting", "driver_name"),
               ("migrations", "driver_name"))  # fmt: skip


def identity_values(
    session: Session, keys: Sequence[str]
) -> list[tuple[str, str, str, str]]:
    """(person_key, source, field, raw value) of the identity numbers and names carried by
    the actively linked records of these persons (a merge compares them: two DNIs that differ
    are two people). One query over the persons' records, never one per record."""
    fields = sorted({f for _, f in IDENTITY_FIELDS + NAME_FIELDS})
    rows = session.execute(
        select(Link.person_key, SourceRecord.source,
               *(SourceRecord.data[f].as_string() for f in fields))
        .join(Link, (Link.record_id == SourceRecord.id) & Link.active)
        .where(Link.person_key.in_(list(keys)))
        .order_by(Link.person_key, SourceRecord.source, SourceRecord.source_pk)
    )  # fmt: skip
    wanted = set(IDENTITY_FIELDS + NAME_FIELDS)
    return [
        (r[0], r[1], f, v)
        for r in rows
        for f, v in zip(fields, r[2:], strict=True)
        if v and (r[1], f) in wanted
    ]


# --- checks -----------------------------------------------------------------------------------


def pointers_to_retired(session: Session) -> list[tuple[int, list[str]]]:
    """Rows still in force that name a retired person: each (count, examples)."""
    retired = select(Person.person_key).where(Person.retired_into.is_not(None))
    queries = [
        ("active link", select(Link.id, Link.person_key)
         .where(Link.active, Link.person_key.in_(retired))),
        ("origin", select(Origin.id, Origin.person_key)
         .where(Origin.status != ORIGIN_DUPLICATE_STATUS, Origin.person_key.in_(retired))),
        ("open claim", select(Claim.id, Claim.person_key)
         .where(Claim.status.in_(OPEN_CLAIM_STATUSES), Claim.person_key.in_(retired))),
        ("open review item", select(ReviewItem.id, ReviewItem.person_key)
         .where(ReviewItem.status == "open", ReviewItem.person_key.in_(retired))),
        ("payment", select(Payment.id, Payment.person_key).where(Payment.person_key.in_(retired))),
        ("active quarantine", select(Quarantine.id, Quarantine.person_key)
         .where(Quarantine.active, Quarantine.person_key.in_(retired))),
    ]  # fmt: skip
    out = []
    for what, query in queries:
        n = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        examples = [
            f"{what} {r[0]} points at retired person {r[1]}"
            for r in session.execute(query.order_by(query.selected_columns[0]).limit(LIMIT))
        ]
        out.append((int(n), examples))
    return out


def retired_edges(session: Session) -> dict[str, str]:
    """Every retired person -> the key it was retired into (one row per merge, few)."""
    rows = session.execute(
        select(Person.person_key, Person.retired_into).where(Person.retired_into.is_not(None))
    )
    return {r[0]: str(r[1]) for r in rows}


# --- reading a person -------------------------------------------------------------------------


def person_links(session: Session, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every link (active or not) to these person keys, oldest first."""
    rows = session.execute(
        select(Link.id, SourceRecord.source, SourceRecord.source_pk, Link.person_key, Link.rule,
               Link.score, Link.confidence, Link.active, Link.run_id, Link.created_at,
               Link.evidence, SourceRecord.data)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.person_key.in_(list(keys)))
        .order_by(Link.id)
    )  # fmt: skip
    return [
        {"link_id": r[0], "source": r[1], "source_pk": r[2], "person_key": r[3], "rule": r[4],
         "score": r[5], "confidence": r[6], "active": bool(r[7]), "run_id": r[8],
         "created_at": r[9].isoformat(), "merged_from": (r[10] or {}).get("merged_from"),
         "evidence": r[10] or {}, "data": r[11] or {}}
        for r in rows
    ]  # fmt: skip


def person_origins(session: Session, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every origin of these person keys with its journal."""
    rows = session.execute(
        select(Origin.id, Origin.person_key, Origin.origin, SourceRecord.source,
               SourceRecord.source_pk, Origin.status, Origin.decided_by, Origin.created_at)
        .join(SourceRecord, SourceRecord.id == Origin.record_id)
        .where(Origin.person_key.in_(list(keys)))
        .order_by(Origin.id)
    ).all()  # fmt: skip
    history: dict[int, list[dict[str, Any]]] = {}
    if rows:
        journal = session.execute(
            select(OriginHistory.origin_id, OriginHistory.event, OriginHistory.detail,
                   OriginHistory.at)
            .where(OriginHistory.origin_id.in_([r[0] for r in rows]))
            .order_by(OriginHistory.id)
        )  # fmt: skip
        for oid, event, detail, at in journal:
            history.setdefault(oid, []).append(
                {"event": event, "detail": detail, "at": at.isoformat()}
            )
    return [
        {"origin_id": r[0], "person_key": r[1], "origin": r[2], "source": r[3],
         "source_pk": r[4], "status": r[5], "decided_by": r[6], "created_at": r[7].isoformat(),
         "history": history.get(r[0], [])}
        for r in rows
    ]  # fmt: skip
