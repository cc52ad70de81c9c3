"""The API's lists of operational data: claims, review candidates, job runs, recovery attempts
and daily metrics, alerts. Same rules as ``store.listing``: bound parameters, whitelisted
sort orders, one transaction per call, ``(total, page)`` back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, aliased

from leadlink.store.alerts import acknowledgement
from leadlink.store.db import transaction
from leadlink.store.listing import Window, iso, page_of, person_records, sort_order
from leadlink.store.models import (
    Alert,
    Claim,
    JobRun,
    Payment,
    RecoveryAttempt,
    RecoveryDaily,
    ReviewItem,
    SourceRecord,
)

# --- claims -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimFilter:
    milestone: str | None = None
    status: str | None = None
    # Claims whose milestone was reached in [week_start, week_start + 7 days).
    week_start: dt.date | None = None
    person_key: str | None = None


# The claim orders, each ending on a unique key (stable paging). The claim table has no index
# for them (only person_key): a sort reads the filtered claims, one per person and milestone,
# as the claims report already does; "-reached_on" as a range would need (reached_on, id).
# A claim not reached yet (expected) has no reached_on: last either way, on both stores.
CLAIM_ORDERS: dict[str, tuple[Any, ...]] = {
    "-reached_on": (Claim.reached_on.desc().nulls_last(), Claim.id),
    "reached_on": (Claim.reached_on.asc().nulls_last(), Claim.id),
    "lead_date": (Claim.lead_date, Claim.id),
    "-lead_date": (Claim.lead_date.desc(), Claim.id),
    "-amount": (Claim.amount.desc(), Claim.id),
    "amount": (Claim.amount, Claim.id),
    "person_key": (Claim.person_key, Claim.milestone),
}
CLAIM_SORTS = tuple(CLAIM_ORDERS)


def _claim_where(filters: ClaimFilter) -> list[Any]:
    f, where = filters, []
    if f.milestone is not None:
        where.append(Claim.milestone == f.milestone)
    if f.status is not None:
        where.append(Claim.status == f.status)
    if f.week_start is not None:
        end = f.week_start + dt.timedelta(days=7)
        where += [Claim.reached_on >= f.week_start, Claim.reached_on < end]
    if f.person_key is not None:
        where.append(Claim.person_key == f.person_key)
    return where


def claim_facets(engine: Engine, filters: ClaimFilter) -> dict[str, dict[str, int]]:
    """Claims per milestone and per status under ``filters``: one GROUP BY (milestone,
    status), summed per column; values with no claim are absent, most claims first."""
    query = (select(Claim.milestone, Claim.status, func.count()).where(*_claim_where(filters))
             .group_by(Claim.milestone, Claim.status))  # fmt: skip
    out: dict[str, dict[str, int]] = {"milestone": {}, "status": {}}
    with transaction(engine) as session:
        for milestone, status, n in session.execute(query):
            for column, value in (("milestone", milestone), ("status", status)):
                out[column][value] = out[column].get(value, 0) + int(n)
    return {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for k, v in out.items()}


def claims(
    engine: Engine, filters: ClaimFilter, window: Window, sort: str = "-reached_on"
) -> tuple[int, list[dict[str, Any]]]:
    """Claims with their lead id and the payment_id of the payment reconciled to them, in the
    order ``sort`` (a key of ``CLAIM_ORDERS``)."""
    lead = aliased(SourceRecord)
    paid = aliased(SourceRecord)
    query = (
        select(
            Claim.id,
            Claim.person_key,
            Claim.milestone,
            lead.source_pk.label("lead_id"),
            Claim.lead_date,
            Claim.reached_on,
            Claim.amount,
            Claim.status,
            paid.source_pk.label("payment"),
        )  # fmt: skip
        .join(lead, lead.id == Claim.lead_record_id)
        .outerjoin(Payment, Payment.id == Claim.payment_id)
        .outerjoin(paid, paid.id == Payment.record_id)
    )
    query = query.where(*_claim_where(filters))
    with transaction(engine) as session:
        total, rows = page_of(session, query, sort_order(CLAIM_ORDERS, sort), window)
    for r in rows:
        r["lead_date"], r["reached_on"] = iso(r["lead_date"]), iso(r["reached_on"])
    return total, rows


# --- review -------------------------------------------------------------------------------------


def review_item(engine: Engine, item_id: int) -> tuple[ReviewItem, SourceRecord] | None:
    with transaction(engine) as session:
        row = session.execute(
            select(ReviewItem, SourceRecord)
            .join(SourceRecord, SourceRecord.id == ReviewItem.record_id)
            .where(ReviewItem.id == item_id)
        ).first()
        return None if row is None else (row[0], row[1])


def review_candidates(engine: Engine, record_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """record id -> every pair proposed for it (any status), best score first, each with its
    person's actively linked records; two queries whatever the number of records."""
    out: dict[int, list[dict[str, Any]]] = {rid: [] for rid in record_ids}
    if not record_ids:
        return out
    with transaction(engine) as session:
        items = list(session.scalars(
            select(ReviewItem)
            .where(ReviewItem.record_id.in_(list(record_ids)))
            .order_by(ReviewItem.record_id, ReviewItem.score.desc(), ReviewItem.id)
        ))  # fmt: skip
        records = person_records(session, sorted({r.person_key for r in items}))
    for r in items:
        out[r.record_id].append({
            "id": r.id, "person_key": r.person_key, "rule": r.rule, "score": r.score,
            "status": r.status, "evidence": r.evidence, "records": records[r.person_key],
        })  # fmt: skip
    return out


# --- job runs and recovery ----------------------------------------------------------------------


def _run_dict(r: JobRun) -> dict[str, Any]:
    done = r.finished_at
    return {
        "id": r.id, "kind": r.kind, "status": r.status, "started_at": r.started_at.isoformat(),
        "finished_at": iso(done), "counts": r.counts, "error": r.error,
        "duration_s": None if done is None else round((done - r.started_at).total_seconds(), 3),
    }  # fmt: skip


def job_runs(
    engine: Engine, window: Window, *, kind: str | None = None, status: str | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """job_run history, newest first; recover runs carry their attempts by outcome."""
    where = []
    if kind is not None:
        where.append(JobRun.kind == kind)
    if status is not None:
        where.append(JobRun.status == status)
    with transaction(engine) as session:
        total = session.scalar(select(func.count()).select_from(JobRun).where(*where)) or 0
        runs = list(session.scalars(
            select(JobRun).where(*where).order_by(JobRun.id.desc())
            .limit(window.limit).offset(window.offset)
        ))  # fmt: skip
        made = _attempts_of(session, [r.id for r in runs if r.kind == "recover"])
    rows = [_run_dict(r) for r in runs]
    for row in rows:
        if row["kind"] == "recover":
            row["attempts"] = made.get(row["id"], {"matched": 0, "unmatched": 0, "failed": 0})
    return int(total), rows


def _attempts_of(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    rows = session.execute(
        select(RecoveryAttempt.run_id, RecoveryAttempt.outcome, func.count())
        .where(RecoveryAttempt.run_id.in_(list(run_ids)))
        .group_by(RecoveryAttempt.run_id, RecoveryAttempt.outcome)
    )
    out: dict[int, dict[str, int]] = {}
    for run_id, outcome, n in rows:
        counts = out.setdefault(int(run_id or 0), {"matched": 0, "unmatched": 0, "failed": 0})
        counts[outcome] = int(n)
    return out


@dataclass(frozen=True)
class AttemptFilter:
    run_id: int | None = None
    outcome: str | None = None
    lead_id: str | None = None


def recovery_attempts(
    engine: Engine, filters: AttemptFilter, window: Window
) -> tuple[int, list[dict[str, Any]]]:
    """Every attempt at a queue item, newest first, with the lead id it was about."""
    query = select(
        RecoveryAttempt.id, RecoveryAttempt.run_id, SourceRecord.source_pk.label("lead_id"),
        RecoveryAttempt.attempt, RecoveryAttempt.outcome, RecoveryAttempt.reason,
        RecoveryAttempt.error, RecoveryAttempt.person_key, RecoveryAttempt.at,
    ).join(SourceRecord, SourceRecord.id == RecoveryAttempt.record_id)  # fmt: skip
    f = filters
    if f.run_id is not None:
        query = query.where(RecoveryAttempt.run_id == f.run_id)
    if f.outcome is not None:
        query = query.where(RecoveryAttempt.outcome == f.outcome)
    if f.lead_id is not None:
        query = query.where(SourceRecord.source_pk == f.lead_id)
    with transaction(engine) as session:
        total, rows = page_of(session, query, (RecoveryAttempt.id.desc(),), window)
    for r in rows:
        r["at"] = r["at"].isoformat()
    return total, rows


def recovery_daily(
    engine: Engine, window: Window, *, since: dt.date | None, until: dt.date | None
) -> tuple[int, list[dict[str, Any]]]:
    """recovery_daily rows in [since, until], oldest first, shaped like `impact`'s days."""
    query = select(RecoveryDaily)
    if since is not None:
        query = query.where(RecoveryDaily.day >= since)
    if until is not None:
        query = query.where(RecoveryDaily.day <= until)
    with transaction(engine) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        days = list(session.scalars(
            query.order_by(RecoveryDaily.day).limit(window.limit).offset(window.offset)
        ))  # fmt: skip
    rows = [
        {"day": r.day.isoformat(), "backlog_before": r.backlog_before,
         "backlog_after": r.backlog_after, "delta": r.backlog_after - r.backlog_before,
         "matched_out": r.matched_out, "new_in": r.new_in, "processed": r.processed,
         "failed": r.failed, "top_fail_reason": r.top_fail_reason,
         "success": r.matched_out > r.new_in, "updated_at": r.updated_at.isoformat()}
        for r in days
    ]  # fmt: skip
    return int(total), rows


# --- alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    state: str = "open"  # open | resolved | all
    kind: str | None = None
    severity: str | None = None
    acknowledged: bool | None = None


def alerts(
    engine: Engine, filters: AlertFilter, window: Window
) -> tuple[int, list[dict[str, Any]]]:
    """Alerts, newest raised first; ``open`` are the ones firing at the last evaluation."""
    query = select(
        Alert.id, Alert.kind, Alert.subject, Alert.severity, Alert.detail, Alert.raised_at,
        Alert.resolved_at, Alert.acknowledged_at, Alert.acknowledged_by, Alert.ack_note,
    )  # fmt: skip
    f = filters
    if f.state == "open":
        query = query.where(Alert.resolved_at.is_(None))
    elif f.state == "resolved":
        query = query.where(Alert.resolved_at.is_not(None))
    if f.kind is not None:
        query = query.where(Alert.kind == f.kind)
    if f.severity is not None:
        query = query.where(Alert.severity == f.severity)
    if f.acknowledged is not None:
        seen = Alert.acknowledged_at.is_not(None)
        query = query.where(seen if f.acknowledged else ~seen)
    with transaction(engine) as session:
        total, rows = page_of(session, query, (Alert.raised_at.desc(), Alert.id.desc()), window)
    for r in rows:
        r["raised_at"] = r["raised_at"].isoformat()
        r["resolved_at"] = iso(r["resolved_at"])
        r["open"] = r["resolved_at"] is None
        r.update(acknowledgement(r["acknowledged_at"], r["acknowledged_by"], r["ack_note"]))
    return total, rows
