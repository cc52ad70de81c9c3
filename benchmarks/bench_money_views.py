"""Latency of the money views a person reads after `match`, on an existing store.

Each view is called --n times on a warm process, in-process (the service function) and over the
real app (FastAPI's TestClient: routing, token, validation, JSON), and reported as p50 / p95 /
max in milliseconds, with the size of the backlog it answered over. Build the store first, e.g.:

    .venv/bin/leadlink --db sqlite:////tmp/d100k/l.db demo --leads 100000 --data-dir /tmp/d100k
    .venv/bin/python benchmarks/bench_money_views.py --db sqlite:////tmp/d100k/l.db --n 50

The views: the backlog segments (`leadlink backlog`: the summary and the first page, and a
page deep in the lost segment), the segment summary alone (what /metrics and the alerts read),
`impact`, the alert rules' evaluation (rolled back: nothing written), unlinked activity
(`leadlink activity`, and the figure the funnel and /metrics read), and the routes
`/api/backlog`, `/backlog.json`, `/api/activity`, `/activity.json`, `/overview.json`,
`/api/funnel` and `/metrics`, and the HTML pages `/backlog`, `/activity` and `/` (the overview:
the funnel); the funnel service alone too (what the claims report reads). A viewer token is
created in the store.

They all read the summary tables (docs/summaries.md); what writes them is timed too, rolled
back so the store is left as it was: the full refresh of every view (what `match`, `recover`
and `leadlink refresh` end with, and what the first reader after an ingest pays), that of the
funnel alone (what the claims job and the first reader of a new day add), and a review
decision's share (one recoverable lead and its candidate, ``summaries.touch``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from leadlink.clock import utcnow
from leadlink.pipeline.money.activity import figure as activity_figure
from leadlink.pipeline.money.activity import unlinked_activity
from leadlink.pipeline.money.funnel import funnel
from leadlink.pipeline.money.impact import impact
from leadlink.pipeline.money.segments import backlog_segments, segment_summary
from leadlink.pipeline.operations import tokens
from leadlink.pipeline.operations.alerts import firing_now
from leadlink.pipeline.summaries import refresh_in, touch
from leadlink.settings import load_settings
from leadlink.store import queries
from leadlink.store.db import make_engine, rehearsal, transaction
from leadlink.web import create_app

SLOW_N = 3
SLOW_S = 5.0  # a view whose warm call takes longer is timed SLOW_N times, not --n


def timed(fn: Callable[[], Any], n: int) -> dict[str, float]:
    start = time.perf_counter()
    fn()  # warm: caches, the first query plan
    if time.perf_counter() - start > SLOW_S:
        n = min(n, SLOW_N)
    took = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 1),
            "p95_ms": round(took[min(len(took) - 1, int(0.95 * len(took)))], 1),
            "max_ms": round(took[-1], 1), "n": len(took)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="Database URL of an existing store.")
    parser.add_argument("--n", type=int, default=50, help="Calls per view.")
    parser.add_argument("--refresh-n", type=int, default=1,
                        help="Full refreshes timed (each after an untimed one).")
    parser.add_argument("--only", default="",
                        help="Comma-separated name starts: time only those views and routes "
                             "(e.g. 'GET /api/backlog,backlog'; end one with $ for an exact "
                             "name: 'GET /$').")
    parser.add_argument("--now", help="ISO date-time to classify at (default: now, UTC).")
    args = parser.parse_args()
    only = tuple(x for x in args.only.split(",") if x)

    def wanted(name: str) -> bool:
        # A start ending in $ names one view exactly ('GET /$': the overview page alone).
        return not only or any(name == x[:-1] if x.endswith("$") else name.startswith(x)
                               for x in only)  # fmt: skip

    settings = load_settings(db=args.db)
    engine = make_engine(args.db)
    now = dt.datetime.fromisoformat(args.now) if args.now else utcnow()

    def rolled_back_alerts() -> None:
        with rehearsal(engine) as session:
            firing_now(session, settings, now=now, job_kinds=[])

    def summary_only() -> None:
        with transaction(engine) as session:
            segment_summary(session, settings, now)

    split = backlog_segments(engine, settings, now=now)
    first = next((r for r in split["leads"] if r["segment"] == "recoverable"), None)

    def rolled_back_refresh() -> None:
        with rehearsal(engine) as session:
            refresh_in(session, settings, now)

    def rolled_back_funnel() -> None:
        with rehearsal(engine) as session:
            refresh_in(session, settings, now, views=("funnel",))

    def rolled_back_decision() -> None:
        if first is None:
            return
        with rehearsal(engine) as session:
            record = queries.record(session, "leads", first["lead_id"])
            assert record is not None
            touch(session, settings, now, leads={record.id}, persons={first["candidate"]})

    write_views = {"refresh, every view in full (rolled back)": (rolled_back_refresh,
                                                                  args.refresh_n),
                   "refresh, the funnel alone (rolled back)": (rolled_back_funnel,
                                                               args.refresh_n),
                   "a review decision's rows (rolled back)": (rolled_back_decision, args.n)}
    writes = {k: timed(fn, n) for k, (fn, n) in write_views.items() if wanted(k)}
    activity = unlinked_activity(engine, settings, now=now, limit=1)
    deep_drivers = max(0, activity["total"] - 50)
    deep = max(0, split["segments"]["lost"]["leads"] - 50)
    views: dict[str, Callable[[], Any]] = {
        "backlog (summary + first page)": lambda: backlog_segments(engine, settings, now=now),
        f"backlog lost page at offset {deep}": lambda: backlog_segments(
            engine, settings, now=now, segments=["lost"], offset=deep),
        "segment summary (/metrics, alerts)": summary_only,
        "impact --days 7": lambda: impact(engine, settings, now=now, days=7),
        "alert rules (rolled back)": rolled_back_alerts,
        "activity (summary + first page + trend)": lambda: unlinked_activity(
            engine, settings, now=now),
        "activity figure (/metrics, funnel)": lambda: activity_figure(engine, settings, now=now),
        f"activity page at offset {deep_drivers}": lambda: unlinked_activity(
            engine, settings, now=now, offset=deep_drivers),
        "funnel (/api/funnel, overview, claims report)": lambda: funnel(engine, settings,
                                                                        now=now),
    }  # fmt: skip
    results = {name: timed(fn, args.n) for name, fn in views.items() if wanted(name)}
    results.update(writes)

    token, _ = tokens.create(engine, role="viewer", name=f"bench-{uuid.uuid4().hex[:8]}",
                             now=utcnow())  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, engine)) as client:
        for path in ("/api/backlog", "/backlog.json", "/api/activity", "/activity.json",
                     "/overview.json", "/metrics", "/backlog", "/activity", "/api/funnel", "/",
                     f"/api/backlog?segment=lost&offset={deep}"):
            if not wanted(f"GET {path}"):
                continue

            def get(path: str = path) -> None:
                response = client.get(path, headers=headers)
                response.raise_for_status()

            results[f"GET {path}"] = timed(get, args.n)
    print(json.dumps({
        "db": engine.url.render_as_string(hide_password=True), "now": now.isoformat(),
        "kpi_red": split["kpi_red"], "activity_drivers": activity["total"],
        "segments": {k: v["leads"] for k, v in split["segments"].items()},
        "n": args.n, "views": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
