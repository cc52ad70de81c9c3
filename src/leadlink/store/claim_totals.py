"""Claims summed in SQL, for the claims report, the /claims page and a person's page: counts
and money per (status, milestone, aging bucket), and per (lead day, status). A handful of
groups come back whatever the number of claims; no claim row is read into Python.

Money is summed in whole céntimos (``ROUND(amount * 100)`` as an integer): an integer sum is
exact and the same on every dialect and in any order, where a float sum is neither (SQLite
and PostgreSQL add in their own order; PostgreSQL's ``sum`` of an integer is ``numeric``).
Claim amounts are soles to the céntimo, so this is the Python sum of the amounts rounded to 2.

The aging bucket of an outstanding claim depends on its lead date only; the caller passes each
bucket's earliest lead date (computed in Python from today and the window), so the SQL
compares dates and does no date arithmetic, which differs per dialect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal, select
from sqlalchemy.orm import Session

from leadlink.store.models import Claim

OUTSTANDING = "generated"  # the status aged in buckets


def cents(amount: Any) -> ColumnElement[int]:
    """A soles amount as whole céntimos."""
    return cast(func.round(amount * literal(100)), Integer)


def _kept(
    milestone: str | None, status: str | None, persons: Sequence[str] | None
) -> list[ColumnElement[bool]]:
    """The report's filters as conditions (none: every claim)."""
    kept = []
    if milestone is not None:
        kept.append(Claim.milestone == milestone)
    if status is not None:
        kept.append(Claim.status == status)
    if persons is not None:
        kept.append(Claim.person_key.in_(list(persons)))
    return kept


def totals(
    session: Session,
    aging: Sequence[tuple[str, dt.date | None]],
    *,
    milestone: str | None = None,
    status: str | None = None,
    persons: Sequence[str] | None = None,
) -> list[tuple[str, str, str | None, int, int]]:
    """(status, milestone, aging bucket, claims, céntimos) of the claims the filters keep.
    The bucket is None but for outstanding claims. ``aging`` is the buckets, youngest first,
    each with the earliest lead date it holds; the last one's (None) holds every older one."""
    whens = [(Claim.lead_date >= since, literal(label)) for label, since in aging if since]
    oldest = literal(aging[-1][0])
    bucket = case((Claim.status == OUTSTANDING, case(*whens, else_=oldest) if whens else oldest))
    # Grouped outside: PostgreSQL binds each parameter of the CASE apart in SELECT and in
    # GROUP BY, and would not see them as the same expression.
    inner = (
        select(Claim.status, Claim.milestone, bucket.label("bucket"),
               cents(Claim.amount).label("cents"))
        .where(*_kept(milestone, status, persons))
        .subquery()
    )  # fmt: skip
    query = select(
        inner.c.status, inner.c.milestone, inner.c.bucket, func.count(), func.sum(inner.c.cents)
    ).group_by(inner.c.status, inner.c.milestone, inner.c.bucket)
    return [(r[0], r[1], r[2], int(r[3]), int(r[4] or 0)) for r in session.execute(query)]


def by_lead_day(
    session: Session, *, milestone: str | None = None, status: str | None = None
) -> list[tuple[dt.date, str, int, int]]:
    """(lead date, status, claims, céntimos) of the claims the filters keep, by lead date: the
    /claims page folds the days into weeks (one row per day and status, not per claim)."""
    query = (
        select(Claim.lead_date, Claim.status, func.count(), func.sum(cents(Claim.amount)))
        .where(*_kept(milestone, status, None))
        .group_by(Claim.lead_date, Claim.status)
        .order_by(Claim.lead_date, Claim.status)
    )
    return [(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in session.execute(query)]
