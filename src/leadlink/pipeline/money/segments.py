"""`leadlink backlog`: the KPI-red backlog split by what can still be claimed.

Definitions live with the SQL in ``leadlink.store.segments`` (docs/recovery.md, "Backlog
segments"); the rows are read from the summary tables (``store.backlog_view``,
docs/summaries.md); this service brings the configuration and the calendar, and shapes the
report. The summary always covers the whole backlog; the segment filter only narrows the
``leads`` page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import UsageError
from leadlink.pipeline.summaries import ensure, freshness, segment_rules
from leadlink.settings import Settings
from leadlink.store import backlog_view
from leadlink.store import segments as segments_store
from leadlink.store.db import transaction

SEGMENTS = segments_store.SEGMENTS
Segment = segments_store.Segment


def segment_summary(
    session: Session, settings: Settings, now: dt.datetime
) -> dict[str, dict[str, Any]]:
    """segment -> {"leads", "at_stake", "next_deadline", "by_reason"}, dates as ISO text, in the
    caller's transaction (impact, alerts and /metrics read the segments with their own data;
    they ``ensure`` the summary tables first)."""
    raw = backlog_view.summary(session, segment_rules(settings, now))
    return {s: {**v, "next_deadline": _iso(v["next_deadline"])} for s, v in raw.items()}


def backlog_segments(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    segments: Sequence[str] = (),
    limit: int = backlog_view.LIMIT,
    offset: int = 0,
    sort: str | None = None,
    losses: Sequence[str] = (),
) -> dict[str, Any]:
    """``{"as_of", "kpi_red", "at_stake", "segments": {SEGMENT: {...}}, "leads": [...],
    "total", "limit", "offset", "filters", "facets"}``: the whole backlog's segments and one
    page of it, in working order or in ``sort`` (``backlog_view.SORTS``); ``losses`` (loss
    reasons) keep the lost leads lost for one of them. ``facets`` count the leads per segment
    and per loss reason, read from the summary (the leads of each value, whatever is chosen)."""
    bad = [s for s in segments if s not in SEGMENTS]
    if bad:
        raise UsageError("unknown segment {bad}: segments are {known}", code="segment_unknown",
                         bad=", ".join(bad), known=", ".join(SEGMENTS))
    if sort not in (None, "", *backlog_view.SORTS):
        raise UsageError("unknown sort {sort!r}; one of: {known}", code="sort_unknown",
                         sort=sort, known=", ".join(backlog_view.SORTS))
    rules = segment_rules(settings, now)
    ensure(engine, settings, now)
    with transaction(engine) as session:
        summary = segment_summary(session, settings, now)
        reasons = summary["lost"]["by_reason"]
        chosen = list(segments)
        if losses:  # only lost leads, those of the chosen reasons
            lost = sum(reasons.get(r, 0) for r in losses)
            counts = {"lost": lost if not segments or "lost" in segments else 0}
            chosen = ["lost"]
        else:
            counts = {s: v["leads"] for s, v in summary.items()}
        total = sum(n for s, n in counts.items() if not chosen or s in chosen)
        if offset >= total:
            rows = []
        elif sort:
            rows = backlog_view.sorted_page(session, rules, sort, chosen, limit, offset,
                                            losses)  # fmt: skip
        else:
            rows = backlog_view.leads(session, rules, counts, segments=chosen, limit=limit,
                                      offset=offset, losses=losses)  # fmt: skip
        fresh = freshness(session).get("backlog")
    return {
        "as_of": now.date().isoformat(),
        "kpi_red": sum(v["leads"] for v in summary.values()),
        "at_stake": round(sum(v["at_stake"] for v in summary.values()), 2),
        "segments": summary,
        "leads": [lead_dict(r, now.date()) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "sort": sort or None,
        "filters": {"segment": list(segments), "loss_reason": list(losses)},
        "facets": {"segment": {s: v["leads"] for s, v in summary.items()},
                   "loss_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))},
        "summary_table": fresh,
    }


def lead_dict(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """A backlog row as every surface shows it (dates as ISO text, days left until its
    deadline)."""
    deadline = row["deadline"]
    return {
        "lead_id": row["lead_id"],
        "lead_date": _iso(row["lead_date"]),
        "segment": row["segment"],
        "loss_reason": row["loss_reason"],
        "reason": row["reason"],
        "candidate": row["candidate"],
        "candidate_trips": int(row["candidate_trips"] or 0),
        "at_stake": round(float(row["at_stake"] or 0.0), 2),
        "deadline": _iso(deadline),
        "days_left": None if deadline is None else (deadline - today).days,
    }


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()
