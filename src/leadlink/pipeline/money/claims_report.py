"""What `leadlink claims` reports: claims by status and milestone, money in S/, aging of
outstanding claims, payments reconciliation, the funnel and the quarantine count."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.pipeline.money.claim_facts import MILESTONES, STATUSES
from leadlink.pipeline.money.funnel import funnel
from leadlink.settings import Settings
from leadlink.store import claim_totals as claim_sums
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
    """What `leadlink claims --json` shows: claims (filtered), payments, funnel, quarantine.
    The claims are summed in SQL; ``rows`` (with ``with_rows`` or ``person``) are read with the
    same filters, so a person's report reads that person's claims only."""
    persons = None if person is None else [person]
    with transaction(engine) as session:
        totals = claim_totals(session, settings, now=now, milestone=milestone, status=status,
                              persons=persons)  # fmt: skip
        payments = claims_store.payment_summary(session)
        quarantined = quarantine_store.count_active(session)
        rows = None
        if with_rows or person is not None:
            rows = claims_store.claim_rows(session, [m for m, _ in MILESTONES], persons,
                                           milestone=milestone, status=status)  # fmt: skip
    out: dict[str, Any] = {
        "claims": totals,
        "payments": _payments_summary(payments),
        "funnel": {k: v["leads"] for k, v in funnel(engine, settings, now=now)["stages"].items()},
        "quarantined": quarantined,
    }
    if rows is not None:
        out["rows"] = with_age(rows, settings=settings, now=now)
    return out


def aging_since(today: dt.date, window_days: int) -> list[tuple[str, dt.date | None]]:
    """Each AGING bucket with the earliest lead date it holds (None: every older one). Age =
    today - (lead_date + window) <= high  <=>  lead_date >= today - window - high; an age
    below 0 falls in the first bucket, as ``aging_bucket`` says."""
    closed = today - dt.timedelta(days=window_days)
    return [(label, None if high is None else closed - dt.timedelta(days=high))
            for label, _, high in AGING]  # fmt: skip


def claim_totals(
    session: Session,
    settings: Settings,
    *,
    now: dt.datetime,
    milestone: str | None = None,
    status: str | None = None,
    persons: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ``claims`` part of the report: counts and S/ per status and milestone, and the
    aging of outstanding claims, of the claims the filters keep, summed in SQL
    (``store.claim_totals``). The one definition of these totals: the report and a person's
    page (``persons=[key]``)."""
    groups = claim_sums.totals(session, aging_since(now.date(), settings.claim_window_days),
                               milestone=milestone, status=status, persons=persons)  # fmt: skip
    aging: dict[str, dict[str, Any]] = {label: {"count": 0, "amount": 0} for label, _, _ in AGING}
    by_status = {s: 0 for s in STATUSES}
    cents_by_status = {s: 0 for s in STATUSES}
    # Filtered to one milestone, the report is of that milestone only (the others are not
    # "0 claims": they were not asked for).
    by_milestone: dict[str, dict[str, Any]] = {
        m: {"count": 0, "amount": 0, "by_status": {s: 0 for s in STATUSES}}
        for m, _ in MILESTONES if milestone is None or m == milestone
    }
    for state, m_name, bucket, n, cents in groups:
        by_status[state] += n
        cents_by_status[state] += cents
        m = by_milestone[m_name]
        m["count"] += n
        m["amount"] += cents
        m["by_status"][state] += n
        if bucket is not None:
            aging[bucket]["count"] += n
            aging[bucket]["amount"] += cents
    for part in (*aging.values(), *by_milestone.values()):
        part["amount"] = soles(part["amount"])
    money = {f"amount_{s}": soles(cents_by_status[s]) for s in STATUSES}
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_milestone": by_milestone,
        "amount_outstanding": money["amount_generated"],
        **money,
        "aging": aging,
        "currency": "PEN",
    }


def soles(cents: int) -> float:
    """Céntimos (``store.claim_totals``'s sums) as soles."""
    return round(cents / 100, 2)


def by_lead_day(
    engine: Engine, *, milestone: str | None = None, status: str | None = None
) -> list[tuple[dt.date, str, int, int]]:
    """(lead date, status, claims, céntimos) of the claims the filters keep: the /claims
    page's weeks, one group per day and status."""
    with transaction(engine) as session:
        return claim_sums.by_lead_day(session, milestone=milestone, status=status)


def with_age(
    rows: list[dict[str, Any]], *, settings: Settings, now: dt.datetime
) -> list[dict[str, Any]]:
    """``claims_store.claim_rows``'s rows, each given its ``age_days`` (in place)."""
    for r in rows:
        payment = r.pop("payment")
        r["age_days"] = age_days(r["lead_date"], r["status"], now.date(),
                                 settings.claim_window_days)  # fmt: skip
        r["payment"] = payment
    return rows


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
