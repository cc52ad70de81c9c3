"""Alert rows (at most one open per (kind, subject)) and the facts the alert rules read:
job freshness from ``job_run`` and the backlog trend from ``recovery_daily``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import Alert, JobRun, RecoveryDaily, SourceRecord

Firing = dict[tuple[str, str], dict[str, Any]]
"""(kind, subject) -> {"severity": ..., "detail": {...}} for every alert that holds now."""


def open_alerts(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.raised_at, Alert.id)
    )
    return [
        {"id": a.id, "kind": a.kind, "subject": a.subject, "severity": a.severity,
         "detail": a.detail, "raised_at": a.raised_at.isoformat()}
        for a in rows
    ]  # fmt: skip


def apply(
    session: Session, firing: Firing, kinds: Sequence[str], now: dt.datetime
) -> tuple[int, int]:
    """Raise what fires and is not open, refresh open ones' detail, resolve open ones of these
    kinds that no longer fire. Returns (raised, resolved)."""
    current = {
        (a.kind, a.subject): a
        for a in session.scalars(
            select(Alert).where(Alert.resolved_at.is_(None), Alert.kind.in_(list(kinds)))
        )
    }
    new = [
        {"kind": k, "subject": s, "severity": v["severity"], "detail": v["detail"],
         "raised_at": now, "resolved_at": None}
        for (k, s), v in firing.items() if (k, s) not in current
    ]  # fmt: skip
    if new:
        session.execute(insert(Alert), new)
    for key, alert in current.items():
        if key in firing and (
            alert.detail != firing[key]["detail"] or alert.severity != firing[key]["severity"]
        ):
            session.execute(
                update(Alert)
                .where(Alert.id == alert.id)
                .values(detail=firing[key]["detail"], severity=firing[key]["severity"])
            )
    cleared = [a.id for key, a in current.items() if key not in firing]
    if cleared:
        session.execute(update(Alert).where(Alert.id.in_(cleared)).values(resolved_at=now))
    return len(new), len(cleared)


def last_success(session: Session, kinds: Sequence[str]) -> dict[str, dt.datetime | None]:
    """Kind -> when its last successful job_run finished (None: never)."""
    rows = session.execute(
        select(JobRun.kind, func.max(JobRun.finished_at))
        .where(JobRun.kind.in_(list(kinds)), JobRun.status == "ok")
        .group_by(JobRun.kind)
    )
    found = {r[0]: r[1] for r in rows}
    return {k: found.get(k) for k in kinds}


def backlog_trend(session: Session, since: dt.date, until: dt.date) -> list[tuple[dt.date, int]]:
    """(day, backlog_after) of recovery_daily in [since, until], oldest first."""
    rows = session.execute(
        select(RecoveryDaily.day, RecoveryDaily.backlog_after)
        .where(and_(RecoveryDaily.day >= since, RecoveryDaily.day <= until))
        .order_by(RecoveryDaily.day)
    )
    return [(r[0], int(r[1])) for r in rows]


def newest_run_of(session: Session, kind: str, after_id: int) -> int | None:
    """Id of the newest job_run of ``kind`` created after ``after_id`` (a service's own row)."""
    return session.scalar(
        select(func.max(JobRun.id)).where(JobRun.kind == kind, JobRun.id > after_id)
    )


def max_run_id(session: Session) -> int:
    return int(session.scalar(select(func.max(JobRun.id))) or 0)


def sample_lead_ids(session: Session, record_ids: Any, limit: int = 10) -> list[str]:
    """A few lead ids (oldest first) out of a query of record ids."""
    rows = session.scalars(
        select(SourceRecord.source_pk)
        .where(SourceRecord.id.in_(record_ids))
        .order_by(SourceRecord.event_date, SourceRecord.source_pk)
        .limit(limit)
    )
    return list(rows)
