"""Unlinked activity's summary table (docs/summaries.md; the definitions are in
``store.activity`` and docs/activity.md).

``activity_driver`` holds ``drivers_query``'s rows as of one day (``money_refresh.as_of``):
written in full by the jobs that change its inputs and per person by the decisions that touch
one; read by every surface, a page being one range of its order index.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Insert, case, delete, func, insert, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from leadlink.store.activity import _date, drivers_query
from leadlink.store.db import conflict_insert
from leadlink.store.models import SourceRecord
from leadlink.store.money_tables import ActivityDay, ActivityDriver, ActivityTripDay, table_of
from leadlink.store.scopes import PERSONS, persons_in
from leadlink.store.windows import completed_trips, of_driver

COLUMNS = ("record_id", "driver_id", "person_key", "first_name", "last_name", "hire_date",
           "first_trip", "last_trip", "trips", "window_from", "window_to", "anchor",
           "trips_in_window", "trips_outside_window", "would_claim", "has_candidate",
           "best_lead")  # fmt: skip
PAGE_COLUMNS = ("driver_id", "person_key", "first_name", "last_name", "hire_date",
                "first_trip", "last_trip", "trips", "window_from", "window_to", "anchor",
                "trips_in_window", "trips_outside_window", "would_claim")  # fmt: skip


def live(
    today: dt.date, window_days: int, ladder: Sequence[tuple[str, int, float]],
    persons: Sequence[str] | None = None,
) -> Any:  # fmt: skip
    """``COLUMNS`` of the drivers in unlinked activity computed now (``persons``: theirs)."""
    activity = drivers_query(today, window_days, ladder, persons)
    return select(*(activity.c[c] for c in COLUMNS))


def refresh(
    session: Session,
    today: dt.date,
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    *,
    persons: Collection[str] | None = None,
    leads: Collection[int] = (),
) -> int:
    """Rewrite the rows of ``persons`` and of the persons whose best candidate is one of
    ``leads`` (lead record ids); everything when ``persons`` is None. Returns the rows stored
    (in full) or the persons looked at (in part)."""
    if persons is None:
        session.execute(delete(ActivityDay))
        session.execute(delete(ActivityTripDay))
        session.execute(delete(ActivityDriver))
        rows = live(today, window_days, ladder)
        session.execute(insert(table_of(ActivityDriver)).from_select(list(COLUMNS), rows))
        session.execute(insert(table_of(ActivityTripDay)).from_select(
            ["record_id", "day", "trips"], _trip_days(today, None)))  # fmt: skip
        session.execute(insert(table_of(ActivityDay)).from_select(
            ["day", "drivers", "trips"], _per_day(None)))  # fmt: skip
        return int(session.scalar(select(func.count()).select_from(ActivityDriver)) or 0)
    scope = set(persons)
    if leads:
        scope |= set(session.scalars(
            select(ActivityDriver.person_key).where(ActivityDriver.best_lead.in_(sorted(leads)))
        ))  # fmt: skip
    if not scope:
        return 0
    chosen = sorted(scope)
    theirs = select(ActivityDriver.record_id).where(ActivityDriver.person_key.in_(chosen))
    _add_days(session, _per_day(theirs), -1)
    session.execute(delete(ActivityTripDay).where(ActivityTripDay.record_id.in_(theirs)))
    session.execute(delete(ActivityDriver).where(ActivityDriver.person_key.in_(chosen)))
    scoped = {PERSONS: chosen}
    session.execute(_scoped_insert(today, window_days, tuple(ladder)), scoped)
    session.execute(_scoped_trip_days(today), scoped)
    _add_days(session, _per_day(theirs), +1)
    session.execute(delete(ActivityDay).where(ActivityDay.drivers == 0))
    return len(chosen)


@functools.lru_cache(maxsize=8)
def _scoped_insert(
    today: dt.date, window_days: int, ladder: tuple[tuple[str, int, float], ...]
) -> Insert:
    """The insert of some persons' rows (parameter ``PERSONS``), built once per day and
    configuration: building it took several times what running it for a decision's persons
    does."""
    rows = live(today, window_days, ladder, ())
    return insert(table_of(ActivityDriver)).from_select(list(COLUMNS), rows)


@functools.lru_cache(maxsize=8)
def _scoped_trip_days(today: dt.date) -> Insert:
    return insert(table_of(ActivityTripDay)).from_select(
        ["record_id", "day", "trips"], _trip_days(today, ()))  # fmt: skip


def _per_day(records: Any) -> Any:
    """(day, drivers, trips) of the stored trip days (``records``: of those record ids)."""
    d = ActivityTripDay
    query = select(d.day, func.count(), func.sum(d.trips)).group_by(d.day)
    return query if records is None else query.where(d.record_id.in_(records))


def _add_days(session: Session, days: Any, sign: int) -> None:
    """Add (``sign`` +1) or take away (-1) ``days``' figures to ``activity_day``: a decision
    moves the trend by its persons' days only."""
    c = list(days.subquery("days").c)
    # The WHERE is SQLite's: an upsert's SELECT needs one to parse ON CONFLICT unambiguously.
    signed = select(c[0], sign * c[1], sign * c[2]).where(c[0].is_not(None))
    table = table_of(ActivityDay)
    stmt = conflict_insert(session, table).from_select(["day", "drivers", "trips"], signed)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["day"],
        set_={"drivers": table.c.drivers + stmt.excluded.drivers,
              "trips": table.c.trips + stmt.excluded.trips},
    ))  # fmt: skip


TREND_DAYS = 366  # the longest trend a page asks for (pipeline.money.activity.MAX_DAYS)


def _trip_days(today: dt.date, persons: Sequence[str] | None) -> Any:
    """(record_id, day, trips) of the stored drivers' trips (> 0) in the year up to today."""
    trip = aliased(SourceRecord)
    trips = completed_trips(trip)
    since = today - dt.timedelta(days=TREND_DAYS - 1)
    query = (
        select(ActivityDriver.record_id, trip.event_date, func.sum(trips))
        .join(trip, of_driver(trip, ActivityDriver.driver_id))
        .where(trip.event_date >= since, trip.event_date <= today, trips > 0)
        .group_by(ActivityDriver.record_id, trip.event_date)
    )
    if persons is None:
        return query
    return query.where(ActivityDriver.person_key.in_(persons_in(persons)))


def trend(session: Session, since: dt.date, until: dt.date) -> dict[dt.date, tuple[int, int]]:
    """day -> (drivers in unlinked activity with trips that day, their trips) in [since, until]
    (days with none are absent), from the stored per-day figures."""
    d = ActivityDay
    query = select(d.day, d.drivers, d.trips).where(d.day >= since, d.day <= until)
    out = {}
    for day, drivers, n in session.execute(query):
        out[dt.date.fromisoformat(str(day))] = (int(drivers), int(n))  # text or date alike
    return out


def _totals(activity: Subquery) -> list[Any]:
    """The KPI's aggregates over ``activity``, in ``_summary``'s order."""
    c = activity.c
    return [
        func.count(), func.sum(c.trips), func.sum(c.trips_in_window),
        func.sum(c.trips_outside_window), func.sum(c.would_claim),
        func.sum(case((c.has_candidate, 1), else_=0)), func.min(c.first_trip),
    ]  # fmt: skip


def _summary(values: Sequence[Any]) -> dict[str, Any]:
    drivers, trips, inside, outside, claim, with_candidates, since = values
    return {
        "drivers": int(drivers or 0),
        "trips": int(trips or 0),
        "trips_in_window": int(inside or 0),
        "trips_outside_window": int(outside or 0),
        "would_claim": round(float(claim or 0.0), 2),
        "with_candidates": int(with_candidates or 0),
        "since": _date(since),
    }


def _stored() -> Subquery:
    return select(ActivityDriver.__table__).subquery("activity")


def summary(session: Session) -> dict[str, Any]:
    """Totals over every driver in unlinked activity."""
    return _summary(session.execute(select(*_totals(_stored()))).one())


# The orders of a page, each ending on the unique driver id: ix_activity_driver_order read
# forwards or backwards. Other columns (trips in the window, first trip) would each need an
# index of their own to stay one range at every depth.
SORTS: dict[str, tuple[Any, ...]] = {
    "-would_claim": (ActivityDriver.would_claim.desc(), ActivityDriver.first_trip,
                     ActivityDriver.driver_id),
    "would_claim": (ActivityDriver.would_claim, ActivityDriver.first_trip.desc(),
                    ActivityDriver.driver_id.desc()),
}  # fmt: skip


def facets(session: Session, anchor: str | None = None) -> dict[str, dict[str, int]]:
    """Drivers per window anchor and per "has a candidate lead" under the filter: one GROUP
    BY over the table (as ``summary`` reads it all), summed per column, most drivers first."""
    c = ActivityDriver
    query = select(c.anchor, c.has_candidate, func.count()).group_by(c.anchor, c.has_candidate)
    if anchor is not None:
        query = query.where(c.anchor == anchor)
    out: dict[str, dict[str, int]] = {"anchor": {}, "has_candidate": {}}
    for value, has, n in session.execute(query):
        for column, key in (("anchor", str(value)), ("has_candidate", "true" if has else "false")):
            out[column][key] = out[column].get(key, 0) + int(n)
    return {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for k, v in out.items()}


def page(
    session: Session, *, limit: int, offset: int, sort: str = "-would_claim",
    anchor: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """One page of drivers (of one window ``anchor`` when given) in ``sort`` order (a key of
    ``SORTS``; by default most money first, then the longest running, then by driver id)."""
    c = ActivityDriver
    query = select(*(getattr(c, name) for name in PAGE_COLUMNS))
    if anchor is not None:
        query = query.where(c.anchor == anchor)
    query = query.order_by(*SORTS[sort]).limit(limit).offset(offset)
    out = []
    for row in session.execute(query):
        r = dict(zip(PAGE_COLUMNS, row, strict=True))
        for key in ("hire_date", "first_trip", "last_trip", "window_from", "window_to"):
            r[key] = _date(r[key])
        r["would_claim"] = round(float(r["would_claim"]), 2)
        out.append(r)
    return out


def differences(
    session: Session, today: dt.date, window_days: int, ladder: Sequence[tuple[str, int, float]],
    sample: int = 5,
) -> list[str]:  # fmt: skip
    """Driver ids whose stored row differs from what ``drivers_query`` computes now (missing,
    extra or changed), at most ``sample``: the summary table's invariant (``check summaries``)."""
    now_rows = live(today, window_days, ladder).subquery("live")
    stored = select(*(ActivityDriver.__table__.c[c] for c in COLUMNS)).subquery("stored")
    found: set[str] = set()
    for one, other in ((now_rows, stored), (stored, now_rows)):
        only = select(*(one.c[c] for c in COLUMNS)).except_(select(*(other.c[c] for c in COLUMNS)))
        diff = only.subquery("diff")
        found |= {str(d) for d in session.scalars(select(diff.c.driver_id).limit(sample))}
    days = _trip_days(today, None).subquery("live_days")
    kept = select(ActivityTripDay.record_id, ActivityTripDay.day, ActivityTripDay.trips)
    for one, other in ((select(days), kept), (kept, select(days))):
        diff = one.except_(other).subquery("diff")
        found |= {f"trip days of record {r}" for r in session.scalars(
            select(list(diff.c)[0]).limit(sample))}  # fmt: skip
    summed = select(ActivityDay.day, ActivityDay.drivers, ActivityDay.trips)
    for one, other in ((_per_day(None), summed), (summed, _per_day(None))):
        diff = one.except_(other).subquery("diff")
        found |= {f"trend of day {_date(r)}" for r in session.scalars(
            select(list(diff.c)[0]).limit(sample))}  # fmt: skip
    return sorted(found)[:sample]
