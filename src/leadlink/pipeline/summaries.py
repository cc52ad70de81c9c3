"""The money views' summary tables kept true (docs/summaries.md).

The backlog segments and unlinked activity are summarised in tables (``store.money_tables``)
so that every page, API call and report reads a few indexed rows instead of classifying the
whole store; the review queue's money at stake is stored on its open items the same way (the
view ``review``, ``store.review_stake``; the claims job refreshes it too: claimed milestones
are no longer at stake), and the lead funnel per person and per stage (the view ``funnel``,
``store.funnel_view``; the claims job refreshes it too: a claim moves a person to OK):

- the jobs that change their inputs in bulk (ingest, match, recover, merge, unmerge,
  quarantine, origins backfill) rewrite them in full before they finish (``refresh``);
- a decision on one lead (review accept or reject, an online post) rewrites the rows it
  touches in its own transaction (``touch``);
- a reader that finds them never computed, computed under other settings, or (activity, the
  funnel) for another day, computes them first (``ensure``), so a figure is never silently wrong;
- ``freshness`` tells a page when a writer job is running, or failed or died since the last
  refresh: its figures may lag, and the page says so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.settings import Settings
from leadlink.store import (
    activity_view,
    backlog_view,
    funnel_view,
    jobs,
    money_refresh,
    review_stake,
)
from leadlink.store.db import ReadOnlyDatabaseError, transaction
from leadlink.store.segments import SegmentRules

VIEWS = money_refresh.VIEWS
# Views whose rows count trips up to their day: computed for a day, stale the next.
DAILY = ("activity", "funnel")
# Trips needed per milestone (docs/claims.md); the amounts come from configuration.
MILESTONES: tuple[tuple[str, int], ...] = (("M1", 1), ("M5", 5), ("M25", 25))


def claim_ladder(settings: Settings) -> tuple[tuple[str, int, float], ...]:
    """``(milestone, trips needed, amount)`` per milestone, the amounts from configuration:
    what the store's window queries (``store.windows.ladder_amount``) price trips with."""
    amounts = settings.claim_amounts()
    return tuple((name, need, amounts[name]) for name, need in MILESTONES)


def segment_rules(settings: Settings, now: dt.datetime) -> SegmentRules:
    """What the backlog's classification needs from configuration and the calendar."""
    return SegmentRules(
        now=now,
        grace_days=settings.kpi_grace_days,
        window_days=settings.claim_window_days,
        expiry_days=settings.claim_expiry_days,
        review_threshold=settings.review_threshold,
        ladder=claim_ladder(settings),
    )


def fingerprint(settings: Settings) -> str:
    """The settings the stored rows depend on (the calendar-free ones)."""
    ladder = ",".join(f"{m}:{n}:{a:g}" for m, n, a in claim_ladder(settings))
    return f"t={settings.review_threshold:g};w={settings.claim_window_days};l={ladder}"


def refresh_in(
    session: Session, settings: Settings, now: dt.datetime, views: Iterable[str] = VIEWS
) -> dict[str, dict[str, Any]]:
    """Rewrite ``views`` in full in the caller's transaction; per view its rows and seconds."""
    money_refresh.serialise(session)
    out = {}
    for view in views:
        began = time.perf_counter()
        if view == "backlog":
            rows = backlog_view.refresh(session, segment_rules(settings, now))
        elif view == "review":
            rows = review_stake.refresh(session, settings.claim_window_days,
                                        claim_ladder(settings))  # fmt: skip
        elif view == "funnel":
            rows = funnel_view.refresh(session, now.date(), settings.claim_window_days,
                                       claim_ladder(settings))  # fmt: skip
        else:
            rows = activity_view.refresh(session, now.date(), settings.claim_window_days,
                                         claim_ladder(settings))  # fmt: skip
        seconds = time.perf_counter() - began
        money_refresh.record(session, view, now=now, as_of=now.date(),
                             settings=fingerprint(settings), rows=rows,
                             seconds=seconds)  # fmt: skip
        out[view] = {"rows": rows, "seconds": round(seconds, 3)}
    return out


def refresh(
    engine: Engine, settings: Settings, now: dt.datetime, views: Iterable[str] = VIEWS
) -> dict[str, dict[str, Any]]:
    """Rewrite ``views`` in full in one transaction (a job's last step, ``leadlink refresh``)."""
    with transaction(engine) as session:
        return refresh_in(session, settings, now, views)


def touch(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    leads: Collection[int] = (),
    persons: Collection[str] = (),
) -> None:
    """Rewrite, in the caller's transaction, the rows a decision on ``leads`` (lead record
    ids) involving ``persons`` can change: those leads' backlog rows and those of the leads
    proposed for the persons; the persons' activity rows and those of the persons whose best
    candidate is one of the leads; the money at stake of the open review items of the leads
    and of the persons; the funnel rows of the persons, of the leads' persons (past ones
    included) and of the leads left with no person."""
    if not leads and not persons:
        return
    money_refresh.serialise(session)
    backlog_view.refresh(session, segment_rules(settings, now), leads=leads, persons=persons)
    activity_view.refresh(session, now.date(), settings.claim_window_days,
                          claim_ladder(settings), persons=persons, leads=leads)  # fmt: skip
    review_stake.refresh(session, settings.claim_window_days, claim_ladder(settings),
                         records=leads, persons=persons)  # fmt: skip
    funnel_view.refresh(session, now.date(), settings.claim_window_days, claim_ladder(settings),
                        persons=persons, leads=leads)  # fmt: skip


def stale_views(session: Session, settings: Settings, now: dt.datetime) -> list[str]:
    """The views whose rows cannot be read as they are: never computed, computed under other
    settings, or (activity and the funnel, whose windows stop at their day) computed for
    another day."""
    known = money_refresh.state(session)
    print_ = fingerprint(settings)
    out = []
    for view in VIEWS:
        got = known.get(view)
        other_day = view in DAILY and got is not None and _day(got["as_of"]) != now.date()
        if got is None or got["settings"] != print_ or other_day:
            out.append(view)
    return out


def ensure(
    engine: Engine, settings: Settings, now: dt.datetime, views: Iterable[str] = VIEWS
) -> None:
    """Compute those of ``views`` a reader cannot use as they are (``stale_views``), each in
    full. A read-only store (a copy opened to look, a standby) cannot: its reader gets the
    figures as stored, and ``freshness`` says when they were computed, if ever."""
    wanted = set(views)
    with transaction(engine) as session:
        if not wanted & set(stale_views(session, settings, now)):
            return
    try:
        with transaction(engine) as session:
            # Checked again under the lock: another reader may have computed them meanwhile.
            money_refresh.serialise(session)
            stale = [v for v in stale_views(session, settings, now) if v in wanted]
            if stale:
                refresh_in(session, settings, now, stale)
    except ReadOnlyDatabaseError:
        return


def freshness(session: Session) -> dict[str, dict[str, Any]]:
    """view -> {"refreshed_at", "as_of", "rows", "seconds", "lagging"}: ``lagging`` is true
    when a writer job is running, or failed or died, since the last refresh (figures may
    lag behind the data until the next job or ``leadlink refresh``)."""
    out = {}
    for view, got in money_refresh.state(session).items():
        out[view] = {
            "refreshed_at": got["refreshed_at"].isoformat(timespec="seconds"),
            "as_of": _day(got["as_of"]).isoformat(),
            "rows": got["rows"], "seconds": got["seconds"],
            "lagging": got["writers_since"] > 0,
        }  # fmt: skip
    return out


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def invalidate(session: Session) -> None:
    """A bulk write that does not refresh the summaries itself (ingest, merge, unmerge,
    quarantine, origins backfill) forgets them in its own transaction: the next reader
    computes them again (``ensure``)."""
    money_refresh.invalidate(session)


def refresh_job(engine: Engine, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """`leadlink refresh`: every view in full, recorded as a job run of kind ``refresh``."""
    with jobs.recorded(engine, "refresh", now) as run:
        views = refresh(engine, settings, now)
        run.counts = lambda: {f"{v}_rows": views[v]["rows"] for v in views}
    return {"run_id": run.id, "as_of": now.date().isoformat(), "views": views}
