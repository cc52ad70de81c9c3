"""Each person's claim window in SQL: the earliest lead, the trips inside its window, and the
day each milestone is reached (docs/claims.md), for the claims job and the funnel.

A person's window is ``[lead_date, lead_date + window_days)`` of its earliest dated lead
(by date, then record id); its trips are those of every `drivers` record linked to it, up to
today, found through the trips key index (``windows.of_driver_between``: the range of the
window's days per driver, never a scan of every trip). Milestone Mk is reached on the first
day the running total of the window's trips reaches k. Persons in quarantine have no window
(they claim nothing).

Computed by one query with window functions (``ROW_NUMBER``, a running ``SUM``), so the cost
is the anchored persons' trip days, and nothing is loaded into Python per trip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Claim, Link, Quarantine, SourceRecord
from leadlink.store.scopes import persons_in, records_in
from leadlink.store.windows import as_date, completed_trips, of_driver_between, plus_days


def _quarantined(person_key: Any) -> ColumnElement[bool]:
    return exists().where(Quarantine.active, Quarantine.person_key == person_key)


def anchors(persons: Collection[str] | None = None) -> Subquery:
    """(person_key, record_id, lead_date): each person's earliest dated, actively linked lead
    (of ``persons`` only, an expanding parameter, when given)."""
    ranked = (
        select(
            Link.person_key,
            SourceRecord.id.label("record_id"),
            SourceRecord.event_date.label("lead_date"),
            func.row_number()
            .over(partition_by=Link.person_key, order_by=(SourceRecord.event_date, SourceRecord.id))
            .label("rank"),
        )
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source == "leads", SourceRecord.event_date.is_not(None))
    )
    if persons is not None:
        ranked = ranked.where(Link.person_key.in_(persons_in(persons)))
    ranked_sq = ranked.subquery("ranked")
    return (
        select(ranked_sq.c.person_key, ranked_sq.c.record_id, ranked_sq.c.lead_date)
        .where(ranked_sq.c.rank == 1)
        .subquery("anchor")
    )


def reached(
    today: dt.date,
    window_days: int,
    milestones: Sequence[tuple[str, int]],
    persons: Collection[str] | None = None,
) -> Subquery:
    """(person_key, record_id, lead_date, one day column per milestone): the anchored persons
    (of ``persons`` only, when given) out of quarantine whose window holds at least one trip;
    a milestone's column is the day it is reached, NULL when the window's trips do not reach
    it."""
    anchor = anchors(persons)
    driver, trip = aliased(SourceRecord), aliased(SourceRecord)
    trips = completed_trips(trip)
    # The anchor's columns ride along the grouping, so no join back to it is needed (SQLite
    # would join the two derived tables without an index: persons x persons).
    anchored = (anchor.c.person_key, anchor.c.record_id, anchor.c.lead_date)
    per_day = (
        select(*anchored, trip.event_date.label("day"), func.sum(trips).label("n"))
        .select_from(anchor)
        .join(Link, and_(Link.person_key == anchor.c.person_key, Link.active))
        .join(driver, and_(driver.id == Link.record_id, driver.source == "drivers"))
        .join(trip, of_driver_between(trip, driver.source_pk, anchor.c.lead_date,
                                      plus_days(anchor.c.lead_date, window_days)))  # fmt: skip
        .where(~_quarantined(anchor.c.person_key), trip.event_date <= today, trips > 0)
        .group_by(*anchored, trip.event_date)
        .subquery("per_day")
    )
    running = select(
        per_day.c.person_key,
        per_day.c.record_id,
        per_day.c.lead_date,
        per_day.c.day,
        func.sum(per_day.c.n)
        .over(partition_by=per_day.c.person_key, order_by=per_day.c.day)
        .label("total"),
    ).subquery("running")
    days = [
        func.min(case((running.c.total >= need, running.c.day))).label(name)
        for name, need in milestones
    ]
    keys = (running.c.person_key, running.c.record_id, running.c.lead_date)
    return select(*keys, *days).group_by(*keys).subquery("reached")


def reached_rows(
    session: Session, today: dt.date, window_days: int, milestones: Sequence[tuple[str, int]]
) -> Iterator[tuple[str, int, dt.date, dict[str, dt.date]]]:
    """(person, its earliest lead's record id, that lead's date, milestone -> day reached) of
    every person whose window reaches at least one milestone, by person."""
    got = reached(today, window_days, milestones)
    names = [name for name, _ in milestones]
    for row in session.execute(select(got).order_by(got.c.person_key)):
        days = {n: day for n in names if (day := as_date(row._mapping[n])) is not None}
        lead_date = as_date(row.lead_date)
        if days and lead_date is not None:
            yield row.person_key, row.record_id, lead_date, days


def funnel_rows(
    today: dt.date,
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    statuses: Sequence[str],
    *,
    persons: Collection[str] | None = None,
    records: Collection[int] | None = None,
) -> CompoundSelect[Any]:
    """``(key, stage, leads, persons, amount, *statuses)``: every person with a lead in its
    funnel stage (pipeline/money/funnel.py; key: the person), and every lead with no person
    (key ``#`` + its record id, NO_IDENTITY): the one definition the funnel is stored from
    (``store.funnel_view``) and checked against. Only the rows of ``persons`` and of the
    unlinked leads among ``records`` when either is given (a decision's touch; both expanding
    parameters, ``store.scopes``). A person's money is counted once.

    A linked lead's stage is its person's, so the facts of each person (its leads, whether it
    has a driver or is in quarantine, what its window reaches, its claims) are gathered by one
    ``UNION ALL`` grouped by person: sorts, never a join of derived tables, which SQLite would
    run as persons x persons."""
    scoped = persons is not None or records is not None
    some = persons_in(persons or ())

    def only(person: Any) -> Any:
        return person.in_(some) if scoped else true()

    milestones = [(name, need) for name, need, _ in ladder]
    got = reached(today, window_days, milestones, persons=(persons or ()) if scoped else None)
    would: ColumnElement[float] = literal(0.0)
    for name, _need, amount in ladder:
        would = would + case((got.c[name].is_not(None), literal(float(amount))), else_=0.0)
    facts = ("leads", "driver", "quarantined", "reached", "would", "claims", "claimed",
             *statuses)  # fmt: skip

    def part(person: Any, **given: Any) -> Any:
        return select(person.label("person_key"),
                      *(given.get(f, literal(0)).label(f) for f in facts))  # fmt: skip

    lead, driver = aliased(SourceRecord), aliased(SourceRecord)
    linked_lead = and_(Link.active, Link.record_id == lead.id, lead.source == "leads")
    linked_driver = and_(Link.active, Link.record_id == driver.id, driver.source == "drivers")
    per_status = {s: case((Claim.status == s, Claim.amount), else_=0.0) for s in statuses}
    union = (
        part(Link.person_key, leads=literal(1)).where(linked_lead, only(Link.person_key))
        .union_all(
            part(Link.person_key, driver=literal(1)).where(linked_driver, only(Link.person_key)),
            part(Quarantine.person_key, quarantined=literal(1))
            .where(Quarantine.active, Quarantine.person_key.is_not(None),
                   only(Quarantine.person_key)),
            part(got.c.person_key, reached=literal(1), would=would),
            part(Claim.person_key, claims=literal(1), claimed=Claim.amount, **per_status)
            .where(only(Claim.person_key)),
        )
        .subquery("facts")
    )  # fmt: skip
    person = (
        select(
            union.c.person_key,
            func.sum(union.c.leads).label("leads"),
            *(func.max(union.c[f]).label(f) for f in ("driver", "quarantined", "reached")),
            func.max(union.c.would).label("would"),
            func.sum(union.c.claimed).label("claimed"),
            func.sum(union.c.claims).label("claims"),
            *(func.sum(union.c[s]).label(s) for s in statuses),
        )
        .group_by(union.c.person_key)
        .subquery("person")
    )
    stage = case(
        (or_(person.c.quarantined > 0, person.c.driver == 0), "NO_DRIVER"),
        (person.c.reached == 0, "NO_TRIPS_14D"),
        (person.c.claims == 0, "TRIPS_NO_CLAIM"),
        else_="OK",
    )
    money = case(
        (stage == "TRIPS_NO_CLAIM", person.c.would), (stage == "OK", person.c.claimed), else_=0.0
    )
    # OK's money per claim status; the other stages carry none.
    ok_status = [case((stage == "OK", person.c[s]), else_=0.0).label(s) for s in statuses]
    staged = (
        select(person.c.person_key.label("key"), stage.label("stage"), person.c.leads,
               literal(1).label("persons"), money.label("amount"), *ok_status)
        .where(person.c.leads > 0)
    )  # fmt: skip
    unlinked = (
        select(
            (literal("#", String) + cast(lead.id, String)).label("key"),
            literal("NO_IDENTITY").label("stage"), literal(1).label("leads"),
            literal(0).label("persons"), literal(0.0).label("amount"),
            *(literal(0.0).label(s) for s in statuses),
        )
        .where(lead.source == "leads", ~exists().where(Link.record_id == lead.id, Link.active))
    )  # fmt: skip
    if scoped:
        unlinked = unlinked.where(lead.id.in_(records_in(records or ())))
    return staged.union_all(unlinked)


def funnel_stages(
    session: Session,
    today: dt.date,
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    statuses: Sequence[str],
) -> dict[str, Any]:
    """Every lead in its funnel stage, computed live from ``funnel_rows``:
    ``{"stages": {stage: (leads, persons, amount)}, "ok_by_status": {status: amount},
    "leads": n}`` (what the stored funnel must equal, ``check summaries``)."""
    rows = funnel_rows(today, window_days, ladder, statuses).subquery("funnel_rows")
    query = select(
        rows.c.stage, func.sum(rows.c.leads), func.sum(rows.c.persons), func.sum(rows.c.amount),
        *(func.sum(rows.c[s]) for s in statuses),
    ).group_by(rows.c.stage)  # fmt: skip
    return stage_totals(session.execute(query), statuses)


def stage_totals(result: Iterable[Any], statuses: Sequence[str]) -> dict[str, Any]:
    """``funnel_stages``' shape from rows ``(stage, leads, persons, amount, *statuses)``."""
    stages: dict[str, tuple[int, int, float]] = {}
    ok_by_status: dict[str, float] = {}
    for row in result:
        if not row[1]:
            continue  # a stage with no lead (the stored table keeps every stage's row)
        stages[row[0]] = (int(row[1]), int(row[2]), round(float(row[3] or 0.0), 2))
        if row[0] == "OK":
            ok_by_status = {s: round(float(v or 0.0), 2) for s, v in zip(statuses, row[4:],
                                                                           strict=True)}
    return {"stages": stages, "ok_by_status": ok_by_status,
            "leads": sum(v[0] for v in stages.values())}  # fmt: skip
