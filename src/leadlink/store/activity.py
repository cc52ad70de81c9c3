"""The SQL of unlinked activity: drivers with completed trips whose person has no lead and no
origin (docs/activity.md has the definitions and why).

A driver is in it when its ``drivers`` record has an active link to a live person (not retired
into another) that has no active link from a ``leads`` record, no ``origin`` row and no active
quarantine, and the driver has completed trips (> 0) dated on or before today. Its
hypothetical claim window starts on its *anchor*: the date of its best candidate lead, else its
hire date, else its first trip day, and lasts ``claim_window_days``.

Candidate leads are leads with no active link whose ``unmatched.candidates`` names the person
(unless a person rejected that pair in review), or that have an open review item for it; the
lists are read from ``candidate_pair``, their elements as rows indexed by person. The
best is the highest score, then the earliest lead, then the lead id. Everything is one query per
question: the drivers' trips are correlated lookups over one range of the trips key index each
(``windows.py``), the anchors a window function over the candidates, the summary a GROUP BY in
the database (the pages read the same rows from the summary tables, ``activity_view.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from leadlink.store.db import conflict_insert
from leadlink.store.models import (
    ActivityDaily,
    CandidatePair,
    Link,
    Origin,
    Person,
    Quarantine,
    ReviewItem,
    SourceRecord,
)
from leadlink.store.scopes import persons_in
from leadlink.store.segments import live_person
from leadlink.store.windows import (
    as_date,
    completed_trips,
    ladder_amount,
    of_driver,
    plus_days,
    trips_between,
)

# What a window is anchored on, in the order tried (web/codes.py labels them).
ANCHORS = ("candidate_lead", "hire_date", "first_trip")
OPEN, REJECTED = "open", "rejected"
CANDIDATES_SHOWN = 3


def members(persons: Sequence[str] | None = None) -> Select[Any]:
    """(record_id, driver_id, person_key, first_name, last_name, hire_date) of every driver whose
    person has no lead, no origin and no active quarantine (trips are not looked at yet);
    ``persons``: only theirs."""
    lead_link, lead = aliased(Link), aliased(SourceRecord)
    has_lead = (
        exists()
        .where(lead_link.person_key == Link.person_key, lead_link.active)
        .where(lead.id == lead_link.record_id, lead.source == "leads")
    )
    has_origin = exists().where(Origin.person_key == Link.person_key)
    quarantined = exists().where(Quarantine.person_key == Link.person_key, Quarantine.active)
    query = (
        select(
            SourceRecord.id.label("record_id"),
            SourceRecord.source_pk.label("driver_id"),
            Link.person_key.label("person_key"),
            SourceRecord.data["first_name"].as_string().label("first_name"),
            SourceRecord.data["last_name"].as_string().label("last_name"),
            SourceRecord.event_date.label("hire_date"),
        )
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .join(Person, Person.person_key == Link.person_key)
        .where(SourceRecord.source == "drivers", Person.retired_into.is_(None))
        .where(~has_lead, ~has_origin, ~quarantined)
    )
    return query if persons is None else query.where(Link.person_key.in_(persons_in(persons)))


def candidates(persons: Sequence[str] | None = None) -> Select[Any]:
    """(lead_record_id, lead_id, lead_date, person_key, rule, score, evidence, source) of every
    candidate pair: a lead with no active link and a person it was scored against. An open
    review item is the pair itself (with the engine's evidence); the unmatched row's candidate
    list (``candidate_pair``, its elements as rows) adds the pairs no open review item holds,
    except those a person rejected in review (a human said the lead is not this driver: it
    anchors no window). ``persons``: only their pairs, found on the pairs' person index (and a
    key a merge retired into one of them)."""
    lead = aliased(SourceRecord)
    unlinked = ~exists().where(Link.record_id == lead.id, Link.active)
    items: Any = ReviewItem.__table__
    pair: Any = CandidatePair.__table__
    if persons is not None:
        # Their items and pairs first, each a materialised CTE over its person index: joined
        # to the leads as plain tables, SQLite drove the query from every lead (``source``
        # index) and PostgreSQL may too without statistics. The pairs may name the persons or
        # keys a merge retired into them.
        chosen = persons_in(persons)
        keys = union_all(
            select(Person.person_key).where(Person.person_key.in_(chosen)),
            select(Person.person_key).where(Person.retired_into.in_(chosen)),
        )
        # (By person only: with the status too, SQLite read every open item.)
        items = _materialised(select(items).where(items.c.person_key.in_(chosen)), "their_items")
        pair = _materialised(select(pair).where(pair.c.person_key.in_(keys)), "their_pairs")
    # The person the verdict named, or its survivor if a merge retired it since.
    person = live_person(type_coerce(pair.c.person_key, String))
    reviewed = exists().where(
        ReviewItem.record_id == lead.id,
        ReviewItem.person_key == person,
        ReviewItem.status.in_([OPEN, REJECTED]),
    )
    review = (
        select(
            lead.id.label("lead_record_id"),
            lead.source_pk.label("lead_id"),
            lead.event_date.label("lead_date"),
            items.c.person_key.label("person_key"),
            items.c.rule.label("rule"),
            items.c.score.label("score"),
            items.c.evidence.label("evidence"),
            literal("review").label("source"),
        )
        .select_from(items)
        .join(lead, lead.id == items.c.record_id)
        .where(items.c.status == OPEN, lead.source == "leads", unlinked)
    )
    listed = (
        select(
            lead.id,
            lead.source_pk,
            lead.event_date,
            person,
            pair.c.rule,
            cast(pair.c.score, Float),
            null(),
            literal("unmatched"),
        )
        .select_from(pair)
        .join(lead, lead.id == pair.c.lead_record_id)
        .where(lead.source == "leads", unlinked, person.is_not(None), ~reviewed)
    )
    if persons is not None:
        listed = listed.where(person.in_(chosen))
    return union_all(review, listed)  # type: ignore[return-value]


def ranked_candidates(persons: Sequence[str] | None = None) -> Subquery:
    """The candidates with ``rank`` (1 = best) per person: highest score, earliest lead (a lead
    with no date last), lead id. ``persons``: only theirs."""
    pairs = candidates(persons).subquery("pairs")
    rank = func.row_number().over(
        partition_by=pairs.c.person_key,
        order_by=(pairs.c.score.desc(), pairs.c.lead_date.is_(None), pairs.c.lead_date,
                  pairs.c.lead_id),
    )  # fmt: skip
    query = select(pairs, rank.label("rank"))
    if persons is not None:
        query = query.where(pairs.c.person_key.in_(persons_in(persons)))
    return query.subquery("ranked")


MEMBER_COLUMNS = ("record_id", "driver_id", "person_key", "first_name", "last_name", "hire_date")


def with_best_candidate(persons: Sequence[str] | None = None) -> Select[Any]:
    """``members(persons)`` with ``best_date`` and ``best_lead`` (the date and record id of the
    person's best candidate lead, None without one) and ``has_candidate``, in one sort: the
    drivers and their persons' candidate pairs as one set, ranked per person by a window,
    candidates first. (A join of the drivers with the best candidates scanned every best
    candidate for every driver: SQLite indexes no CTE on the right of an outer join, and
    PostgreSQL scans a CTE for a correlated lookup.)"""
    member = members(persons).subquery("members")
    pairs = candidates(persons).subquery("pairs")
    blank: dict[str, Any] = {"first_name": String(), "last_name": String(), "hire_date": Date(),
                             "record_id": Integer(), "driver_id": String()}  # fmt: skip
    drivers = select(*(member.c[c] for c in MEMBER_COLUMNS), literal(0).label("is_candidate"),
                     null().label("score"), null().label("lead_date"), null().label("lead_id"),
                     cast(null(), Integer()).label("lead_record_id"))  # fmt: skip
    paired = select(
        *(pairs.c.person_key if c == "person_key" else cast(null(), blank[c]).label(c)
          for c in MEMBER_COLUMNS),
        literal(1), pairs.c.score, pairs.c.lead_date, pairs.c.lead_id, pairs.c.lead_record_id,
    ).where(pairs.c.person_key.in_(select(member.c.person_key)))  # fmt: skip
    both = union_all(drivers, paired).subquery("both")
    person = both.c.person_key
    order = (both.c.is_candidate.desc(), both.c.score.desc(), both.c.lead_date.is_(None),
             both.c.lead_date, both.c.lead_id)  # fmt: skip
    best = func.first_value(both.c.lead_date).over(partition_by=person, order_by=order)
    best_lead = func.first_value(both.c.lead_record_id).over(partition_by=person, order_by=order)
    ranked = select(
        *(both.c[c] for c in MEMBER_COLUMNS), both.c.is_candidate,
        best.label("best_date"), best_lead.label("best_lead"),
        (func.max(both.c.is_candidate).over(partition_by=person) > 0).label("has_candidate"),
    ).subquery("ranked_member")  # fmt: skip
    chosen = (*(ranked.c[c] for c in MEMBER_COLUMNS), ranked.c.best_date, ranked.c.best_lead,
              ranked.c.has_candidate)  # fmt: skip
    return select(*chosen).where(ranked.c.is_candidate == 0)


def _trips_of(driver_pk: Any, until: dt.date, what: Any) -> Any:
    """``what(trips column, date column)`` over the driver's trips (> 0) up to ``until``, as a
    correlated scalar subquery on the trips key index range."""
    trip = aliased(SourceRecord)
    trips = completed_trips(trip)
    return (
        select(what(trips, trip.event_date))
        .where(of_driver(trip, driver_pk), trip.event_date <= until, trips > 0)
        .scalar_subquery()
    )


def drivers_query(
    today: dt.date,
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    persons: Sequence[str] | None = None,
) -> Subquery:
    """Every driver in unlinked activity with its trips, anchor, window and what it would claim.

    Built in layers, each a materialised CTE, so every correlated lookup runs once per
    driver: the trips (first day, last day, total), then the anchor and window, then the trips
    inside the window (never past today), then the ladder over them. (As plain subqueries the
    planner inlined the layers and repeated each trips lookup for every expression reading it:
    20 s for the 6,317 drivers of the 100 k demo on SQLite.)
    """
    base = _materialised(with_best_candidate(persons), "member")
    first = _trips_of(base.c.driver_id, today, lambda _n, day: func.min(day))
    last = _trips_of(base.c.driver_id, today, lambda _n, day: func.max(day))
    total = _trips_of(base.c.driver_id, today, lambda n, _day: func.coalesce(func.sum(n), 0))
    trips = select(base, first.label("first_trip"), last.label("last_trip"),
                   total.label("trips"))  # fmt: skip
    trips = _materialised(trips, "with_trips")
    anchor = func.coalesce(trips.c.best_date, trips.c.hire_date, trips.c.first_trip)
    kind = case(
        (trips.c.best_date.is_not(None), literal(ANCHORS[0])),
        (trips.c.hire_date.is_not(None), literal(ANCHORS[1])),
        else_=literal(ANCHORS[2]),
    )
    windowed = _materialised(
        select(
            trips,
            type_coerce(anchor, Date).label("window_from"),
            kind.label("anchor"),
            plus_days(anchor, window_days).label("window_to"),
        ).where(trips.c.trips > 0),
        "windowed",
    )
    tomorrow = literal(today + dt.timedelta(days=1), Date())
    end = case((windowed.c.window_to <= tomorrow, windowed.c.window_to), else_=tomorrow)
    inside = trips_between(windowed.c.driver_id, windowed.c.window_from, end)
    counted = _materialised(select(windowed, inside.label("trips_in_window")), "counted")
    return select(
        counted,
        (counted.c.trips - counted.c.trips_in_window).label("trips_outside_window"),
        ladder_amount(counted.c.trips_in_window, ladder).label("would_claim"),
    ).subquery("activity")


def _materialised(query: Select[Any], name: str) -> Any:
    """``query`` as a CTE computed once (``AS MATERIALIZED``, SQLite 3.35+ and PostgreSQL 12+)."""
    return query.cte(name).prefix_with("MATERIALIZED")


def candidates_of(session: Session, persons: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """person_key -> its best candidate leads (at most CANDIDATES_SHOWN), best first: one
    query for a whole page of persons."""
    if not persons:
        return {}
    ranked = ranked_candidates(persons)
    c = ranked.c
    query = (
        select(c.person_key, c.lead_id, c.lead_date, c.rule, c.score, c.source, c.evidence)
        .where(c.rank <= CANDIDATES_SHOWN)
        .order_by(c.person_key, c.rank)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in session.execute(query):
        found = {"lead_id": r.lead_id, "lead_date": _date(r.lead_date), "rule": r.rule,
                 "score": round(float(r.score), 4), "source": r.source}  # fmt: skip
        if r.source == "review":
            found["evidence"] = r.evidence
        out.setdefault(r.person_key, []).append(found)
    return out


def upsert_daily(session: Session, row: dict[str, Any]) -> None:
    """The day's snapshot: inserted, or overwritten when a figure changed (an unchanged rerun
    writes nothing, not even ``updated_at``)."""
    table = ActivityDaily.__table__
    assert isinstance(table, Table)  # a mapped class's table (typed as a FromClause)
    stmt = conflict_insert(session, table).values(**row)
    figures = ("drivers", "trips", "would_claim")
    changed = or_(*(table.c[k] != stmt.excluded[k] for k in figures))
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={k: stmt.excluded[k] for k in (*figures, "updated_at")},
            where=changed,
        )
    )


def previous_daily(session: Session, before: dt.date) -> dict[str, Any] | None:
    """The newest snapshot dated before ``before``, or None."""
    row = session.scalars(
        select(ActivityDaily).where(ActivityDaily.day < before).order_by(ActivityDaily.day.desc())
    ).first()
    if row is None:
        return None
    return {"day": _date(row.day), "drivers": row.drivers, "trips": row.trips,
            "would_claim": row.would_claim}  # fmt: skip


def daily(session: Session, since: dt.date, until: dt.date) -> dict[dt.date, dict[str, Any]]:
    """Snapshots in [since, until] by day."""
    rows = session.scalars(
        select(ActivityDaily).where(ActivityDaily.day >= since, ActivityDaily.day <= until)
    )
    return {
        r.day: {"drivers": r.drivers, "trips": r.trips, "would_claim": r.would_claim} for r in rows
    }


def _date(value: Any) -> str | None:
    """A date from either dialect (SQLite may hand back text) as ``YYYY-MM-DD``."""
    day = as_date(value)
    return None if day is None else day.isoformat()
