"""The SQL of quarantine: what each driver record has (lead, origin, trips); quarantine rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Claim, Link, Origin, Payment, Quarantine, SourceRecord
from leadlink.store.windows import completed_trips, of_driver

LIMIT = 20
# What keeps a driver record out of quarantine, as a release reason names it.
HAS = ("lead linked", "origin", "trips")


class Verdict(NamedTuple):
    """A driver record whose quarantine row must change, and what it has (lead, origin,
    trips): nothing means it is an orphan."""

    record_id: int
    person_key: str | None
    has: tuple[str, ...]
    row_id: int | None  # its quarantine row, None when it has none


def changed_verdicts(session: Session) -> list[Verdict]:
    """The `drivers` records whose quarantine row does not say what they have now, by record
    id: an orphan with no row or an inactive one; a record with a lead, an origin or trips
    whose row is active. One query; every other driver record is left where it is.

    A record is judged through the person of its active link: a lead of the person linked,
    an origin of the person, completed trips (> 0) of any of the person's `drivers` records.
    A record with no link is judged on its own trips. A driver's trips are one range of the
    trips key index (``windows.of_driver``)."""
    driver = aliased(SourceRecord)
    link = aliased(Link)
    person = link.person_key
    lead_link, lead = aliased(Link), aliased(SourceRecord)
    has_lead = exists().where(lead_link.person_key == person, lead_link.active,
                              lead.id == lead_link.record_id, lead.source == "leads")  # fmt: skip
    has_origin = exists().where(Origin.person_key == person)
    own_trip = aliased(SourceRecord)
    own_trips = exists().where(of_driver(own_trip, driver.source_pk),
                               completed_trips(own_trip) > 0)  # fmt: skip
    peer_link, peer, peer_trip = aliased(Link), aliased(SourceRecord), aliased(SourceRecord)
    person_trips = exists().where(
        peer_link.person_key == person, peer_link.active, peer.id == peer_link.record_id,
        peer.source == "drivers", of_driver(peer_trip, peer.source_pk),
        completed_trips(peer_trip) > 0,
    )  # fmt: skip
    has_trips = or_(and_(person.is_(None), own_trips), and_(person.is_not(None), person_trips))
    # The filter asks whether it has anything at all (OR stops at the first found: the origin
    # is the cheapest lookup and the most often there, 100 k demo: 0.9 s against 1.8 s); the three
    # flags themselves are computed only for the few records returned.
    row_must_change = case((or_(has_origin, has_trips, has_lead), Quarantine.active),
                           else_=or_(Quarantine.id.is_(None), ~Quarantine.active))  # fmt: skip
    query = (
        select(driver.id.label("record_id"), person.label("person_key"),
               case((has_lead, 1), else_=0).label("lead"),
               case((has_origin, 1), else_=0).label("origin"),
               case((has_trips, 1), else_=0).label("trips"),
               Quarantine.id)  # fmt: skip
        .outerjoin(link, and_(link.record_id == driver.id, link.active))
        .outerjoin(Quarantine, Quarantine.record_id == driver.id)
        .where(driver.source == "drivers", row_must_change)
        .order_by(driver.id)
    )
    out = []
    for r in session.execute(query):
        has = tuple(n for n, on in zip(HAS, (r.lead, r.origin, r.trips), strict=True) if on)
        out.append(Verdict(r.record_id, r.person_key, has, r.id))
    return out


def count_drivers(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(SourceRecord.source == "drivers")) or 0)


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
