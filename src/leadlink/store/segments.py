"""The definitions of the KPI-red backlog split by what can still be claimed (docs/recovery.md,
"Backlog segments"); ``store.backlog_view`` stores and reads them (docs/summaries.md).

Every KPI-red lead (``backlog.kpi_red_ids``) is in exactly one segment, the first that holds:

- ``recoverable``: it has a *candidate*, a person proposed at or above the review band (an open
  review item, or the engine's best candidate scored at or above ``review_threshold`` unless a
  person rejected that pair in review), and its claims would not have expired yet (``today <
  lead + window + expiry``): review or recovery can link it and the partner can still bill it;
- ``waiting``: no candidate and its claim window is still open (``today < lead + window``): a
  driver may still register and drive inside it;
- ``lost``: the window closed with no candidate, or the candidate came too late (the claims
  would be expired). Its ``loss_reason`` is the engine's reason (``NO_CANDIDATES``,
  ``MISSING_IDENTIFIERS``, ``WEAK_MATCH_ONLY``…), ``NOT_MATCHED`` when ``match`` never decided
  it, or ``EXPIRED`` when a candidate exists but its claims would be expired.

Money at stake: a recoverable lead's is what its candidate's trips inside the lead's window
reach on the milestone ladder (0 when the candidate already has a lead: its claims are anchored
on that one); a waiting lead's is the whole ladder (what it can still earn at most); a lost
lead's is 0. Deadline: recoverable ``lead + window + expiry`` (after it the claims expire),
waiting and lost ``lead + window`` (the window closes, or closed).

Segment tests compare the lead date with day cut-offs computed from ``now`` (as gap analysis
does), so classification, filters and counts all run in the database, over the stored rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from leadlink.store.models import Link, Person, ReviewItem, SourceRecord, Unmatched
from leadlink.store.windows import plus_days, trips_between

Segment = Literal["recoverable", "waiting", "lost"]
SEGMENTS: tuple[Segment, ...] = get_args(Segment)
EXPIRED, NOT_MATCHED = "EXPIRED", "NOT_MATCHED"
OPEN, REJECTED = "open", "rejected"


@dataclass(frozen=True)
class SegmentRules:
    """What the classification needs from configuration and the calendar."""

    now: dt.datetime
    grace_days: int
    window_days: int
    expiry_days: int
    review_threshold: float
    ladder: tuple[tuple[str, int, float], ...]  # (milestone, trips needed, amount)

    @property
    def today(self) -> dt.date:
        return self.now.date()

    @property
    def open_after(self) -> dt.date:
        """Leads dated after this day still have their claim window open."""
        return self.today - dt.timedelta(days=self.window_days)

    @property
    def claimable_after(self) -> dt.date:
        """Leads dated after this day would still have unexpired claims."""
        return self.today - dt.timedelta(days=self.window_days + self.expiry_days)

    @property
    def full_ladder(self) -> float:
        return float(sum(amount for _m, _n, amount in self.ladder))


def review_candidate(record_id: SQLColumnExpression[int]) -> ColumnElement[str]:
    """The person of the record's strongest open review item (None when it has none)."""
    item = aliased(ReviewItem)
    return (
        select(item.person_key)
        .where(item.record_id == record_id, item.status == OPEN)
        .order_by(item.score.desc(), item.person_key)
        .limit(1)
        .correlate_except(item)  # correct however deep it nests (live_person nests it)
        .scalar_subquery()
    )


def engine_candidate(threshold: float, unmatched: Any = Unmatched) -> ColumnElement[str]:
    """The engine's best candidate of an unmatched record when scored at or above the band,
    unless a person rejected that very pair in review (the lead's verdict still lists it)."""
    best = unmatched.candidates[(0, "person_key")].as_string()
    score = unmatched.candidates[(0, "score")].as_float()
    item = aliased(ReviewItem)
    rejected = exists().where(item.record_id == unmatched.record_id, item.person_key == best,
                              item.status == REJECTED).correlate_except(item)  # fmt: skip
    return case((and_(score >= threshold, ~rejected), best), else_=null())


def candidate(record_id: SQLColumnExpression[int], threshold: float) -> ColumnElement[str]:
    """A lead's candidate person: its review item's, else the engine's (``Unmatched`` must be
    outer-joined on the record), as the live person: a verdict written before a merge names
    the key it retired (review items move with a merge; verdicts do not)."""
    return live_person(func.coalesce(review_candidate(record_id), engine_candidate(threshold)))


def live_person(key: ColumnElement[str]) -> ColumnElement[str]:
    """The person ``key`` resolves to: the survivor of a merge, else itself (merges keep
    retired chains one hop long: ``store.merges``)."""
    person = aliased(Person)
    survivor = (
        select(person.retired_into).where(person.person_key == key)
        .correlate_except(person).scalar_subquery()
    )  # fmt: skip
    return func.coalesce(survivor, key)


def _split(
    has_candidate: Any, day: Any, rules: SegmentRules
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(recoverable, waiting) as conditions; lost is neither. The one definition the
    classification and the recovery loop's order both read."""
    recoverable = and_(has_candidate, day > rules.claimable_after)
    waiting = and_(~has_candidate, day > rules.open_after)
    return recoverable, waiting


def work_rank(record_id: Any, lead_date: Any, rules: SegmentRules) -> ColumnElement[int]:
    """The recovery loop's order of segments: 0 recoverable (money a link brings now), 1
    waiting (nearest deadline first by the caller's date order), 2 lost (retried last)."""
    unmatched = aliased(Unmatched)
    engine_best = (
        select(engine_candidate(rules.review_threshold, unmatched))
        .where(unmatched.record_id == record_id)
        .scalar_subquery()
    )
    item = aliased(ReviewItem)
    in_review = exists().where(item.record_id == record_id, item.status == OPEN)
    recoverable, waiting = _split(or_(in_review, engine_best.is_not(None)), lead_date, rules)
    return case((recoverable, literal(0)), (waiting, literal(1)), else_=literal(2))


def _candidate_trips(person: Any, start: Any, window_days: int) -> ColumnElement[int]:
    """Trips of ``person``'s drivers inside the window from ``start``."""
    link, driver = aliased(Link), aliased(SourceRecord)
    in_window = trips_between(driver.source_pk, start, plus_days(start, window_days))
    return (
        select(func.coalesce(func.sum(in_window), 0))
        .select_from(link)
        .join(driver, driver.id == link.record_id)
        .where(link.person_key == person, link.active, driver.source == "drivers")
        .correlate_except(link, driver)
        .scalar_subquery()
    )


def _has_lead(person: Any) -> ColumnElement[bool]:
    link, lead = aliased(Link), aliased(SourceRecord)
    return (
        exists()
        .where(link.person_key == person, link.active, lead.id == link.record_id,
               lead.source == "leads")
        .correlate_except(link, lead)
    )  # fmt: skip
