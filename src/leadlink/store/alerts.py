"""Alert rows (at most one open per (kind, subject)) and the facts the alert rules read:
job freshness from ``job_run`` and the backlog trend from ``recovery_daily``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import Alert, JobRun, RecoveryDaily, SourceRecord
from leadlink.store.money_tables import ActivityDriver

Firing = dict[tuple[str, str], dict[str, Any]]
"""(kind, subject) -> {"severity": ..., "detail": {...}} for every alert that holds now."""


def open_alerts(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.raised_at, Alert.id)
    )
    return [alert_dict(a) for a in rows]


def alert_dict(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "subject": a.subject, "severity": a.severity,
            "detail": a.detail, "raised_at": a.raised_at.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
            "open": a.resolved_at is None,
            **acknowledgement(a.acknowledged_at, a.acknowledged_by, a.ack_note)}  # fmt: skip


def acknowledgement(at: dt.datetime | None, by: str | None, note: str | None) -> dict[str, Any]:
    """The acknowledgement fields of an alert, the same in every listing."""
    return {"acknowledged": at is not None, "acknowledged_at": at.isoformat() if at else None,
            "acknowledged_by": by, "ack_note": note}  # fmt: skip


def acknowledge(
    session: Session, alert_id: int, *, actor: str, note: str | None, now: dt.datetime
) -> tuple[bool, Alert | None]:
    """Acknowledge the alert if it is open and not acknowledged yet, in one conditional UPDATE
    (two operators at once: one wins, the other finds it acknowledged). Returns whether this
    call acknowledged it and the row as it is afterwards (None: no such alert)."""
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.resolved_at.is_(None), Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=actor, ack_note=note)
        .execution_options(synchronize_session=False)
    )
    row = session.scalars(
        select(Alert).where(Alert.id == alert_id).execution_options(populate_existing=True)
    ).one_or_none()
    return done.rowcount == 1, row  # type: ignore[attr-defined]


def open_counts(session: Session) -> dict[str, dict[str, int]]:
    """Kind -> {"open", "unacknowledged"} over the open alerts (kinds with none left out)."""
    rows = session.execute(
        select(Alert.kind, func.count(), func.count(Alert.acknowledged_at))
        .where(Alert.resolved_at.is_(None))
        .group_by(Alert.kind)
    )
    return {r[0]: {"open": int(r[1]), "unacknowledged": int(r[1]) - int(r[2])} for r in rows}


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


def driver_persons(session: Session, driver_ids: Sequence[str]) -> dict[str, str]:
    """Driver id -> person key of these drivers in unlinked activity (one query: through the
    drivers' source records, whose (source, source_pk) index finds them; driver_id has none)."""
    if not driver_ids:
        return {}
    rows = session.execute(
        select(ActivityDriver.driver_id, ActivityDriver.person_key)
        .join(SourceRecord, SourceRecord.id == ActivityDriver.record_id)
        .where(SourceRecord.source == "drivers", SourceRecord.source_pk.in_(list(driver_ids)))
    )
    return {r[0]: r[1] for r in rows}
