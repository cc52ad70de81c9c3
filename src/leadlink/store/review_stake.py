"""The money at stake of a review item, and the queue ordered by it (docs/review.md, "Money at
stake").

An open item's stake is what its lead could still claim if a reviewer linked it to the
candidate person: the milestones the person's trips inside the lead's window
``[lead_date, lead_date + window)`` reach on the ladder, less those the person already has a
claim for (one claim per person and milestone, whatever its status: expected, generated,
paid, rejected or expired). It is 0 when linking would open no claim at all: the record is not
a dated lead, or the person already has a lead dated on or before it (its claims are anchored
on that one). A person in quarantine counts like any other: quarantine holds drivers with no
lead, no origin and no trips, and the link gives it its lead (the next scan releases it).

``stake_rows`` is that definition, once, in SQL; ``refresh`` stores it in
``review_item.at_stake`` set-based (one read, one bulk update of the items that changed) and
``differences`` compares the two for ``check summaries``. What the stored figure does not hold
is the calendar: the claims of a lead past ``deadline + expiry`` would be expired, so such an
item shows 0 (``live``), decided when read; the rows never go stale as days pass.

The queue is read in two index ranges (``ix_review_item_stake``, then
``ix_review_item_status_deadline``): the items with money at stake, most first, then the rest
by deadline; the first range's count places a page without sorting the queue.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from leadlink.store.models import Claim, Link, ReviewItem, SourceRecord
from leadlink.store.scopes import PERSONS, RECORDS, persons_in, records_in
from leadlink.store.segments import _candidate_trips
from leadlink.store.windows import ladder_amount

OPEN = "open"
TOLERANCE = 0.005  # soles: figures are compared to the céntimo
BATCH = 500
SAMPLE = 5


def _earlier_lead(person: Any, record_id: Any, lead_date: Any) -> ColumnElement[bool]:
    """The person already has another lead dated on or before ``lead_date``."""
    link, lead = aliased(Link), aliased(SourceRecord)
    return (
        exists()
        .where(link.person_key == person, link.active, lead.id == link.record_id,
               lead.source == "leads", lead.id != record_id, lead.event_date <= lead_date)
        .correlate_except(link, lead)
    )  # fmt: skip


def _claimed(person: Any, milestone: str) -> ColumnElement[bool]:
    claim = aliased(Claim)
    return (
        exists()
        .where(claim.person_key == person, claim.milestone == milestone)
        .correlate_except(claim)
    )


def stake_rows(
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    *,
    records: Collection[int] | None = None,
    persons: Collection[str] = (),
) -> Select[Any]:
    """``(id, at_stake)`` of every open item (those of ``records`` or ``persons`` only, when
    ``records`` is given): the one definition of the figure.

    Materialised in steps, as the backlog's rows are, so the trips lookup runs once per item.
    """
    r = SourceRecord
    dated_lead = and_(r.source == "leads", r.event_date.is_not(None))
    eligible = and_(dated_lead, ~_earlier_lead(ReviewItem.person_key, r.id, r.event_date))
    base = (
        select(ReviewItem.id, ReviewItem.person_key, r.event_date.label("lead_date"),
               eligible.label("eligible"))
        .join(r, r.id == ReviewItem.record_id)
        .where(ReviewItem.status == OPEN)
    )  # fmt: skip
    if records is not None:
        scope = [ReviewItem.record_id.in_(records_in(records))]
        if persons:
            scope.append(ReviewItem.person_key.in_(persons_in(persons)))
        base = base.where(or_(*scope))
    item = base.cte("stake_item").prefix_with("MATERIALIZED")
    trips = case(
        (item.c.eligible, _candidate_trips(item.c.person_key, item.c.lead_date, window_days)),
        else_=literal(0),
    )
    counted = select(item.c.id, item.c.person_key, trips.label("trips"))
    c = counted.cte("stake_trips").prefix_with("MATERIALIZED").c
    # Only the milestones still unclaimed count: ladder_amount over a ladder whose claimed
    # rungs need more trips than anyone can have.
    amount: ColumnElement[float] = literal(0.0)
    for name, need, value in ladder:
        rung = ladder_amount(c.trips, [(name, need, value)])
        amount = amount + case((_claimed(c.person_key, name), literal(0.0)), else_=rung)
    return select(c.id, amount.label("at_stake"))


def _changed(session: Session, rows: Select[Any]) -> list[dict[str, Any]]:
    return _rows(session.execute(_changes(rows)))


def _changes(rows: Select[Any]) -> Select[Any]:
    """(id, figure) of the items in ``rows`` whose stored figure differs from it."""
    live = rows.subquery("live")
    return (
        select(live.c.id, live.c.at_stake)
        .join(ReviewItem, ReviewItem.id == live.c.id)
        .where(func.abs(ReviewItem.at_stake - live.c.at_stake) > TOLERANCE)
        .order_by(live.c.id)
    )


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{"id": r[0], "at_stake": round(float(r[1]), 2)} for r in result]


@functools.lru_cache(maxsize=8)
def _scoped_changes(
    window_days: int, ladder: tuple[tuple[str, int, float], ...], by_persons: bool
) -> Select[Any]:
    """``_changes`` of the items of some records (parameter ``RECORDS``) and persons
    (``PERSONS``), built once per configuration: a decision's touch runs it with its own."""
    persons = ("",) if by_persons else ()
    return _changes(stake_rows(window_days, ladder, records=(), persons=persons))


def refresh(
    session: Session,
    window_days: int,
    ladder: Sequence[tuple[str, int, float]],
    *,
    records: Collection[int] | None = None,
    persons: Collection[str] = (),
) -> int:
    """Store the figure of every open item (of ``records`` or ``persons`` only, when
    ``records`` is given) that differs from its definition; returns the open items."""
    if records is None:
        changed = _changed(session, stake_rows(window_days, ladder))
    else:
        query = _scoped_changes(window_days, tuple(ladder), bool(persons))
        params = {RECORDS: sorted(records), PERSONS: sorted(persons)}
        changed = _rows(session.execute(query, params))
    for start in range(0, len(changed), BATCH):
        session.execute(update(ReviewItem), changed[start : start + BATCH])
    return int(session.scalar(select(func.count()).where(ReviewItem.status == OPEN)) or 0)


def differences(
    session: Session, window_days: int, ladder: Sequence[tuple[str, int, float]]
) -> list[str]:
    """Open items whose stored figure is not what ``stake_rows`` computes now, at most
    ``SAMPLE``: the invariant ``check summaries`` reads."""
    found = _changed(session, stake_rows(window_days, ladder))
    ids = [f["id"] for f in found[:SAMPLE]]
    query = select(ReviewItem.id, ReviewItem.at_stake).where(ReviewItem.id.in_(ids))
    stored = {r[0]: r[1] for r in session.execute(query)}
    return [f"review_item {f['id']}: at_stake {stored.get(f['id'])} but {f['at_stake']}"
            for f in found[:SAMPLE]]  # fmt: skip


# --------------------------------------------------------------------------- reading


def live(cut: dt.date) -> ColumnElement[bool]:
    """An item whose stored figure still holds: money at stake and a deadline after ``cut``
    (today less the claims' expiry: past it, the claims would be expired)."""
    return and_(ReviewItem.at_stake > 0, ReviewItem.deadline.is_not(None),
                ReviewItem.deadline > cut)  # fmt: skip


def _dated_rest(cut: dt.date) -> ColumnElement[bool]:
    return and_(ReviewItem.deadline.is_not(None),
                or_(ReviewItem.at_stake <= 0, ReviewItem.deadline <= cut))  # fmt: skip


def shown(item: ReviewItem, cut: dt.date) -> float | None:
    """The figure a surface shows: the stored one while it holds, 0 once the claims would be
    expired; None for a decided item (nothing left to decide)."""
    if item.status != OPEN:
        return None
    holds = item.at_stake > 0 and item.deadline is not None and item.deadline > cut
    return round(float(item.at_stake), 2) if holds else 0.0


def total(session: Session, cut: dt.date) -> tuple[int, float]:
    """(open items with money at stake, the soles they hold together)."""
    n, soles = session.execute(
        select(func.count(), func.coalesce(func.sum(ReviewItem.at_stake), 0.0))
        .where(ReviewItem.status == OPEN, live(cut))
    ).one()  # fmt: skip
    return int(n), round(float(soles), 2)


def top(session: Session, cut: dt.date, k: int) -> float:
    """The soles the first ``k`` items of the open queue hold together (its measure: how much
    of the money the first tenth of the queue holds, benchmarks/bench_queue.py)."""
    first = (
        select(ReviewItem.at_stake).where(ReviewItem.status == OPEN, live(cut))
        .order_by(ReviewItem.at_stake.desc()).limit(k).subquery("first")
    )  # fmt: skip
    return round(float(session.scalar(select(func.coalesce(func.sum(first.c.at_stake), 0.0)))
                       or 0.0), 2)  # fmt: skip


def open_page(
    session: Session, cut: dt.date, staked: int, limit: int, offset: int
) -> list[tuple[ReviewItem, SourceRecord]]:
    """One page of the open queue in its order: money at stake (most first), deadline
    (nearest first, undated last), id. ``staked``: how many open items hold money (``total``).

    Three ranges, each read in its index's order (no sort of the queue): the items holding
    money (``ix_review_item_stake``), the other dated ones (``ix_review_item_status_deadline``),
    the undated ones; their counts place the page. Only the page's ids are read through the
    ranges; its items and records are loaded by id.
    """
    dated = int(session.scalar(select(func.count()).where(
        ReviewItem.status == OPEN, ReviewItem.deadline.is_not(None))) or 0)  # fmt: skip
    ranges: tuple[tuple[int | None, ColumnElement[bool], tuple[Any, ...]], ...] = (
        (staked, live(cut), (ReviewItem.at_stake.desc(), ReviewItem.deadline, ReviewItem.id)),
        (dated - staked, _dated_rest(cut), (ReviewItem.deadline, ReviewItem.id)),
        (None, ReviewItem.deadline.is_(None), (ReviewItem.id,)),
    )
    ids: list[int] = []
    for n, where, order in ranges:
        if n is not None and offset >= n:
            offset -= n
            continue
        want = limit - len(ids)
        if want <= 0:
            break
        ids += session.scalars(
            select(ReviewItem.id).where(ReviewItem.status == OPEN, where)
            .order_by(*order).limit(want).offset(offset)
        )  # fmt: skip
        offset = 0
    if not ids:
        return []
    rows = session.execute(
        select(ReviewItem, SourceRecord)
        .join(SourceRecord, SourceRecord.id == ReviewItem.record_id)
        .where(ReviewItem.id.in_(ids))
    )
    found = {row[0].id: (row[0], row[1]) for row in rows}
    return [found[i] for i in ids]
