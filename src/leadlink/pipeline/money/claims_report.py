"""What `leadlink claims` reports: claims by status and milestone, money in S/, aging of
outstanding claims, payments reconciliation, the funnel and the quarantine count."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.money.claim_facts import MILESTONES, STATUSES
from leadlink.pipeline.money.funnel import funnel
from leadlink.settings import Settings
from leadlink.store import claims as claims_store
from leadlink.store import listing_ops
from leadlink.store import quarantine as quarantine_store
from leadlink.store.db import transaction
from leadlink.store.listing import Window

AGING = (("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), (">30", 31, None))


def aging_bucket(days: int) -> str:
    for label, low, high in AGING:
        if days >= low and (high is None or days <= high):
            return label
    return AGING[0][0]  # a claim cannot be outstanding before its window closed


def age_days(lead_date: dt.date, status: str, today: dt.date, window_days: int) -> int | None:
    """Days since the claim's window closed (0 before), None while it is only expected."""
    age = (today - (lead_date + dt.timedelta(days=window_days))).days
    return max(age, 0) if status != "expected" else None


def claim_list(
    engine: Engine,
    settings: Settings,
    filters: listing_ops.ClaimFilter,
    window: Window,
    *,
    now: dt.datetime,
    sort: str = "-reached_on",
) -> tuple[int, list[dict[str, Any]]]:
    """One page of claims in ``sort`` order, each with its ``age_days``: ``GET /api/claims``'s
    rows and the /claims page's table alike."""
    total, rows = listing_ops.claims(engine, filters, window, sort)
    for r in rows:
        r["age_days"] = age_days(dt.date.fromisoformat(r["lead_date"]), r["status"], now.date(),
                                 settings.claim_window_days)  # fmt: skip
    return total, rows


def report(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    milestone: str | None = None,
    status: str | None = None,
    person: str | None = None,
    with_rows: bool = False,
) -> dict[str, Any]:
    """What `leadlink claims --json` shows: claims (filtered), payments, funnel, quarantine."""
    with transaction(engine) as session:
        rows = claims_store.claim_rows(session, [m for m, _ in MILESTONES])
        payments = claims_store.payment_summary(session)
        quarantined = quarantine_store.count_active(session)
        paid_by = claims_store.payment_keys(session)
    rows = [
        r
        for r in rows
        if (milestone is None or r["milestone"] == milestone)
        and (status is None or r["status"] == status)
        and (person is None or r["person_key"] == person)
    ]
    totals = claim_totals(rows, paid_by, settings=settings, now=now, milestone=milestone)
    out: dict[str, Any] = {
        "claims": totals,
        "payments": _payments_summary(payments),
        "funnel": {k: v["leads"] for k, v in funnel(engine, settings, now=now)["stages"].items()},
        "quarantined": quarantined,
    }
    if with_rows or person is not None:
        out["rows"] = rows
    return out


def claim_totals(
    rows: list[dict[str, Any]],
    paid_by: dict[int, str],
    *,
    settings: Settings,
    now: dt.datetime,
    milestone: str | None = None,
) -> dict[str, Any]:
    """The ``claims`` part of the report over ``rows`` (``claims_store.claim_rows``): counts
    and S/ per status and milestone, and the aging of outstanding claims. Each row gets its
    ``age_days`` and its ``payment`` (the payment_id, from ``paid_by``) in place of the
    payment row's id. The one definition of these totals: the report and a person's page."""
    window = dt.timedelta(days=settings.claim_window_days)
    aging: dict[str, dict[str, Any]] = {label: {"count": 0, "amount": 0.0} for label, _, _ in AGING}
    by_status = {s: 0 for s in STATUSES}
    amount_by_status = {s: 0.0 for s in STATUSES}
    # Filtered to one milestone, the report is of that milestone only (the others are not
    # "0 claims": they were not asked for).
    by_milestone: dict[str, dict[str, Any]] = {
        m: {"count": 0, "amount": 0.0, "by_status": {s: 0 for s in STATUSES}}
        for m, _ in MILESTONES if milestone is None or m == milestone
    }
    for r in rows:
        by_status[r["status"]] += 1
        amount_by_status[r["status"]] += r["amount"]
        m = by_milestone[r["milestone"]]
        m["count"] += 1
        m["amount"] += r["amount"]
        m["by_status"][r["status"]] += 1
        age = (now.date() - (r["lead_date"] + window)).days
        r["age_days"] = max(age, 0) if r["status"] != "expected" else None
        if r["status"] == "generated":
            bucket = aging[aging_bucket(age)]
            bucket["count"] += 1
            bucket["amount"] += r["amount"]
        r["payment"] = paid_by.get(r.pop("payment_id"))
    for part in (*aging.values(), *by_milestone.values()):
        part["amount"] = round(float(part["amount"]), 2)
    money = {f"amount_{s}": round(amount_by_status[s], 2) for s in STATUSES}
    return {
        "total": len(rows),
        "by_status": by_status,
        "by_milestone": by_milestone,
        "amount_outstanding": money["amount_generated"],
        **money,
        "aging": aging,
        "currency": "PEN",
    }


def _payments_summary(rows: list[tuple[str, str, str | None, int, float]]) -> dict[str, Any]:
    reconciled = sum(n for s, _, _, n, _ in rows if s == "reconciled")
    unreconciled = sum(n for s, _, _, n, _ in rows if s != "reconciled")
    by_method: dict[str, int] = defaultdict(int)
    by_reason: dict[str, int] = defaultdict(int)
    for s, method, reason, n, _ in rows:
        if s == "reconciled":
            by_method[method] += n
        else:
            by_reason[reason or "UNKNOWN"] += n
    total = reconciled + unreconciled
    return {
        "total": total,
        "reconciled": reconciled,
        "unreconciled": unreconciled,
        "by_method": dict(sorted(by_method.items())),
        "unreconciled_by_reason": dict(sorted(by_reason.items())),
        "reconciliation_rate": round(reconciled / total, 4) if total else None,
        "amount_received": round(sum(a for s, _, _, _, a in rows if s == "reconciled"), 2),
    }
