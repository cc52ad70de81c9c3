"""`leadlink impact`: did the recovery loop drain the KPI-red backlog over a window of days?"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.money.segments import segment_summary
from leadlink.pipeline.summaries import ensure
from leadlink.settings import Settings
from leadlink.store import recovery as recovery_store
from leadlink.store.db import transaction


def impact(
    engine: Engine, settings: Settings, *, now: dt.datetime, days: int = 7
) -> dict[str, Any]:
    """The backlog now against the start of the window, and the daily rows of the window.

    ``delta`` = after - before (negative: the backlog fell). Success = matched out > new in.
    ``segments``: the backlog now by what can still be claimed (``leadlink backlog``): the
    seeds' target is recoverable + waiting drained to zero, lost explained by its reasons.
    """
    since = now.date() - dt.timedelta(days=days - 1)
    ensure(engine, settings, now)
    with transaction(engine) as session:
        rows = recovery_store.daily_rows(session, since)
        first, last = recovery_store.day_span(since)[0], recovery_store.day_span(now.date())[1]
        top = recovery_store.top_fail_reason(session, first, last)
        queue = recovery_store.status_counts(session, now)
        segments = segment_summary(session, settings, now)
    after = sum(v["leads"] for v in segments.values())  # the segments split KPI red
    before = rows[0].backlog_before if rows else after
    matched_out = sum(r.matched_out for r in rows)
    new_in = sum(r.new_in for r in rows)
    return {
        "since": since.isoformat(), "days_window": days,
        "backlog_before": before, "backlog_after": after, "delta": after - before,
        "matched_out": matched_out, "new_in": new_in, "top_fail_reason": top,
        "success": matched_out > new_in, "queue": queue,
        "segments": {k: {"leads": v["leads"], "at_stake": v["at_stake"]}
                     for k, v in segments.items()},
        "lost_by_reason": segments["lost"]["by_reason"],
        "drained": segments["recoverable"]["leads"] + segments["waiting"]["leads"] == 0,
        "days": [
            {"day": r.day.isoformat(), "backlog_before": r.backlog_before,
             "backlog_after": r.backlog_after, "delta": r.backlog_after - r.backlog_before,
             "matched_out": r.matched_out, "new_in": r.new_in, "processed": r.processed,
             "failed": r.failed, "top_fail_reason": r.top_fail_reason,
             "success": r.matched_out > r.new_in}
            for r in rows
        ],
    }  # fmt: skip
