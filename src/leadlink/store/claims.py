"""The SQL of claims and payments: the facts claims are computed from, and their bulk writes.

Computing is done by the service (pipeline/money/claims.py) over whole sets loaded here in a few
queries; writes are executemany (bulk INSERT / bulk UPDATE by primary key), never a query per
row. No dialect-specific upsert is needed: the service compares with what is stored and
writes only what changed, so a rerun over unchanged data writes nothing at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import Claim, Link, Payment, SourceRecord

CLAIM_FIELDS = (
    "id",
    "person_key",
    "milestone",
    "lead_record_id",
    "lead_date",
    "reached_on",
    "amount",
    "status",
    "payment_id",
)
PAYMENT_FIELDS = (
    "id",
    "record_id",
    "claim_id",
    "person_key",
    "milestone",
    "amount",
    "paid_at",
    "method",
    "status",
    "detail",
)
LIMIT = 20


def person_drivers(session: Session) -> list[tuple[str, str, str, str]]:
    """(person_key, driver id, first_name, last_name) of every actively linked drivers record."""
    query = (
        select(
            Link.person_key,
            SourceRecord.source_pk,
            SourceRecord.data["first_name"].as_string(),
            SourceRecord.data["last_name"].as_string(),
        )
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source == "drivers")
        .order_by(SourceRecord.id)
    )
    return [(r[0], r[1], r[2] or "", r[3] or "") for r in session.execute(query)]


def load_claims(session: Session) -> list[dict[str, Any]]:
    cols = [getattr(Claim, f) for f in CLAIM_FIELDS]
    return [dict(zip(CLAIM_FIELDS, r, strict=True)) for r in session.execute(select(*cols))]


def insert_claims(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int, now: dt.datetime
) -> None:
    if rows:
        session.execute(
            insert(Claim),
            [{**r, "run_id": run_id, "created_at": now, "updated_at": now} for r in rows],
        )


def update_claims(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int, now: dt.datetime
) -> None:
    """Bulk UPDATE by primary key: each row holds ``id`` and the columns that change."""
    if rows:
        session.execute(update(Claim), [{**r, "run_id": run_id, "updated_at": now} for r in rows])


def delete_claims(session: Session, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):
        session.execute(delete(Claim).where(Claim.id.in_(ids[start : start + 500])))


def payment_records(
    session: Session, until: dt.date
) -> list[tuple[int, str, dict[str, Any], dt.date]]:
    """Payments records paid on or before ``until``: (record id, payment_id, data, paid_at)."""
    query = (
        select(SourceRecord.id, SourceRecord.source_pk, SourceRecord.data, SourceRecord.event_date)
        .where(SourceRecord.source == "payments", SourceRecord.event_date <= until)
        .order_by(SourceRecord.event_date, SourceRecord.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query)]


def load_payments(session: Session) -> dict[int, dict[str, Any]]:
    """Payment rows by payments record id."""
    cols = [getattr(Payment, f) for f in PAYMENT_FIELDS]
    out = {}
    for r in session.execute(select(*cols)):
        row = dict(zip(PAYMENT_FIELDS, r, strict=True))
        out[row["record_id"]] = row
    return out


def insert_payments(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int, now: dt.datetime
) -> None:
    if rows:
        session.execute(insert(Payment), [{**r, "run_id": run_id, "updated_at": now} for r in rows])


def update_payments(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int, now: dt.datetime
) -> None:
    if rows:
        session.execute(update(Payment), [{**r, "run_id": run_id, "updated_at": now} for r in rows])


def claim_rows(
    session: Session, milestones: Sequence[str], persons: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every claim (of ``persons`` only, when given: a person's page reads its few through the
    person index) with its lead's id and its payment's id, for reports: by lead (date, id),
    then milestone in ``milestones`` order (M1, M5, M25; not as text, where M25 < M5)."""
    rank = case({m: i for i, m in enumerate(milestones)}, value=Claim.milestone,
                else_=len(milestones))  # fmt: skip
    query = (
        select(
            Claim.person_key,
            Claim.milestone,
            Claim.lead_date,
            Claim.reached_on,
            Claim.amount,
            Claim.status,
            SourceRecord.source_pk.label("lead_id"),
            Claim.payment_id,
        )
        .join(SourceRecord, SourceRecord.id == Claim.lead_record_id)
        .order_by(Claim.lead_date, SourceRecord.source_pk, rank, Claim.person_key)
    )
    if persons is not None:
        query = query.where(Claim.person_key.in_(list(persons)))
    return [dict(r._mapping) for r in session.execute(query)]


def payment_summary(session: Session) -> list[tuple[str, str, str | None, int, float]]:
    """(status, method, reason, count, amount) of payment rows."""
    reason = Payment.detail["reason"].as_string()
    query = select(
        Payment.status, Payment.method, reason, func.count(), func.sum(Payment.amount)
    ).group_by(Payment.status, Payment.method, reason)
    return [(r[0], r[1], r[2], int(r[3]), float(r[4] or 0)) for r in session.execute(query)]


def payment_keys(session: Session, ids: Sequence[int] | None = None) -> dict[int, str]:
    """payment row id -> the payments record's payment_id (what a claim's payment_id points at);
    of the payment rows ``ids`` only, when given."""
    query = select(Payment.id, SourceRecord.source_pk).join(
        SourceRecord, SourceRecord.id == Payment.record_id
    )
    if ids is not None:
        query = query.where(Payment.id.in_(list(ids)))
    return {r[0]: r[1] for r in session.execute(query)}


def bad_claims(
    session: Session, statuses: Sequence[str], window_days: int
) -> tuple[int, list[str]]:
    """Claims breaking their own rules (status, window, payment), for `check claims`.

    The window test is done over the loaded rows: date arithmetic differs between dialects.
    """
    paid_by = {
        r[0]: r[1]
        for r in session.execute(
            select(Payment.id, Payment.claim_id).where(Payment.status == "reconciled")
        )
    }
    found = []
    for c in load_claims(session):
        what = []
        if c["status"] not in statuses:
            what.append(f"unknown status {c['status']!r}")
        reached = c["reached_on"]
        if reached is None or not c["lead_date"] <= reached < c["lead_date"] + dt.timedelta(
            days=window_days
        ):
            what.append(f"reached_on {reached} outside [{c['lead_date']}, +{window_days}d)")
        if c["status"] in ("paid", "rejected") and paid_by.get(c["payment_id"]) != c["id"]:
            what.append(f"{c['status']} without a payment reconciled to it")
        if c["status"] not in ("paid", "rejected") and c["payment_id"] is not None:
            what.append(f"{c['status']} but holds payment {c['payment_id']}")
        if what:
            found.append(f"claim {c['milestone']} of {c['person_key']}: {'; '.join(what)}")
    return len(found), found[:LIMIT]
