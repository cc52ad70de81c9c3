"""The SQL of quarantine: what each driver record has (lead, origin, trips); quarantine rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, and_, cast, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import Claim, Link, Origin, Payment, Quarantine, SourceRecord

LIMIT = 20


def driver_records(session: Session) -> list[tuple[int, str, str | None]]:
    """Every `drivers` record: (record id, driver id, person_key of its active link or None)."""
    query = (
        select(SourceRecord.id, SourceRecord.source_pk, Link.person_key)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source == "drivers")
        .order_by(SourceRecord.id)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(query)]


def persons_with_lead(session: Session) -> set[str]:
    query = (
        select(Link.person_key)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.active, SourceRecord.source == "leads")
        .distinct()
    )
    return set(session.scalars(query))


def persons_with_origin(session: Session) -> set[str]:
    return set(session.scalars(select(Origin.person_key).distinct()))


def trip_driver_ids(session: Session) -> set[str]:
    """Driver ids with at least one day of completed trips (> 0)."""
    driver_id = SourceRecord.data["driver_id"].as_string()
    trips = cast(SourceRecord.data["completed_trips"].as_string(), Integer)
    query = select(driver_id).where(SourceRecord.source == "trips", trips > 0).distinct()
    return {d for d in session.scalars(query) if d}


def rows(session: Session) -> dict[int, dict[str, Any]]:
    """Quarantine rows by driver record id."""
    query = select(
        Quarantine.id,
        Quarantine.record_id,
        Quarantine.person_key,
        Quarantine.active,
        Quarantine.reason,
    )
    return {
        r.record_id: {
            "id": r.id,
            "person_key": r.person_key,
            "active": r.active,
            "reason": r.reason,
        }
        for r in session.execute(query)
    }


def add(session: Session, new_rows: Sequence[dict[str, Any]], now: dt.datetime) -> None:
    if new_rows:
        session.execute(
            insert(Quarantine),
            [
                {
                    **r,
                    "active": True,
                    "quarantined_at": now,
                    "released_at": None,
                    "release_reason": None,
                }
                for r in new_rows
            ],
        )


def reactivate(session: Session, again: Sequence[dict[str, Any]], now: dt.datetime) -> None:
    """A released driver that is an orphan again: the same row, active again, from now."""
    if again:
        session.execute(
            update(Quarantine),
            [
                {
                    **r,
                    "active": True,
                    "quarantined_at": now,
                    "released_at": None,
                    "release_reason": None,
                }
                for r in again
            ],
        )


def release(session: Session, released: Sequence[dict[str, Any]], now: dt.datetime) -> None:
    if released:
        session.execute(
            update(Quarantine), [{**r, "active": False, "released_at": now} for r in released]
        )


def active_persons(session: Session) -> set[str]:
    query = select(Quarantine.person_key).where(
        Quarantine.active, Quarantine.person_key.is_not(None)
    )
    return {k for k in session.scalars(query.distinct()) if k}


def active_driver_ids(session: Session) -> set[str]:
    query = (
        select(SourceRecord.source_pk)
        .join(Quarantine, Quarantine.record_id == SourceRecord.id)
        .where(Quarantine.active)
    )
    return set(session.scalars(query))


def count_active(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Quarantine).where(Quarantine.active)) or 0
    )


def list_active(session: Session) -> list[dict[str, Any]]:
    query = (
        select(
            SourceRecord.source_pk,
            Quarantine.person_key,
            Quarantine.reason,
            Quarantine.quarantined_at,
        )
        .join(SourceRecord, SourceRecord.id == Quarantine.record_id)
        .where(Quarantine.active)
        .order_by(SourceRecord.source_pk)
    )
    return [
        {"driver_id": r[0], "person_key": r[1], "reason": r[2], "quarantined_at": r[3]}
        for r in session.execute(query)
    ]


def claims_of_quarantined(session: Session) -> tuple[int, list[str]]:
    """Violations of the invariant: a claim of a person with an active quarantine."""
    quarantined = select(Quarantine.person_key).where(Quarantine.active).scalar_subquery()
    query = select(Claim.person_key, Claim.milestone).where(Claim.person_key.in_(quarantined))
    found = [f"claim {r[1]} of quarantined person {r[0]}" for r in session.execute(query)]
    return len(found), found[:LIMIT]


def payments_of_quarantined(session: Session) -> tuple[int, list[str]]:
    """Violations: a reconciled payment of a person with an active quarantine."""
    quarantined = select(Quarantine.person_key).where(Quarantine.active).scalar_subquery()
    query = (
        select(SourceRecord.source_pk, Payment.person_key)
        .join(SourceRecord, SourceRecord.id == Payment.record_id)
        .where(Payment.status == "reconciled", Payment.person_key.in_(quarantined))
    )
    found = [
        f"payment {r[0]} reconciled to quarantined person {r[1]}" for r in session.execute(query)
    ]
    return len(found), found[:LIMIT]
