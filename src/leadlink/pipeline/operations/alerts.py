"""`leadlink alerts`: evaluate the six alert rules at ``now``; raise, refresh and resolve.

Rules (subjects make "one open alert per (kind, subject)" meaningful):

- ``over_24h_no_identity`` (subject ``leads``): the KPI-red backlog (``store/backlog.py``:
  leads past the grace period, default 1 day, with no person) is not empty. One alert carrying
  the count and the oldest lead ids, not one per lead: thousands of rows would drown the list.
- ``over_7d_unresolved`` (subject ``leads``): leads at least ``gap_high_days`` (7) old whose gap
  reason is not ``resolved`` (no identity, no origin or inconsistent origin).
- ``job_stale`` (subject = job kind): a job kind the worker runs has no successful ``job_run``
  finished within ``job_stale_hours`` (24), or never had one.
- ``backlog_growing`` (subject ``kpi_red``): ``recovery_daily.backlog_after`` rose at every step
  over the days of the last ``backlog_growing_days`` (3) that have a row (at least two rows).
- ``unlinked_activity_growing`` (subject ``drivers``): today's count of drivers in unlinked
  activity (docs/activity.md) is higher than the previous daily snapshot's (the newest
  ``activity_daily`` row before today). Each evaluation first writes today's snapshot (one row
  a day, a rerun overwrites it), so the rule compares day with day, whatever the schedule.
- ``recoverable_expiring`` (subject ``recoverable``): recoverable backlog leads (a candidate
  exists, docs/recovery.md "Backlog segments") whose claims expire within
  ``recoverable_expiring_days`` (7): money that review or recovery must link now or lose.

The two backlog alerts carry the backlog's segments (leads and soles at stake per segment).

An operator acknowledges an open alert (``acknowledge``: who, when, a note, audited as
``alert_ack``): it stays open while its rule holds, shown apart from the unacknowledged ones;
once it resolves, a later firing is a new, unacknowledged row.

An open alert whose condition still holds keeps its ``raised_at`` and gets the current detail;
one whose condition cleared is resolved (``resolved_at`` = now). Each evaluation is a job_run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline import summaries
from leadlink.pipeline.money import activity as activity_service
from leadlink.pipeline.money.segments import segment_summary
from leadlink.pipeline.summaries import segment_rules
from leadlink.settings import Settings
from leadlink.store import alerts as alerts_store
from leadlink.store import audit, backlog, backlog_view, jobs
from leadlink.store import gap as gap_store
from leadlink.store.db import transaction

KINDS = ("over_24h_no_identity", "over_7d_unresolved", "job_stale", "backlog_growing",
         "recoverable_expiring", "unlinked_activity_growing")  # fmt: skip
# Job kinds the worker runs (job_run.kind); ingest only counts when a folder is watched.
WORKER_KINDS = ("match", "queue_seed", "recover", "claims", "alerts")


@dataclass
class AlertsResult:
    run_id: int
    raised: int = 0
    resolved: int = 0
    open: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "raised": self.raised, "resolved": self.resolved,
                "open": self.open}  # fmt: skip

    def counts(self) -> dict[str, Any]:
        return {"raised": self.raised, "resolved": self.resolved, "open": len(self.open)}


def stale_kinds(settings: Settings, watching: bool | None = None) -> list[str]:
    """The job kinds ``job_stale`` watches (``alerts`` itself is running while it evaluates)."""
    watched = settings.watch_dir is not None if watching is None else watching
    kinds = (["ingest"] if watched else []) + list(WORKER_KINDS)
    return [k for k in kinds if k != "alerts"]


def evaluate(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    job_kinds: Sequence[str] | None = None,
) -> AlertsResult:
    """Evaluate every rule and update the alert table in one transaction; record the run."""
    kinds = list(job_kinds) if job_kinds is not None else stale_kinds(settings)
    with jobs.recorded(engine, "alerts", now) as run:
        result = AlertsResult(run_id=run.id)
        run.counts = result.counts
        summaries.ensure(engine, settings, now)
        with transaction(engine) as session:
            firing = firing_now(session, settings, now=now, job_kinds=kinds)
            result.raised, result.resolved = alerts_store.apply(session, firing, KINDS, now)
            result.open = alerts_store.open_alerts(session)
    return result


def firing_now(
    session: Session, settings: Settings, *, now: dt.datetime, job_kinds: Sequence[str]
) -> alerts_store.Firing:
    firing: alerts_store.Firing = {}
    red_ids = backlog.kpi_red_ids(now, settings.kpi_grace_days)
    split = {k: {"leads": v["leads"], "at_stake": v["at_stake"]}
             for k, v in segment_summary(session, settings, now).items()}  # fmt: skip
    red = sum(v["leads"] for v in split.values())  # the segments split KPI red
    if red:
        firing[("over_24h_no_identity", "leads")] = {
            "severity": "warning",
            "detail": {"leads": red, "grace_days": settings.kpi_grace_days,
                       "oldest": alerts_store.sample_lead_ids(session, red_ids),
                       "segments": split},
        }  # fmt: skip
    cutoffs = gap_store.GapCutoffs.at(now, settings.gap_medium_days, settings.gap_high_days)
    old, sample = gap_store.count_unresolved_since(session, cutoffs)
    if old:
        firing[("over_7d_unresolved", "leads")] = {
            "severity": "critical",
            "detail": {"leads": old, "days": settings.gap_high_days, "oldest": sample},
        }
    limit = now - dt.timedelta(hours=settings.job_stale_hours)
    for kind, last in alerts_store.last_success(session, job_kinds).items():
        if last is None or last < limit:
            firing[("job_stale", kind)] = {
                "severity": "critical" if last is None else "warning",
                "detail": {"last_success": last.isoformat() if last else None,
                           "stale_after_hours": settings.job_stale_hours},
            }  # fmt: skip
    trend = alerts_store.backlog_trend(
        session, now.date() - dt.timedelta(days=settings.backlog_growing_days - 1), now.date()
    )
    values = [v for _, v in trend]
    if len(values) >= 2 and all(b > a for a, b in zip(values, values[1:], strict=False)):
        firing[("backlog_growing", "kpi_red")] = {
            "severity": "warning",
            "detail": {"days": [d.isoformat() for d, _ in trend], "backlog": values,
                       "rise": values[-1] - values[0], "segments": split},
        }  # fmt: skip
    until = now.date() + dt.timedelta(days=settings.recoverable_expiring_days)
    soon, stake, nearest = backlog_view.expiring(session, segment_rules(settings, now), until)
    if soon:
        firing[("recoverable_expiring", "recoverable")] = {
            "severity": "warning",
            "detail": {"leads": soon, "at_stake": stake, "until": until.isoformat(),
                       "days": settings.recoverable_expiring_days, "nearest": nearest},
        }  # fmt: skip
    firing.update(activity_growing(session, settings, now=now))
    return firing


def activity_growing(
    session: Session, settings: Settings, *, now: dt.datetime
) -> alerts_store.Firing:
    """Record today's unlinked-activity snapshot; fire when it has more drivers than the
    previous snapshot. The detail names a few drivers (the most would-claim money first)."""
    totals, previous, sample = activity_service.record_snapshot(session, settings, now=now)
    if previous is None or totals["drivers"] <= previous["drivers"]:
        return {}
    # Each example driver's person, so the dashboard links the driver to its person page.
    return {("unlinked_activity_growing", "drivers"): {
        "severity": "warning",
        "detail": {"drivers": totals["drivers"], "previous": previous["drivers"],
                   "previous_day": previous["day"], "rise": totals["drivers"] - previous["drivers"],
                   "would_claim": totals["would_claim"], "examples": sample,
                   "persons": alerts_store.driver_persons(session, sample)},
    }}  # fmt: skip


def open_now(engine: Engine) -> list[dict[str, Any]]:
    """The open alerts as the last evaluation left them, oldest first (reads only: the
    dashboard shows them; ``evaluate`` is the worker's and `leadlink alerts`' job)."""
    with transaction(engine) as session:
        return alerts_store.open_alerts(session)


NOTE_CHARS = 2000  # the API's limit on a note, kept by the CLI and the page alike


def acknowledge(
    engine: Engine, alert_id: int, *, actor: str, note: str | None, now: dt.datetime
) -> dict[str, Any]:
    """Acknowledge an open alert as ``actor`` (audited ``alert_ack``); the alert afterwards.

    NotFoundError: no such alert. UsageError (a conflict: 409, exit 2): it is resolved, or
    somebody acknowledged it already (named, with when)."""
    actor = actor.strip()
    note = (note or "").strip() or None
    if not actor:
        raise UsageError("an acknowledgement needs who makes it (--by NAME)",
                         code="decision_needs_actor")
    if note is not None and len(note) > NOTE_CHARS:
        raise UsageError("the note has {n} characters: at most {most}", code="note_too_long",
                         n=len(note), most=NOTE_CHARS)
    with transaction(engine) as session:
        done, row = alerts_store.acknowledge(session, alert_id, actor=actor, note=note, now=now)
        if row is None:
            raise NotFoundError("no alert {id}", code="alert_unknown", id=alert_id)
        if not done:
            if row.resolved_at is not None:
                raise UsageError("alert {id} ({kind} {subject}) is resolved since {when}: "
                                 "nothing to acknowledge", code="alert_resolved",
                                 id=alert_id, kind=row.kind, subject=row.subject,
                                 when=f"{row.resolved_at:%Y-%m-%d %H:%M}")  # fmt: skip
            raise UsageError("alert {id} ({kind} {subject}) is already acknowledged by {by} "
                             "at {when}", code="alert_acknowledged", id=alert_id,
                             kind=row.kind, subject=row.subject, by=row.acknowledged_by,
                             when=f"{row.acknowledged_at:%Y-%m-%d %H:%M}")  # fmt: skip
        audit.record(session, actor=actor, action="alert_ack", target=f"alert:{alert_id}",
                     detail={"kind": row.kind, "subject": row.subject,
                             "severity": row.severity, "note": note}, now=now)  # fmt: skip
        return alerts_store.alert_dict(row)
