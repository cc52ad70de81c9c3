"""The KPI-red backlog, defined once: leads older than the grace period with no person.

Persons are founded only by drivers (docs/contract-notes.md), so a lead with a person always
has a driver behind it: "a person but no claim path" is the funnel's business (NO_TRIPS_14D,
TRIPS_NO_CLAIM), not the identity backlog's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from leadlink.store.models import Link, SourceRecord


def cutoff(now: dt.datetime, grace_days: int) -> dt.date:
    """Leads dated before this day are past their grace period."""
    return now.date() - dt.timedelta(days=grace_days)


def kpi_red_ids(now: dt.datetime, grace_days: int) -> Select[int]:
    """Record ids of KPI-red leads, as a query to embed (INSERT ... SELECT, counts, joins)."""
    linked = exists().where(and_(Link.record_id == SourceRecord.id, Link.active))
    return select(SourceRecord.id).where(
        SourceRecord.source == "leads",
        SourceRecord.event_date < cutoff(now, grace_days),
        ~linked,
    )


def count_kpi_red(session: Session, now: dt.datetime, grace_days: int) -> int:
    sub = kpi_red_ids(now, grace_days).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)
