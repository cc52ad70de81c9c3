"""A store of claims written directly (no pipeline): persons, their leads, claims of every
status and milestone with lead dates spread over every aging bucket, amounts with céntimos,
and the payments reconciled to the paid and rejected ones. For the SQL totals and the claims
check, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, insert

from leadlink.store.models import Claim, Payment, Person, SourceRecord

TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 12, 0, 0)
WINDOW = 14
STAMP = dt.datetime(2026, 11, 1, 6, 0, 0)
MILESTONES = ("M1", "M5", "M25")
STATUSES = ("expected", "generated", "paid", "rejected", "expired")
# Ages (today - window close) hitting every bucket and its edges, and an age below 0.
AGES = (-3, 0, 7, 8, 14, 15, 30, 31, 45)
AMOUNTS = {"M1": 25.15, "M5": 35.1, "M25": 100.0}


def persons_of(n: int) -> list[str]:
    return [f"p{i:03d}" for i in range(n)]


def build(engine: Engine) -> list[dict[str, Any]]:
    """Writes the store; returns the claims as written (each with its ``id``)."""
    keys = persons_of(len(AGES) * len(STATUSES))
    records, claims, payments = [], [], []
    rid = 0
    for i, key in enumerate(keys):
        age, status = AGES[i % len(AGES)], STATUSES[i % len(STATUSES)]
        lead_date = TODAY - dt.timedelta(days=WINDOW + age)
        rid += 1
        lead_id = rid
        records.append(_record(rid, "leads", f"L{i:03d}", lead_date))
        # Person i has the first 1 + i % 3 milestones: every milestone, fewer for some.
        for j, milestone in enumerate(MILESTONES[: 1 + i % 3]):
            cid = len(claims) + 1
            claim = {"id": cid, "person_key": key, "milestone": milestone,
                     "lead_record_id": lead_id, "lead_date": lead_date,
                     "reached_on": lead_date + dt.timedelta(days=j * 4),
                     "amount": AMOUNTS[milestone] + 0.05 * (i % 4), "status": status,
                     "payment_id": None}  # fmt: skip
            if status in ("paid", "rejected"):
                rid += 1
                records.append(_record(rid, "payments", f"P{cid:04d}", lead_date))
                pid = len(payments) + 1
                payments.append({"id": pid, "record_id": rid, "claim_id": cid, "person_key": key,
                                 "milestone": milestone, "amount": claim["amount"],
                                 "paid_at": lead_date, "method": "driver_id",
                                 "status": "reconciled", "detail": {},
                                 "updated_at": STAMP})  # fmt: skip
                claim["payment_id"] = pid
            claims.append(claim)
    with engine.begin() as conn:
        conn.execute(insert(Person), [{"person_key": k, "created_at": STAMP} for k in keys])
        conn.execute(insert(SourceRecord), records)
        conn.execute(insert(Claim), [{**c, "created_at": STAMP, "updated_at": STAMP}
                                     for c in claims])  # fmt: skip
        conn.execute(insert(Payment), payments)
    return claims


def _record(rid: int, source: str, pk: str, day: dt.date) -> dict[str, Any]:
    return {"id": rid, "source": source, "source_pk": pk, "data": {}, "content_hash": pk,
            "event_date": day, "ingested_at": STAMP, "updated_at": STAMP}  # fmt: skip
