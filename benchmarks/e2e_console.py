"""bench_e2e.py's console half: every GET page and API route of a running `leadlink serve`,
timed per request, and the online path (POST /api/leads) before and after a batch write.

The server is bench_api_leads.serving (its own `leadlink serve` process on a free port of
127.0.0.1, a bearer token of role operator). The routes are read off the app itself
(`create_app().routes`), so a page added later is measured without touching this file; path
parameters are filled from the store (a lead id, a person key, a review item id, read through
the API), and a few filter and deep-page variants are added (the last page of each list whose
total the API gives). Every loop is bounded in count (--requests) and in time (--route-seconds):
a route slower than the budget allows is reported with the requests it got.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench_api_leads import SECRET, as_post, serving

from leadlink.pipeline.operations import tokens
from leadlink.settings import load_settings
from leadlink.store.db import make_engine

# Not a page a person reads, nor data: the schema viewers and static files.
SKIPPED = ("/static", "/docs", "/redoc", "/docs/oauth2-redirect")
# Filter and deep-page variants: (route, query). "{last:API}" is the offset of the last page of
# API's list (its `total` less one page): how deep a person can page.
VARIANTS: tuple[tuple[str, str], ...] = (
    ("/gap", "offset={last:/api/gap}"),
    ("/gap", "risk=high&reason=no_identity"),
    ("/api/gap", "offset={last:/api/gap}"),
    ("/api/gap", "risk=high&sort=-lead_date"),
    ("/api/unmatched", "offset={last:/api/unmatched}"),
    ("/api/unmatched", "source=leads&risk=high&sort=age"),
    ("/api/leads", "offset={last:/api/leads}"),
    ("/api/leads", "status=unmatched&reason=NO_CANDIDATES"),
    ("/api/leads", "q=Garcia"),
    ("/api/persons", "offset={last:/api/persons}"),
    ("/api/persons", "name=Maria Garcia"),
    ("/review", "offset={last:/api/review}"),
    ("/api/review", "offset={last:/api/review}"),
    ("/api/claims", "offset={last:/api/claims}"),
    ("/api/claims", "status=paid&sort=-amount"),
    ("/backlog", "offset={last:/api/backlog}"),
    ("/api/backlog", "offset={last:/api/backlog}"),
    ("/api/activity", "offset={last:/api/activity}"),
    ("/activity", "offset={last:/api/activity}"),
    ("/claims", "status=expected"),
    ("/api/search", "q={lead_id}"),
)
# Routes that answer 422 without a query: measured with this one.
REQUIRED_QUERY = {"/api/search": "q=Garcia", "/search": "q=Garcia", "/search.json": "q=Garcia"}
PAGE = 50
REQUEST_TIMEOUT_S = 300


def _pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return round(ordered[max(int(round(p * len(ordered))) - 1, 0)], 1)


def percentiles(times_ms: list[float]) -> dict[str, Any]:
    if not times_ms:
        return {"n": 0}
    return {"n": len(times_ms), "p50_ms": round(statistics.median(times_ms), 1),
            "p95_ms": _pct(times_ms, 0.95), "p99_ms": _pct(times_ms, 0.99),
            "max_ms": round(max(times_ms), 1)}  # fmt: skip


def get_routes(db_url: str) -> list[str]:
    """Every GET route of the app, as its path template (pages, their .json twins, the API)."""
    from leadlink.web import create_app

    found: list[str] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # FastAPI's included router
            if inner is not None:
                walk(inner.routes, prefix + getattr(route.include_context, "prefix", ""))
                continue
            path = prefix + getattr(route, "path", "")
            if "GET" in (getattr(route, "methods", None) or set()) and path not in found:
                found.append(path)

    walk(create_app(load_settings(db=db_url, secret_key=SECRET)).routes, "")
    return sorted(p for p in found if not p.startswith(SKIPPED))


def _find(obj: Any, key: str) -> Any:
    """The first value of key anywhere in a JSON document (depth first)."""
    if isinstance(obj, dict):
        if obj.get(key) not in (None, ""):
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for item in obj:
            if (got := _find(item, key)) is not None:
                return got
    return None


def fill(client: httpx.Client, template: str, lead_id: str) -> str | None:
    """A route template with its path parameters filled from the store; None if it cannot be."""
    samples: dict[str, Callable[[], Any]] = {
        "lead_id": lambda: lead_id,
        "person_key": lambda: _find(client.get("/api/persons", params={"limit": 1}).json(),
                                    "person_key"),  # fmt: skip
        "key": lambda: _find(client.get("/api/persons", params={"limit": 1}).json(),
                             "person_key"),  # fmt: skip
        "item_id": lambda: _find(client.get("/api/review", params={"limit": 1,
                                                                   "status": "all"}).json(), "id"),
        "kind": lambda: "match",
        "alert_id": lambda: _find(client.get("/api/alerts", params={"state": "all"}).json(), "id"),
    }  # fmt: skip
    path = template
    for name in re.findall(r"{(\w+)(?::\w+)?}", template):
        value = samples[name]() if name in samples else None
        if value is None:
            return None
        path = re.sub(r"{" + name + r"(?::\w+)?}", str(value), path)
    return path


def last_offset(client: httpx.Client, api: str) -> int:
    total = _find(client.get(api, params={"limit": 1}).json(), "total") or 0
    return max(int(total) - PAGE, 0)


def time_route(client: httpx.Client, url: str, requests: int, budget_s: float) -> dict[str, Any]:
    """One warm-up request, then up to `requests` in at most budget_s seconds."""
    page = not (
        url.startswith("/api/")
        or ".json" in url
        or url in ("/healthz", "/metrics", "/openapi.json")
    )
    headers = {"accept": "text/html"} if page else {}
    statuses: Counter[str] = Counter()

    def get() -> float:
        """One request's ms; a request past REQUEST_TIMEOUT_S counts as status "timeout"."""
        t = time.perf_counter()
        try:
            statuses[str(client.get(url, headers=headers).status_code)] += 1
        except httpx.TimeoutException:
            statuses["timeout"] += 1
        return (time.perf_counter() - t) * 1000

    warm_ms = get()
    if warm_ms / 1000 >= budget_s:  # one request ate the budget: that is the figure
        return {**percentiles([warm_ms]), "statuses": dict(statuses), "cut_by_time": True,
                "cold_only": True}  # fmt: skip
    statuses.clear()
    times: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(times) < requests and time.monotonic() < deadline:
        times.append(get())
    return {**percentiles(times), "statuses": dict(statuses),
            "cut_by_time": len(times) < requests}  # fmt: skip


def time_console(client: httpx.Client, routes: list[str], lead_id: str, requests: int,
                 budget_s: float, log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """p50/p95/max of every route and variant; routes that could not be filled are listed."""
    out: dict[str, Any] = {}
    plans = [(r, REQUIRED_QUERY.get(r)) for r in routes] + [(r, q) for r, q in VARIANTS
                                                          if r in routes]  # fmt: skip
    for template, query in plans:
        path = fill(client, template, lead_id)
        if path is None:
            out[template] = {"n": 0, "skipped": "no sample in the store for its parameter"}
            continue
        if query:
            query = query.replace("{lead_id}", lead_id)
            query = re.sub(r"{last:([^}]+)}", lambda m: str(last_offset(client, m.group(1))),
                           query)  # fmt: skip
        url = f"{path}?{query}" if query else path
        key = f"{template}?{query}" if query else template
        out[key] = {"url": url, **time_route(client, url, requests, budget_s)}
        got = out[key]
        log(f"  GET {url}: p50 {got.get('p50_ms')} p95 {got.get('p95_ms')} ms (n {got['n']})")
    return out


def read_leads(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _server_pid(port: int) -> int | None:
    """The `leadlink serve` child of this process listening on port (for its RSS)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"serve" in cmd and str(port).encode() in cmd:
            return int(stat.parent.name)
    return None


def rss_mib(pid: int | None) -> dict[str, float | None]:
    """VmRSS now and VmHWM (peak) of a process, MiB."""
    found: dict[str, float | None] = {"rss_mib": None, "peak_rss_mib": None}
    if pid is None:
        return found
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name = "rss_mib" if line.startswith("VmRSS") else "peak_rss_mib"
            found[name] = round(int(line.split()[1]) / 1024, 1)
    return found


def post_leads(client: httpx.Client, leads: list[dict[str, str]]) -> dict[str, Any]:
    times: list[float] = []
    statuses: Counter[str] = Counter()
    for lead in leads:
        t = time.perf_counter()
        try:
            statuses[str(client.post("/api/leads", json=as_post(lead)).status_code)] += 1
        except httpx.TimeoutException:
            statuses["timeout"] += 1
        times.append((time.perf_counter() - t) * 1000)
    return {**percentiles(times), "first_ms": round(times[0], 1) if times else None,
            "statuses": dict(statuses)}  # fmt: skip


def _loads(log: Path) -> list[float]:
    """The server logs each load of its online matcher (pipeline/resolution/lead_post.py)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [float(s) for s in re.findall(r"online matcher loaded in ([0-9.]+) s", text)]


def run_console(
    db_url: str, *, online: list[dict[str, str]], lead_id: str, batch: Callable[[], dict[str, Any]],
    requests: int, budget_s: float, log_dir: Path, log: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Start the server, time its first decision from process start, the posts, every route,
    then the batch write (batch(), while it serves) and the posts that follow it."""
    engine = make_engine(db_url)
    token, _ = tokens.create(engine, role="operator", name=f"bench-e2e-{os.getpid()}-{time.time()}",
                             now=dt.datetime.now(dt.UTC).replace(tzinfo=None))  # fmt: skip
    engine.dispose()
    routes = get_routes(db_url)
    log_dir.mkdir(parents=True, exist_ok=True)
    server_log = log_dir / "serve.log"
    before, after = online[: len(online) // 2], online[len(online) // 2 :]
    started = time.monotonic()
    with (
        serving(db_url, "process", server_log) as (url, _app, _pid),
        httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S,
                     headers={"Authorization": f"Bearer {token}"}) as client,
    ):  # fmt: skip
        ready_s = time.monotonic() - started
        pid = _server_pid(int(url.rsplit(":", 1)[1]))
        first = client.post("/api/leads", json=as_post(before[0]))
        first_decision_s = time.monotonic() - started
        log(f"  server ready in {ready_s:.1f} s, first decision {first_decision_s:.1f} s from "
            f"start ({first.status_code})")  # fmt: skip
        posts = post_leads(client, before[1:])
        rss_online = rss_mib(pid)
        log(f"  POST /api/leads p50 {posts.get('p50_ms')} p99 {posts.get('p99_ms')} ms; "
            f"server RSS {rss_online['rss_mib']} MiB")  # fmt: skip
        console = time_console(client, routes, lead_id, requests, budget_s, log)
        loads_before = len(_loads(server_log))
        written = batch()
        posts_after = post_leads(client, after)
        log(f"  after the batch write: first post {posts_after.get('first_ms')} ms, p99 "
            f"{posts_after.get('p99_ms')} ms")  # fmt: skip
        rss_end = rss_mib(pid)
    loads = _loads(server_log)
    return {
        "routes": console,
        "online": {"ready_s": round(ready_s, 2), "first_decision_s": round(first_decision_s, 2),
                   "first_status": first.status_code, "posts": posts,
                   "server_rss_mib": rss_online["rss_mib"],
                   "server_peak_rss_mib": rss_end["peak_rss_mib"],
                   "matcher_loads": loads, "reloads_after_batch": len(loads) - loads_before},
        "batch": {**written, "posts_after": posts_after},
    }  # fmt: skip
