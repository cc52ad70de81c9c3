"""`match` at 1 M leads x 500 k drivers: wall time, leads/s and peak RSS of each step.

    .venv/bin/python benchmarks/bench_scale_match.py --leads 1000000 --drivers 500000 \
        --db sqlite --out benchmarks/out

(``--db postgresql+psycopg://USER@HOST:PORT/postgres``: a throwaway database on that server.)
The data set is `bench_match.py`'s generator cut to exactly that many leads and drivers, with
no other source (``leads-drivers``: at 1 M leads the trips file alone is ~5 M rows, which
measures ingest, not match). Steps, each its own `leadlink` process timed with its own peak
RSS (bench_match.run_timed): init, ingest drivers, ingest leads, match. ``--match-only DB``
reruns just `match` on a copy of a SQLite database kept by an earlier run (``--keep``: the
ingested database is kept as OUT/scale-.../ingested.db). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_match as bm  # noqa: E402 - the sibling script, not a package


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--drivers", type=int, default=500_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", default="sqlite")
    p.add_argument("--out", type=Path, default=bm.REPO / "benchmarks" / "out")
    p.add_argument("--keep", action="store_true", help="keep a copy of the ingested database")
    p.add_argument("--match-only", type=Path, help="a kept ingested SQLite database")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[scale] {msg}", file=sys.stderr, flush=True)

    leadlink = bm.REPO / ".venv" / "bin" / "leadlink"
    out: Path = args.out.resolve()
    backend = "sqlite" if args.db == "sqlite" else "postgresql"
    run_dir = out / f"scale-{backend}-{args.leads}x{args.drivers}"
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    env = {k: v for k, v in os.environ.items() if k != "LEADLINK_DB"}
    steps: list[dict[str, Any]] = []

    def step(name: str, argv: list[str]) -> bm.Timed:
        log(f"{name} …")
        load = os.getloadavg()[0]
        t = bm.run_timed(name.replace(" ", "-"), argv, log_dir=logs, env=env)
        log(f"{name}: {t.wall_s:.1f} s, CPU {t.cpu_s:.1f} s, peak RSS {t.rss_mib:.0f} MiB")
        steps.append({"step": name, "wall_s": round(t.wall_s, 1), "cpu_s": round(t.cpu_s, 1),
                      "rss_mib": round(t.rss_mib), "load": round(load, 1)})  # fmt: skip
        return t

    if args.match_only:
        db_path = run_dir / "bench.db"
        shutil.copyfile(args.match_only, db_path)
        matched = step("match", [str(leadlink), "--db", f"sqlite:///{db_path}", "match", "--json"])
        version = "SQLite"
    else:
        dataset = bm.make_dataset(out, leads=args.leads, drivers=args.drivers, seed=args.seed,
                                  sources="leads-drivers", log=log)  # fmt: skip
        with bm.fresh_database(args.db, run_dir, keep=False) as db:
            ll = [str(leadlink), "--db", db.url]
            step("init", [*ll, "init", "--json"])
            step("ingest drivers", [*ll, "ingest", "drivers", str(dataset.file("drivers"))])
            step("ingest leads", [*ll, "ingest", "leads", str(dataset.file("leads"))])
            if args.keep and backend == "sqlite":
                shutil.copyfile(run_dir / "bench.db", run_dir / "ingested.db")
            matched = step("match", [*ll, "match", "--json"])
            version = db.version
    result = matched.json()
    leads = (result.get("by_source") or {}).get("leads", {}).get("processed", 0)
    print("| step | wall s | CPU s | peak RSS MiB | load |\n|---|---:|---:|---:|---:|")
    for s in steps:
        print(f"| {s['step']} | {s['wall_s']} | {s['cpu_s']} | {s['rss_mib']} | {s['load']} |")
    print(f"\n{version}: match {result['processed']:,} records ({leads:,} leads) in "
          f"{matched.wall_s:.1f} s = {leads / matched.wall_s:,.0f} leads/s, "
          f"peak RSS {matched.rss_mib:,.0f} MiB; stream {result.get('stream')}")  # fmt: skip
    if args.json:
        figures = {"backend": version, "steps": steps, "match": result}
        args.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bm.BenchError as exc:
        print(f"[scale] error: {exc}", file=sys.stderr)
        sys.exit(1)
