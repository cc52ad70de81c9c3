"""Incremental match benchmark: a full `match`, then a `match` after ingesting a few % new leads.

    .venv/bin/python benchmarks/bench_incremental.py --leads 100000 --drivers 50000 \
        --new-pct 1 --db sqlite --out benchmarks/out

(``--db postgresql+psycopg://USER@HOST:PORT/postgres`` creates and drops a throwaway database on
that server.) The data set is `bench_match.py`'s (same generator, same cache under OUT/data).
The last ``--new-pct`` % of the leads (file order = lead time) are held back: the other
sources and the first leads are ingested, `leadlink match` runs (the full run: it trains and
stores the model), then the held-back leads are ingested and `leadlink match` runs again (the
incremental run: stored model, only the new records and the registry rows sharing a blocking
key with them). Each `leadlink` call is its own process, timed with its own peak RSS (see
bench_match.run_timed). Prints a Markdown table; ``--json`` writes the figures to a file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_match as bm  # noqa: E402 - the sibling script, not a package


def split_leads(dataset: bm.DataSet, pct: float, out: Path) -> tuple[Path, Path, int, int]:
    with dataset.file("leads").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    n_new = max(1, round(len(rows) * pct / 100))
    base, new = out / "leads-base.csv", out / "leads-new.csv"
    bm._write_csv(base, header, rows[:-n_new])
    bm._write_csv(new, header, rows[-n_new:])
    return base, new, len(rows) - n_new, n_new


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--leads", type=int, default=100_000)
    p.add_argument("--drivers", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--new-pct", type=float, default=1.0, help="%% of the leads ingested late")
    p.add_argument("--sources", choices=("all", "leads-drivers"), default="all")
    p.add_argument("--db", default="sqlite")
    p.add_argument("--out", type=Path, default=bm.REPO / "benchmarks" / "out")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[incremental] {msg}", file=sys.stderr, flush=True)

    leadlink = bm.REPO / ".venv" / "bin" / "leadlink"
    out: Path = args.out.resolve()
    backend = "sqlite" if args.db == "sqlite" else "postgresql"
    run_dir = out / f"incremental-{backend}-{args.leads}x{args.drivers}-{args.new_pct:g}pct"
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    env = {k: v for k, v in os.environ.items() if k != "LEADLINK_DB"}
    dataset = bm.make_dataset(out, leads=args.leads, drivers=args.drivers, seed=args.seed,
                              sources=args.sources, log=log)  # fmt: skip
    base, new, n_base, n_new = split_leads(dataset, args.new_pct, run_dir)
    steps: list[dict[str, Any]] = []
    with bm.fresh_database(args.db, run_dir, keep=False) as db:
        ll = [str(leadlink), "--db", db.url]

        def step(name: str, argv: list[str]) -> bm.Timed:
            log(f"{name} …")
            t = bm.run_timed(name, argv, log_dir=logs, env=env)
            log(f"{name}: {t.wall_s:.2f} s, peak RSS {t.rss_mib:.0f} MiB")
            steps.append({"step": name, "wall_s": round(t.wall_s, 2),
                          "rss_mib": round(t.rss_mib), "cpu_s": round(t.cpu_s, 2)})  # fmt: skip
            return t

        step("init", [*ll, "init", "--json"])
        for source in ("scouting", "migrations", "drivers"):
            if dataset.rows[source]:
                step(f"ingest {source}", [*ll, "ingest", source, str(dataset.file(source))])
        step("ingest leads (base)", [*ll, "ingest", "leads", str(base)])
        full = step("match (full)", [*ll, "match", "--json"])
        step("ingest leads (new)", [*ll, "ingest", "leads", str(new)])
        incr = step("match (incremental)", [*ll, "match", "--json"])
        version = db.version
    full_json, incr_json = full.json(), incr.json()
    figures = {
        "backend": version, "leads": args.leads, "drivers": args.drivers,
        "base_leads": n_base, "new_leads": n_new, "steps": steps,
        "full": {"wall_s": full.wall_s, "rss_mib": full.rss_mib,
                 "processed": full_json["processed"], "stream": full_json.get("stream")},
        "incremental": {"wall_s": incr.wall_s, "rss_mib": incr.rss_mib,
                        "processed": incr_json["processed"], "stream": incr_json.get("stream"),
                        "model": incr_json.get("model")},
        "ratio": incr.wall_s / full.wall_s,
    }  # fmt: skip
    print("| run | records | wall s | peak RSS MiB | registry rows loaded |")
    print("|---|---:|---:|---:|---:|")
    for label, t, j in (("full", full, full_json), ("incremental", incr, incr_json)):
        loaded = (j.get("stream") or {}).get("registry_loaded", "")
        print(f"| {label} | {j['processed']:,} | {t.wall_s:.2f} | {t.rss_mib:.0f} | {loaded} |")
    print(f"\nincremental / full = {figures['ratio']:.1%} ({version})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bm.BenchError as exc:
        print(f"[incremental] error: {exc}", file=sys.stderr)
        sys.exit(1)
