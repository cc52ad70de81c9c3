"""POST /api/leads latency: leads posted one at a time over real HTTP to the running app.

The registry is bench_online.py's (``build_registry``: a demo data set for --drivers drivers,
matched, model trained, in a SQLite file). The real app runs as `leadlink serve` in its own
process on a free port of 127.0.0.1 (--server thread: uvicorn in a thread of this process,
which then shares the GIL with the client); an httpx client posts --n held-out leads
with an operator token, one after the other, and times each round trip: validation, the
online decision, the one transaction that stores the lead, its decision and audit row, and
HTTP. The first post loads the online matcher (the registry and the compiled model): it is
reported apart, as the load time, and not counted in the percentiles. Before serving, the
same leads are decided by ``OnlineMatcher.decide`` alone (bench_online's ``time_online``,
nothing written) on the same registry: the difference is what the API adds (HTTP, token,
validation, the write), measured at the same machine load.

The registry is kept as registry.db in --out; --reuse starts from it again (posts go to a
copy, work.db), skipping the build.

    .venv/bin/python benchmarks/bench_api_leads.py --drivers 50000 --n 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from bench_online import DRIVERS_PER_LEAD, build_registry, read_leads, time_online
from fastapi import FastAPI

from leadlink.pipeline.operations import tokens
from leadlink.settings import load_settings
from leadlink.sources import SOURCES
from leadlink.store.db import make_engine
from leadlink.web import create_app

HOST = "127.0.0.1"
SECRET = "bench-api-leads-secret-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _pct(times: list[float], p: float) -> float:
    return round(times[max(int(p * len(times)) - 1, 0)], 1)


@contextmanager
def serving(db_url: str, mode: str, log: Path) -> Iterator[tuple[str, FastAPI | None]]:
    """The app on a free port: ``leadlink serve`` in its own process (as in production), or
    uvicorn in a thread of this one (shares the GIL with the client). Yields (URL, app or None)."""
    port = _free_port()
    url = f"http://{HOST}:{port}"
    if mode == "thread":
        app = create_app(load_settings(db=db_url, secret_key=SECRET))
        server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning",
                                               lifespan="off", access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, name="uvicorn-bench", daemon=True)
        thread.start()
        try:
            _wait(url, thread.is_alive)
            yield url, app
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        return
    env = {**os.environ, "LEADLINK_DB": db_url, "LEADLINK_SECRET_KEY": SECRET}
    leadlink = Path(sys.executable).with_name("leadlink")
    with log.open("w") as err:
        # run by this interpreter: the script's shebang may name another checkout's venv
        proc = subprocess.Popen([sys.executable, str(leadlink), "serve", "--host", HOST,
                                 "--port", str(port)], env=env, stdout=err, stderr=err)  # fmt: skip
        try:
            _wait(url, lambda: proc.poll() is None)
            yield url, None
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait(url: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not come up")


def as_post(row: dict[str, str]) -> dict[str, Any]:
    """A leads.csv row as POST /api/leads takes it: the source's columns, the rest in extra."""
    columns = SOURCES["leads"].columns
    extra = {k: v for k, v in row.items() if k not in columns}
    return {**{k: v for k, v in row.items() if k in columns}, **({"extra": extra} if extra else {})}


def post_all(db_url: str, leads: list[dict[str, str]], mode: str, log: Path) -> dict[str, Any]:
    """Serve the app on ``db_url`` and post ``leads`` (the first one loads the matcher)."""
    engine = make_engine(db_url)
    token, _ = tokens.create(engine, role="operator", name=f"bench-{os.getpid()}-{time.time()}",
                             now=dt.datetime.now(dt.UTC).replace(tzinfo=None))  # fmt: skip
    engine.dispose()
    statuses: Counter[int] = Counter()
    decisions: Counter[str] = Counter()
    times: list[float] = []
    with (
        serving(db_url, mode, log) as (url, app),
        httpx.Client(base_url=url, timeout=120,
                     headers={"Authorization": f"Bearer {token}"}) as client,
    ):  # fmt: skip
        t0 = time.perf_counter()
        first = client.post("/api/leads", json=as_post(leads[0]))
        first_s = time.perf_counter() - t0
        first.raise_for_status()
        for lead in leads[1:]:
            t = time.perf_counter()
            got = client.post("/api/leads", json=as_post(lead))
            times.append((time.perf_counter() - t) * 1000)
            statuses[got.status_code] += 1
            if got.status_code < 300:
                body = got.json()
                decisions[f"{body['decision']}/{body['band']}"] += 1
    if app is not None:
        load_s, loads = app.state.lead_poster.last_load_s, app.state.lead_poster.loads
    else:  # the server logs each load of its matcher (pipeline/resolution/lead_post.py)
        found = re.findall(r"online matcher loaded in ([0-9.]+) s", log.read_text())
        load_s, loads = (float(found[0]) if found else None), len(found)
    times.sort()
    return {
        "transport": f"real HTTP, one keep-alive connection; server: {mode}",
        "first_post_s": round(first_s, 2),
        "matcher_load_s": load_s,
        "matcher_loads": loads,
        "n": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p90_ms": _pct(times, 0.9),
        "p99_ms": _pct(times, 0.99),
        "max_ms": round(times[-1], 1),
        "mean_ms": round(statistics.fmean(times), 1),
        "statuses": dict(statuses),
        "decisions": dict(decisions),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drivers", type=int, default=50000)
    ap.add_argument("--n", type=int, default=1000, help="leads to post and time")
    ap.add_argument("--train-leads", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/api_leads"))
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the registry a previous run built in --out (posts go to a copy)")
    ap.add_argument("--server", choices=("process", "thread"), default="process",
                    help="leadlink serve in its own process (default), or uvicorn in a thread")
    ap.add_argument("--no-online", action="store_true",
                    help="skip timing OnlineMatcher.decide alone on the same leads first")
    args = ap.parse_args()  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    pristine = args.out / "registry.db"
    report: dict[str, Any] = {}
    if not (args.reuse and pristine.exists()):
        built = build_registry(args.out, drivers=args.drivers, train_leads=args.train_leads,
                               n=args.n + 1, seed=args.seed)  # fmt: skip
        built.engine.dispose()
        shutil.copyfile(built.db_url.removeprefix("sqlite:///"), pristine)
        report.update(drivers=built.drivers, match_s=built.match_s)
    data = args.out / f"data-{math.ceil(args.drivers / DRIVERS_PER_LEAD)}-s{args.seed}"
    held = read_leads(data / "leads.csv")[args.train_leads : args.train_leads + args.n + 1]
    work = args.out / "work.db"
    for stale in (work, work.with_name("work.db-wal"), work.with_name("work.db-shm")):
        stale.unlink(missing_ok=True)  # a previous run's WAL would be replayed into the copy
    shutil.copyfile(pristine, work)
    db_url = f"sqlite:///{work}"
    if not args.no_online:  # the decision alone, in process, at the same machine load
        engine = make_engine(db_url)
        online = time_online(engine, load_settings(db=db_url), held[1:])
        engine.dispose()
        shown = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
        report["online_decide_only"] = {k: online[k] for k in shown}
    report.update(post_all(db_url, held, args.server, args.out / "server.log"))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
