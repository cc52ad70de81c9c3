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

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Claim, Link, Payment, SourceRecord
from leadlink.store.windows import plus_days

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
    session: Session,
    milestones: Sequence[str],
    persons: Sequence[str] | None = None,
    *,
    milestone: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The claims (of ``persons`` only, when given: a person's page reads its few through the
    person index; of ``milestone`` and ``status`` only, when given) with their lead's id and,
    as ``payment``, the payment_id of the payments record reconciled to them, for reports: by
    lead (date, id), then milestone in ``milestones`` order (M1, M5, M25; not as text, where
    M25 < M5)."""
    rank = case({m: i for i, m in enumerate(milestones)}, value=Claim.milestone,
                else_=len(milestones))  # fmt: skip
    paid = aliased(SourceRecord)
    query = (
        select(
            Claim.person_key,
            Claim.milestone,
            Claim.lead_date,
            Claim.reached_on,
            Claim.amount,
            Claim.status,
            SourceRecord.source_pk.label("lead_id"),
            paid.source_pk.label("payment"),
        )
        .join(SourceRecord, SourceRecord.id == Claim.lead_record_id)
        .outerjoin(Payment, Payment.id == Claim.payment_id)
        .outerjoin(paid, paid.id == Payment.record_id)
        .order_by(Claim.lead_date, SourceRecord.source_pk, rank, Claim.person_key)
    )
    if persons is not None:
        query = query.where(Claim.person_key.in_(list(persons)))
    if milestone is not None:
        query = query.where(Claim.milestone == milestone)
    if status is not None:
        query = query.where(Claim.status == status)
    return [dict(r._mapping) for r in session.execute(query)]


def payment_summary(session: Session) -> list[tuple[str, str, str | None, int, float]]:
    """(status, method, reason, count, amount) of payment rows."""
    reason = Payment.detail["reason"].as_string()
    query = select(
        Payment.status, Payment.method, reason, func.count(), func.sum(Payment.amount)
    ).group_by(Payment.status, Payment.method, reason)
    return [(r[0], r[1], r[2], int(r[3]), float(r[4] or 0)) for r in session.execute(query)]


def bad_claims(
    session: Session, statuses: Sequence[str], window_days: int
) -> tuple[int, list[str]]:
    """Claims breaking their own rules (status, window, payment), for `check claims`: the
    rules are SQL conditions, counted in one query and the first ``LIMIT`` (by id) described
    from their flags, so no claim row but those examples is read."""
    backer = aliased(Payment)  # the reconciled payment row pointing back at the claim
    settled = Claim.status.in_(["paid", "rejected"])
    rules = {
        "unknown": Claim.status.not_in(list(statuses)),
        "outside": or_(
            Claim.reached_on.is_(None),
            Claim.reached_on < Claim.lead_date,
            Claim.reached_on >= plus_days(Claim.lead_date, window_days),
        ),
        "unbacked": and_(settled, backer.id.is_(None)),
        "holding": and_(~settled, Claim.payment_id.is_not(None)),
    }
    broken = or_(*rules.values())
    joined = (
        select(Claim.id)
        .outerjoin(backer, and_(backer.id == Claim.payment_id, backer.status == "reconciled",
                                backer.claim_id == Claim.id))  # fmt: skip
        .where(broken)
    )
    n = session.execute(select(func.count()).select_from(joined.subquery())).scalar_one()
    flags = [case((rule, True), else_=False).label(name) for name, rule in rules.items()]
    examples = joined.with_only_columns(
        Claim.milestone, Claim.person_key, Claim.status, Claim.lead_date, Claim.reached_on,
        Claim.payment_id, *flags,
    ).order_by(Claim.id).limit(LIMIT)  # fmt: skip
    found = []
    for c in session.execute(examples):
        what = []
        if c.unknown:
            what.append(f"unknown status {c.status!r}")
        if c.outside:
            what.append(f"reached_on {c.reached_on} outside [{c.lead_date}, +{window_days}d)")
        if c.unbacked:
            what.append(f"{c.status} without a payment reconciled to it")
        if c.holding:
            what.append(f"{c.status} but holds payment {c.payment_id}")
        found.append(f"claim {c.milestone} of {c.person_key}: {'; '.join(what)}")
    return int(n), found
