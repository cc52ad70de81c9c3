"""Claim windows in SQL: a date plus some days, a driver's trips inside a window, and what a
number of trips is worth on the milestone ladder, for queries that classify whole sets.

The one piece of date arithmetic that differs per dialect lives here (``plus_days``): SQLite
keeps dates as ISO text and adds days with ``date(d, '+N days')``; PostgreSQL adds an integer
to a ``date``. The number of days is always a bound parameter.

A driver's trips are found through the trips source key, ``driver_id|YYYY-MM-DD``
(sources.py): the trips of one driver are one range of the unique ``(source, source_pk)``
index, so a correlated lookup is an index range scan, not a scan of every trip. The range holds
in byte order only: keys are compared with ``collation.key_text`` (on PostgreSQL the index of
migration 0007 serves it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from leadlink.store.collation import key_text
from leadlink.store.models import SourceRecord

# The trips key is driver_id + "|" + date; "}" is the character after "|", so every key of a
# driver sorts inside [driver_id + "|", driver_id + "}").
KEY_SEPARATOR, KEY_END = "|", "}"


class plus_days(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it renders
    """``date + days`` as a date; ``plus_days(column, 14)`` binds 14 as a parameter."""

    type = Date()
    inherit_cache = True
    name = "plus_days"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    modifier = func.printf("%+d days", days)
    return f"date({compiler.process(day, **kw)}, {compiler.process(modifier, **kw)})"


@compiles(plus_days, "postgresql")
def _plus_days_postgresql(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} + CAST({compiler.process(days, **kw)} AS INTEGER))"


class iso_date(FunctionElement[str]):  # noqa: N801 - reads as the SQL it renders
    """A date as ``YYYY-MM-DD`` text, the form the trips key carries: SQLite keeps dates as
    that text already; PostgreSQL formats it."""

    type = String()
    inherit_cache = True
    name = "iso_date"


@compiles(iso_date, "sqlite")
def _iso_date_sqlite(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = list(element.clauses)
    return str(compiler.process(day, **kw))


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = list(element.clauses)
    # The cast types a literal-bound day ('2026-09-01' is of unknown type to PostgreSQL, and
    # to_char has several forms); a timestamp, not a date, so no time zone takes part.
    return f"to_char(CAST({compiler.process(day, **kw)} AS TIMESTAMP), 'YYYY-MM-DD')"


def completed_trips(trip: Any) -> ColumnElement[int]:
    """A trips record's completed trips as an integer (the JSON holds the CSV text); ``trip``
    is an alias of ``SourceRecord``."""
    return cast(trip.data["completed_trips"].as_string(), Integer)


def of_driver(trip: Any, driver_pk: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """``trip`` (an alias of ``SourceRecord``) is a trips record of the driver ``driver_pk``:
    one range of the trips key index, compared in byte order (``collation.key_text``)."""
    return and_(
        trip.source == "trips",
        key_text(trip.source_pk) >= key_text(driver_pk + literal(KEY_SEPARATOR)),
        key_text(trip.source_pk) < key_text(driver_pk + literal(KEY_END)),
    )


def of_driver_between(
    trip: Any, driver_pk: SQLColumnExpression[str], start: Any, end: Any
) -> ColumnElement[bool]:
    """``trip`` is a trips record of the driver ``driver_pk`` dated in ``[start, end)``: the
    range of the trips key index between ``driver_pk|start`` and ``driver_pk|end`` (ISO dates
    sort as their days), so only the window's trips are read, not all of the driver's."""
    head = driver_pk + literal(KEY_SEPARATOR)
    return and_(
        trip.source == "trips",
        key_text(trip.source_pk) >= key_text(head + iso_date(start)),
        key_text(trip.source_pk) < key_text(head + iso_date(end)),
        trip.event_date >= start,
        trip.event_date < end,
    )


def trips_between(
    driver_pk: SQLColumnExpression[str], start: SQLColumnExpression[Any], end: Any
) -> ColumnElement[int]:
    """Completed trips of the driver ``driver_pk`` dated in ``[start, end)``, 0 when none:
    a correlated scalar subquery over the window's range of the trips key index."""
    trip = aliased(SourceRecord)
    trips = completed_trips(trip)
    query = select(func.coalesce(func.sum(trips), 0)).where(
        of_driver_between(trip, driver_pk, start, end), trips > 0
    )
    # Everything but the trips row comes from the enclosing queries, however deep they nest.
    return query.correlate_except(trip).scalar_subquery()


def ladder_amount(
    trips: ColumnElement[int], ladder: Sequence[tuple[str, int, float]]
) -> ColumnElement[float]:
    """What ``trips`` trips inside a window claim: the sum of every milestone they reach.

    ``ladder``: ``(milestone, trips needed, amount)``, the amounts from configuration.
    """
    total: ColumnElement[float] = literal(0.0)
    for _name, need, amount in ladder:
        total = total + case((trips >= need, literal(float(amount))), else_=literal(0.0))
    return total


def as_date(value: Any) -> dt.date | None:
    """A date a window query computed: SQLite hands it back as ISO text, PostgreSQL as a date."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
