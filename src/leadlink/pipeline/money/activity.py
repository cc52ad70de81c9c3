"""Unlinked activity: drivers with completed trips whose person has no lead and no origin, the
money the partner may be owed and cannot claim (docs/activity.md).

One service feeds every surface (``leadlink activity``, ``GET /api/activity``, ``/activity``,
the overview, the funnel, ``/metrics``, ``demo``), so they show the same numbers. The SQL and
the definitions live in ``leadlink.store.activity``; this module owns the transaction, picks
the claim ladder from the settings and shapes the answer. The alerts evaluation records the
daily snapshot (``record_snapshot``) in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import UsageError
from leadlink.pipeline.summaries import ensure, freshness
from leadlink.settings import Settings
from leadlink.store import activity as activity_store
from leadlink.store import activity_view
from leadlink.store.db import transaction

ANCHORS = activity_store.ANCHORS
MAX_DAYS = 366


def summary_in(session: Session) -> dict[str, Any]:
    """The KPI's totals in the caller's transaction (the funnel, the alerts), from the summary
    table (the caller ``ensure``s it first)."""
    return activity_view.summary(session)


def unlinked_activity(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    limit: int = 50,
    offset: int = 0,
    days: int = 30,
    sort: str = "-would_claim",
    anchor: str | None = None,
) -> dict[str, Any]:
    """``{"as_of", "summary", "drivers", "total", "limit", "offset", "trend", "sort",
    "filters", "facets"}``.

    ``drivers`` is one page, most would-claim money first (then the earliest first trip, then
    the driver id), each with up to three candidate leads; ``trend`` has, for each of the last
    ``days`` days (today included), the KPI drivers with trips that day and their trips, and
    the day's snapshot when one was recorded. ``sort`` is a key of ``activity_view.SORTS``;
    ``anchor`` keeps the drivers whose window is anchored so (``total`` then counts them;
    ``summary`` always covers every driver); ``facets`` count drivers per anchor and per
    having a candidate lead, under the filter.
    """
    if sort not in activity_view.SORTS:
        raise UsageError("unknown sort {sort!r}; one of: {known}", code="sort_unknown",
                         sort=sort, known=", ".join(activity_view.SORTS))
    if anchor is not None and anchor not in ANCHORS:
        raise UsageError("unknown anchor {anchor!r}; one of: {known}", code="anchor_unknown",
                         anchor=anchor, known=", ".join(ANCHORS))
    if limit < 0 or offset < 0:
        raise UsageError("--limit and --offset must not be negative", code="page_negative")
    if not 1 <= days <= MAX_DAYS:
        raise UsageError("--days must be between 1 and {n}", code="days_out_of_range", n=MAX_DAYS)
    today = now.date()
    since = today - dt.timedelta(days=days - 1)
    ensure(engine, settings, now)
    with transaction(engine) as session:
        totals = activity_view.summary(session)
        rows = activity_view.page(session, limit=limit, offset=offset, sort=sort, anchor=anchor)
        facets = activity_view.facets(session, anchor)
        fresh = freshness(session).get("activity")
        found = activity_store.candidates_of(session, sorted({r["person_key"] for r in rows}))
        per_day = activity_view.trend(session, since, today)
        snapshots = activity_store.daily(session, since, today)
    drivers = [_driver(r, found.get(r["person_key"], [])) for r in rows]
    return {
        "as_of": today.isoformat(),
        "claim_window_days": settings.claim_window_days,
        "summary": totals,
        "drivers": drivers,
        "total": totals["drivers"] if anchor is None else sum(facets["anchor"].values()),
        "limit": limit,
        "offset": offset,
        "trend": _trend(since, days, per_day, snapshots, totals["drivers"]),
        "summary_table": fresh,
        "sort": sort,
        "filters": {"anchor": anchor},
        "facets": facets,
    }


def _driver(row: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = row.pop("first_name") or "", row.pop("last_name") or ""
    return {**row, "name": f"{first} {last}".strip(), "candidates": candidates}


def _trend(
    since: dt.date,
    days: int,
    per_day: dict[dt.date, tuple[int, int]],
    snapshots: dict[dt.date, dict[str, Any]],
    current: int,
) -> dict[str, Any]:
    """Every day of the window, a day with no trips at zero (a loop over days, not rows)."""
    out = []
    for i in range(days):
        day = since + dt.timedelta(days=i)
        drivers, trips = per_day.get(day, (0, 0))
        out.append({"day": day.isoformat(), "drivers": drivers, "trips": trips,
                    "snapshot": snapshots.get(day)})  # fmt: skip
    return {"days": out, "current": current}


def record_snapshot(
    session: Session, settings: Settings, *, now: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    """Write today's snapshot (drivers, trips in window, would claim) in the caller's
    transaction; return (today's summary, the previous snapshot or None, a few driver ids:
    the ones with the most would-claim money)."""
    today = now.date()
    totals = activity_view.summary(session)
    top = activity_view.page(session, limit=5, offset=0)
    activity_store.upsert_daily(session, {
        "day": today, "drivers": totals["drivers"], "trips": totals["trips_in_window"],
        "would_claim": totals["would_claim"], "updated_at": now,
    })  # fmt: skip
    sample = [r["driver_id"] for r in top]
    return totals, activity_store.previous_daily(session, today), sample


def figure(engine: Engine, settings: Settings, *, now: dt.datetime) -> dict[str, Any]:
    """``{"drivers", "would_claim"}``: the KPI in two numbers (overview, demo, /metrics)."""
    ensure(engine, settings, now)
    with transaction(engine) as session:
        totals = summary_in(session)
    return {"drivers": totals["drivers"], "would_claim": totals["would_claim"]}
