"""Request ids, structured (JSON) request logs, Prometheus metrics, and the health check.

Every response carries ``X-Request-ID`` (the caller's, when it sends one) and every request
is logged as one JSON line with that id, the route, status, duration and actor. ``/metrics``
is Prometheus text: request latency by method, route template and status (bounded labels),
and, read from the database at scrape time, the KPI-red backlog, records matched by the last
match run, each job kind's last duration, unlinked activity (drivers riding with no lead and
no origin, and the soles their trips would claim: docs/activity.md) and the open alerts per
kind, with how many of them nobody acknowledged yet (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.routing import BaseRoute, Mount

from leadlink import __version__, clock
from leadlink.pipeline.money import activity
from leadlink.pipeline.money.segments import segment_summary
from leadlink.pipeline.operations.alerts import KINDS as ALERT_KINDS
from leadlink.pipeline.summaries import ensure
from leadlink.settings import Settings
from leadlink.store import alerts, jobs
from leadlink.store.db import current_revision, heads, transaction
from leadlink.web.deps import ViewerDep

log = logging.getLogger("leadlink.web")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extras."""

    FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms", "actor")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("leadlink")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class StoreCollector(Collector):
    """Gauges read from the database when Prometheus scrapes (never stale, no background job)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = clock.utcnow()
        ensure(self.engine, self.settings, now)
        with transaction(self.engine) as session:
            segments = segment_summary(session, self.settings, now)
            open_alerts = alerts.open_counts(session)
        red = sum(v["leads"] for v in segments.values())  # the segments split KPI red
        yield GaugeMetricFamily(
            "leadlink_backlog_kpi_red", "Leads with no person past the grace days.", value=red
        )
        yield from segment_gauges(segments)
        unlinked = activity.figure(self.engine, self.settings, now=now)
        yield GaugeMetricFamily(
            "leadlink_unlinked_activity_drivers",
            "Drivers with completed trips whose person has no lead and no origin.",
            value=unlinked["drivers"],
        )
        yield GaugeMetricFamily(
            "leadlink_unlinked_activity_would_claim_soles",
            "Soles their trips inside a claim window would claim, were they leads.",
            value=unlinked["would_claim"],
        )
        matched = GaugeMetricFamily(
            "leadlink_last_match_records", "Records decided by the last match run, by outcome.",
            labels=["outcome"],
        )  # fmt: skip
        duration = GaugeMetricFamily(
            "leadlink_job_last_duration_seconds", "Duration of each kind's newest finished run.",
            labels=["kind", "status"],
        )  # fmt: skip
        age = GaugeMetricFamily(
            "leadlink_job_last_success_age_seconds", "Seconds since each job kind last succeeded.",
            labels=["kind"],
        )  # fmt: skip
        for run in jobs.latest_by_kind(self.engine):
            if run["finished_at"] is not None:
                seconds = (run["finished_at"] - run["started_at"]).total_seconds()
                duration.add_metric([run["kind"], run["status"]], seconds)
            if run["last_ok_at"] is not None:
                age.add_metric([run["kind"]], (now - run["last_ok_at"]).total_seconds())
            if run["kind"] == "match":
                for outcome, value in match_outcomes(run["counts"]).items():
                    matched.add_metric([outcome], value)
        yield from (matched, duration, age)
        yield from alert_gauges(open_alerts)


def alert_gauges(counts: dict[str, dict[str, int]]) -> Iterator[GaugeMetricFamily]:
    """Every rule's kind, 0 included (a rule that fires shows up as a rise, not a new series).
    An acknowledged alert still holds, so it counts as open; page on the unacknowledged ones."""
    opened = GaugeMetricFamily(
        "leadlink_alerts_open", "Open (firing) alerts by kind, acknowledged or not.",
        labels=["kind"],
    )  # fmt: skip
    pending = GaugeMetricFamily(
        "leadlink_alerts_unacknowledged", "Open alerts by kind that no operator acknowledged.",
        labels=["kind"],
    )  # fmt: skip
    for kind in ALERT_KINDS:
        found = counts.get(kind, {"open": 0, "unacknowledged": 0})
        opened.add_metric([kind], found["open"])
        pending.add_metric([kind], found["unacknowledged"])
    yield from (opened, pending)


def segment_gauges(segments: dict[str, dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    """The KPI-red backlog by segment (docs/recovery.md, "Backlog segments"): leads, soles at
    stake, and the lost leads by the reason they were lost."""
    leads = GaugeMetricFamily(
        "leadlink_backlog_segment_leads", "KPI-red leads per segment.", labels=["segment"]
    )
    stake = GaugeMetricFamily(
        "leadlink_backlog_segment_at_stake_soles", "Soles at stake per backlog segment.",
        labels=["segment"],
    )  # fmt: skip
    lost = GaugeMetricFamily(
        "leadlink_backlog_lost_leads", "Lost backlog leads per loss reason.", labels=["reason"]
    )
    for name, v in segments.items():
        leads.add_metric([name], v["leads"])
        stake.add_metric([name], v["at_stake"])
    for reason, n in sorted(segments["lost"]["by_reason"].items()):
        lost.add_metric([reason], n)
    yield from (leads, stake, lost)


def match_outcomes(counts: dict[str, Any]) -> dict[str, float]:
    """processed / linked / new_persons / review / unmatched (summed over reasons) of a run."""
    out = {k: float(counts[k]) for k in ("processed", "linked", "new_persons", "review")
           if isinstance(counts.get(k), int | float)}  # fmt: skip
    unmatched = counts.get("unmatched")
    if isinstance(unmatched, dict):
        out["unmatched"] = float(sum(v for v in unmatched.values() if isinstance(v, int | float)))
    return out


class Metrics:
    """One registry per app, so two apps in one process (tests) never share counters."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "leadlink_http_request_duration_seconds", "HTTP request latency.",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.registry.register(StoreCollector(engine, settings))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


# Label values must come from a closed set: every distinct value is a new time series kept
# for the life of the process, so a client inventing methods or paths could grow /metrics
# (and Prometheus) without end. Methods outside RFC 9110 and PATCH count as OTHER; a path is
# named by the template of the route that matched it, and every path no route matched is
# counted under UNMATCHED.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
OTHER_METHOD = "OTHER"
UNMATCHED = "unmatched"


def method_label(method: str) -> str:
    """The request's method when it is a standard one, else ``OTHER``."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def route_label(scope: Mapping[str, Any], routes: Sequence[BaseRoute]) -> str:
    """The template of the route the router matched (``/api/persons/{person_key}``), the path
    of the mount that served it (``/static``), or ``unmatched``: never the requested path."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if isinstance(template, str) and template:
            return template
    # FastAPI's router does not set scope["route"] for a mount; the mount leaves its app as
    # the scope's endpoint, which names it among the app's own routes.
    endpoint = scope.get("endpoint")
    for candidate in routes:
        if isinstance(candidate, Mount) and endpoint is not None and candidate.app is endpoint:
            return candidate.path
    return UNMATCHED


def install(app: FastAPI, metrics: Metrics) -> None:
    """The request-id/log/latency middleware."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(request.scope, app.routes)
            metrics.latency.labels(method_label(request.method), route, str(status)).observe(
                elapsed
            )
            log.info(
                "request", extra={"request_id": request_id, "method": request.method,
                                  "path": request.url.path, "route": route, "status": status,
                                  "duration_ms": round(elapsed * 1000, 2),
                                  "actor": getattr(request.state, "actor", None)},
            )  # fmt: skip


def health(engine: Engine, now: dt.datetime) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 when the database answers and is at the migrations' head."""
    body: dict[str, Any] = {"database": "ok", "migrations": None, "jobs": {}}
    try:
        revision = current_revision(engine)
        expected = heads(engine)
        runs = jobs.latest_by_kind(engine)
    except Exception as exc:  # any failure to reach the database is the answer itself
        body["database"] = f"unreachable: {type(exc).__name__}"
        return 503, body
    at_head = revision in expected
    body["migrations"] = {"current": revision, "head": expected, "at_head": at_head}
    for run in runs:
        last_ok = run["last_ok_at"]
        body["jobs"][run["kind"]] = {
            "last_status": run["status"],
            "last_ok_age_seconds": None if last_ok is None else (now - last_ok).total_seconds(),
        }
    return (200 if at_head else 503), body


def routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/healthz", tags=["observability"], summary="Database, migrations, job ages")
    def healthz(request: Request) -> JSONResponse:
        now = clock.utcnow()
        status, body = health(request.app.state.engine, now)
        body["status"] = "ok" if status == 200 else "unhealthy"
        body["version"] = __version__
        return JSONResponse(body, status_code=status)

    @app.get("/metrics", tags=["observability"], response_class=PlainTextResponse,
             summary="Prometheus text format (needs a token)")  # fmt: skip
    def metrics_route(_: ViewerDep) -> Response:
        return metrics.render()
