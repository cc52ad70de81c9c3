"""The money views' summary tables (docs/summaries.md): what the backlog and unlinked-activity
pages read, written by the jobs and the decisions that change their inputs.

- ``backlog_lead``: one row per lead with no active link, with everything its segment needs
  that does not depend on the calendar (its candidate, the candidate's trips inside the lead's
  window and what they reach on the ladder). The split into recoverable / waiting / lost and
  the grace period are applied when read, over ``lead_date``: the rows never go stale by
  themselves, only when their inputs change.
- ``backlog_day``: the same rows counted per (lead day, has a candidate, engine reason), so the
  whole backlog's summary is a sum over days, not over leads.
- ``activity_driver``: one row per driver in unlinked activity as of ``money_refresh.as_of``
  (its window is capped at that day); ``activity_trip_day`` their trips per day, for the trend.
- ``funnel_person``, ``funnel_stage``: the lead funnel per person (and per lead with no
  person), and summed per stage.
- ``money_refresh``: per view, when it was computed, for which day and with which settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Index, Integer, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column

from leadlink.store.base import Base


class BacklogLead(Base):
    __tablename__ = "backlog_lead"
    __table_args__ = (
        # Each segment's page in working order is one range of one index (store/backlog_view).
        Index("ix_backlog_lead_work", "has_candidate", "lead_date",
              text("candidate_amount DESC"), "lead_id"),  # fmt: skip
        Index("ix_backlog_lead_day", text("lead_date DESC"), "lead_id"),
        Index("ix_backlog_lead_candidate", "candidate"),
    )

    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lead_id: Mapped[str] = mapped_column(String(200))
    lead_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    candidate: Mapped[str | None] = mapped_column(String(36), nullable=True)
    has_candidate: Mapped[bool] = mapped_column(Boolean)
    # The candidate's trips inside the lead's window, and what they reach on the ladder; both
    # 0 when the candidate already has a lead (its claims are anchored on that one).
    candidate_trips: Mapped[int] = mapped_column(Integer)
    candidate_amount: Mapped[float] = mapped_column(Float)


class BacklogDay(Base):
    __tablename__ = "backlog_day"

    lead_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    has_candidate: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)  # '' when none
    leads: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Float)


class ActivityDriver(Base):
    __tablename__ = "activity_driver"
    __table_args__ = (
        Index("ix_activity_driver_order", text("would_claim DESC"), "first_trip", "driver_id"),
        Index("ix_activity_driver_person", "person_key"),
        Index("ix_activity_driver_best_lead", "best_lead"),
    )

    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    driver_id: Mapped[str] = mapped_column(String(200))
    person_key: Mapped[str] = mapped_column(String(36))
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    hire_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    first_trip: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    last_trip: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    trips: Mapped[int] = mapped_column(Integer)
    window_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    window_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    anchor: Mapped[str] = mapped_column(String(20))
    trips_in_window: Mapped[int] = mapped_column(Integer)
    trips_outside_window: Mapped[int] = mapped_column(Integer)
    would_claim: Mapped[float] = mapped_column(Float)
    has_candidate: Mapped[bool] = mapped_column(Boolean)
    # The record id of the best candidate lead (None without one): a decision on that lead
    # re-derives this row.
    best_lead: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ActivityTripDay(Base):
    """The trips of each driver of ``activity_driver`` per day, over the year up to its day:
    the trend (drivers riding and their trips per day) sums a few days of rows."""

    __tablename__ = "activity_trip_day"
    __table_args__ = (Index("ix_activity_trip_day_day", "day"),)

    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    trips: Mapped[int] = mapped_column(Integer)


class ActivityDay(Base):
    """``activity_trip_day`` summed per day (drivers riding, their trips): the trend reads a
    few hundred rows, not every driver's days. Written with it, in full or by deltas."""

    __tablename__ = "activity_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    drivers: Mapped[int] = mapped_column(Integer)
    trips: Mapped[int] = mapped_column(Integer)


class RecoveryAttemptDay(Base):
    """Recovery attempts counted per (day, outcome, reason; '' when none), written with the
    attempts (``store.recovery_days``): the recovery figures of a window read days, not every
    attempt of the period."""

    __tablename__ = "recovery_attempt_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(12), primary_key=True)
    reason: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class FunnelPerson(Base):
    """The lead funnel (docs/summaries.md, view ``funnel``) per person with a lead, and per
    lead with no person (key ``#`` + its record id, stage NO_IDENTITY): what a decision's touch
    rewrites for the persons and leads it involves, the deltas ``funnel_stage`` takes."""

    __tablename__ = "funnel_person"

    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    leads: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)  # 1 for a person, 0 for a lead without one
    amount: Mapped[float] = mapped_column(Float)
    # OK's money per claim status (0 in the other stages): FUNNEL_STATUSES, one column each.
    expected: Mapped[float] = mapped_column(Float)
    generated: Mapped[float] = mapped_column(Float)
    expired: Mapped[float] = mapped_column(Float)
    paid: Mapped[float] = mapped_column(Float)
    rejected: Mapped[float] = mapped_column(Float)


class FunnelStage(Base):
    """``funnel_person`` summed per stage (every stage has its row, zeros included): what the
    funnel reads, five rows at any size. Written in full, or by a touch's deltas."""

    __tablename__ = "funnel_stage"

    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    leads: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    generated: Mapped[float] = mapped_column(Float)
    expired: Mapped[float] = mapped_column(Float)
    paid: Mapped[float] = mapped_column(Float)
    rejected: Mapped[float] = mapped_column(Float)


# The claim statuses of the funnel tables' columns (pipeline.money.claim_facts.STATUSES).
FUNNEL_STATUSES = ("expected", "generated", "expired", "paid", "rejected")


class MoneyRefresh(Base):
    __tablename__ = "money_refresh"

    view: Mapped[str] = mapped_column(String(20), primary_key=True)  # backlog | activity
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    as_of: Mapped[dt.date] = mapped_column(Date)
    # The settings the rows were computed with (review threshold, window, ladder): rows
    # computed under other settings are stale.
    settings: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


def table_of(model: Any) -> Table:
    """A model's Core table (``INSERT … SELECT`` on it reports its rowcount; the ORM's does
    not)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
