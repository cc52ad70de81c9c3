"""The SQL of a person's money page: its trips (through its drivers records) and the payments
of its claims. Its claims are read by ``store.claims.claim_rows`` (the one reading the report
uses too).

Trips belong to a person through the ``drivers`` records actively linked to it
(docs/claims.md): each driver's trips are one range of the trips key index
(``windows.of_driver``). A driver may have thousands of trip days, so the list is paged in SQL
(LIMIT/OFFSET, newest first) and summed by one aggregate query, never loaded whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Claim, Link, Payment, SourceRecord
from leadlink.store.windows import as_date, completed_trips, of_driver

Query = Select[*tuple[Any, ...]]


def _of_person(query: Query, key: str, driver: Any, trip: Any) -> Query:
    """``query`` over the trips (``trip``) of every drivers record (``driver``) actively
    linked to ``key``."""
    return (
        query.select_from(driver)
        .join(Link, and_(Link.record_id == driver.id, Link.active))
        .join(trip, of_driver(trip, driver.source_pk))
        .where(Link.person_key == key, driver.source == "drivers")
    )


def trip_summary(session: Session, key: str) -> dict[str, Any]:
    """Trip days, first and last day, and completed trips of the person: one query."""
    driver, trip = aliased(SourceRecord), aliased(SourceRecord)
    query: Query = select(func.count(trip.id), func.min(trip.event_date),
                                func.max(trip.event_date),
                                func.coalesce(func.sum(completed_trips(trip)), 0))  # fmt: skip
    days, first, last, trips = session.execute(_of_person(query, key, driver, trip)).one()
    first, last = as_date(first), as_date(last)
    return {"days": int(days), "completed": int(trips or 0),
            "first_day": first.isoformat() if first else None,
            "last_day": last.isoformat() if last else None}  # fmt: skip


def trip_page(session: Session, key: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of the person's trip days, newest first (then by trips key)."""
    driver, trip = aliased(SourceRecord), aliased(SourceRecord)
    columns: Query = select(trip.event_date, driver.source_pk, completed_trips(trip))
    query = _of_person(columns, key, driver, trip).order_by(trip.event_date.desc(), trip.source_pk)
    query = query.limit(limit).offset(offset)
    out = []
    for day, driver_id, trips in session.execute(query):
        found = as_date(day)
        out.append({"day": found.isoformat() if found else None, "driver_id": driver_id,
                    "completed_trips": int(trips or 0)})  # fmt: skip
    return out


def claim_payments(session: Session, key: str) -> list[dict[str, Any]]:
    """The payments reconciled to the person's claims (at most one per claim): which payment
    paid which claim, how much, when, found how; oldest payment first."""
    record = aliased(SourceRecord)
    query = (
        select(record.source_pk, Claim.milestone, Claim.amount, Claim.status, Payment.amount,
               Payment.paid_at, Payment.method, Payment.status, Payment.detail)
        .join(Payment, Payment.id == Claim.payment_id)
        .join(record, record.id == Payment.record_id)
        .where(Claim.person_key == key)
        .order_by(Payment.paid_at, record.source_pk)
    )  # fmt: skip
    out = []
    for (
        pk,
        milestone,
        claimed,
        claim_status,
        paid,
        paid_at,
        method,
        status,
        detail,
    ) in session.execute(query):
        day = as_date(paid_at)
        out.append({"payment_id": pk, "milestone": milestone, "claim_amount": claimed,
                    "claim_status": claim_status, "amount": paid,
                    "paid_at": day.isoformat() if day else None, "method": method,
                    "status": status,
                    "amount_mismatch": "amount_mismatch" in (detail or {})})  # fmt: skip
    return out
