"""Online match latency: p50/p99 of single leads decided against a registry of N drivers.

Generates a demo data set, ingests drivers, migrations, scouting and the first --train-leads
leads, runs `match` (which trains and stores the model), then decides --n held-out leads one
at a time through ``leadlink.pipeline.resolution.online.OnlineMatcher`` and reports the latency
distribution and how the decisions compare with truth.csv.

    .venv/bin/python benchmarks/bench_online.py --drivers 50000 --n 1000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution.online import OnlineMatcher
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings, load_settings
from leadlink.sources import IDENTITY_SOURCES
from leadlink.store import resolution
from leadlink.store.db import make_engine, migrate, transaction
from leadlink.synth import generate

DRIVERS_PER_LEAD = 0.74  # synth/__init__.py's ratio, measured


def read_leads(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows if limit is None else rows[:limit]


def time_online(engine: Engine, settings: Settings, leads: list[dict[str, str]]) -> dict[str, Any]:
    """Build one OnlineMatcher (timed) and decide each lead once, one at a time (timed each)."""
    t0 = time.perf_counter()
    matcher = OnlineMatcher(engine, settings)
    load_s = time.perf_counter() - t0
    times, decisions = [], {}
    cpu0 = time.process_time()  # all threads of this process (DuckDB's too)
    for lead in leads:
        t = time.perf_counter()
        d = matcher.decide(lead)
        times.append((time.perf_counter() - t) * 1000)
        decisions[d["decision"]] = decisions.get(d["decision"], 0) + 1
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(len(leads), 1)
    times.sort()
    return {
        "registry_records": _registry_size(engine),
        "matcher_load_s": round(load_s, 2),
        "model_id": matcher.model_id,
        "n": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p90_ms": round(times[max(int(0.9 * len(times)) - 1, 0)], 1),
        "p99_ms": round(times[max(int(0.99 * len(times)) - 1, 0)], 1),
        "max_ms": round(times[-1], 1),
        "cpu_ms_mean": round(cpu_ms, 1),
        "decisions": decisions,
    }


def _registry_size(engine: Engine) -> int:
    """Linked identity records: the registry a lead is decided against."""
    with transaction(engine) as session:
        return resolution.count_registry(session, IDENTITY_SOURCES)


@dataclass
class Registry:
    """A matched store (model trained) in a SQLite file, and leads it has never seen."""

    db_url: str
    engine: Engine
    settings: Settings
    held: list[dict[str, str]]
    drivers: int
    match_s: float
    match_processed: int


def build_registry(out: Path, *, drivers: int, train_leads: int, n: int, seed: int) -> Registry:
    """Generate a demo data set for ``drivers`` drivers, ingest drivers, migrations, scouting
    and the first ``train_leads`` leads into a new SQLite file, run `match` (trains the model);
    the next ``n`` leads are held out. (bench_api_leads.py builds its registry here too.)"""
    leads_n = math.ceil(drivers / DRIVERS_PER_LEAD)
    data = out / f"data-{leads_n}-s{seed}"
    if not (data / "truth.csv").exists():
        generate(data, leads=leads_n, seed=seed)
    db = out / f"online-{leads_n}-s{seed}.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    now = dt.datetime(2026, 11, 23)
    rows = read_leads(data / "leads.csv")
    train, held = rows[:train_leads], rows[train_leads : train_leads + n]
    train_file = out / "train_leads.csv"
    with train_file.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(train)
    for source in ("drivers", "migrations", "scouting"):
        ingest_file(engine, source, data / f"{source}.csv", now=now)
    ingest_file(engine, "leads", train_file, now=now)
    settings = load_settings(db=f"sqlite:///{db}")
    t0 = time.perf_counter()
    result = match(engine, settings, now=now)
    match_s = time.perf_counter() - t0
    with (data / "truth.csv").open(encoding="utf-8") as fh:
        n_drivers = sum(1 for r in csv.DictReader(fh) if r["source"] == "drivers")
    return Registry(f"sqlite:///{db}", engine, settings, held, n_drivers, round(match_s, 1),
                    result.processed)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drivers", type=int, default=50000)
    ap.add_argument("--n", type=int, default=1000, help="single leads to time")
    ap.add_argument("--train-leads", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/online"))
    ap.add_argument(
        "--db",
        help="time against this existing, already matched database instead of building one "
        "(with --leads-file: leads it has never seen; bench_scale.py uses this)",
    )
    ap.add_argument("--leads-file", type=Path, help="with --db: the leads to decide (CSV)")
    args = ap.parse_args()
    if args.db:
        if args.leads_file is None:
            ap.error("--db needs --leads-file")
        engine = make_engine(args.db)
        held = read_leads(args.leads_file, args.n)
        print(json.dumps(time_online(engine, load_settings(db=args.db), held), indent=2))
        return
    built = build_registry(args.out, drivers=args.drivers, train_leads=args.train_leads,
                           n=args.n, seed=args.seed)  # fmt: skip
    engine, settings, held = built.engine, built.settings, built.held
    timed = time_online(engine, settings, held)
    report = {
        "registry_records": timed.pop("registry_records"),
        "drivers": built.drivers,
        "match_s": built.match_s,
        **timed,
        "match_processed": built.match_processed,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
