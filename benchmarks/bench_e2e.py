"""End to end at 10 k / 100 k / 1 M leads: every command, page and call, on SQLite and PostgreSQL.

For each size N the generator's full data set (`leadlink.synth.generate`, as `leadlink demo
--leads N` makes it: leads, scouting, migrations, drivers, trips, payments) is generated once,
cached under --out, and split: --online-n leads held out to be posted to the API, --batch-leads
held out for a batch `match` while the server runs, and the last day of trips held out for the
incremental `claims`. For each store, in a fresh database, every command is its own process,
timed by bench_match.run_timed (wall, CPU, peak RSS of that process): init, ingest of each
source, match, queue seed, recover, claims, gap, quarantine scan, alerts, impact, evaluate
--truth, export links twice (compared byte for byte), check all, then ingest of the last day of
trips and claims again. A command that fails or passes --command-timeout is recorded with its
stderr tail and the run goes on. Then the console (e2e_console.py): `leadlink serve` started,
its time to ready and to its first decision, POST /api/leads p50/p99 and its RSS, every GET page
and API route (plus filter and deep-page variants) --requests times (bounded by
--route-seconds), then the held-out batch ingested and matched while it serves, and the posts
after it. Once per size: Splink used directly on the same leads x drivers (splink_direct.py).

Each (size, store) and Splink per size is saved in --state (benchmarks/.results/, resumable,
--fresh reruns); at the end the `<!-- bench:e2e -->` section of RESULTS.md and e2e.svg
(e2e_report.py) are written.

    make bench-e2e SIZE=10000,100000 DBS=sqlite,postgresql
    .venv/bin/python benchmarks/bench_e2e.py --sizes 500 --db sqlite --requests 5
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import filecmp
import json
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_match import BenchError, fresh_database, machine_info
from bench_scale import STORES, Log, _git, _step, commit, shown_command, sweep
from e2e_console import read_leads, run_console
from e2e_report import plot, render, write_outputs

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
SOURCES = ("leads", "scouting", "migrations", "drivers", "trips", "payments")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="leads per run, comma-separated")
    p.add_argument("--db", default="sqlite,postgresql", help="stores: sqlite and/or postgresql")
    p.add_argument("--pg-url", help="a PostgreSQL server URL (role with CREATEDB); default: a "
                   "throwaway cluster started for the run")  # fmt: skip
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--requests", type=int, default=1000, help="requests per route")
    p.add_argument(
        "--route-seconds",
        type=float,
        default=10.0,
        help="at most this long per route (its requests so far are reported)",
    )
    p.add_argument(
        "--online-n",
        type=int,
        default=400,
        help="held-out leads posted: half before the batch write, half after",
    )
    p.add_argument(
        "--batch-leads",
        type=int,
        help="held-out leads matched while the server runs (default N/10, ≤ 10,000)",
    )
    p.add_argument("--command-timeout", type=int, default=1800, help="stop a command after S s")
    p.add_argument("--no-splink", action="store_true", help="skip Splink direct")
    p.add_argument("--fresh", action="store_true", help="rerun even what --state has")
    p.add_argument("--out", type=Path, default=BENCH / "out", help="scratch (git-ignored)")
    p.add_argument("--state", type=Path, default=BENCH / ".results", help="saved results")
    p.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    p.add_argument("--svg", type=Path, default=BENCH / "e2e.svg")
    p.add_argument("--no-results", action="store_true", help="write neither RESULTS.md nor SVG")
    p.add_argument("--leadlink", type=Path, default=REPO / ".venv" / "bin" / "leadlink")
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error(f"--sizes must be integers separated by commas, not {args.sizes!r}")
    args.stores = [s.strip() for s in args.db.split(",") if s.strip()]
    if not args.sizes or min(args.sizes) < 100:
        p.error("--sizes: at least 100 leads each")
    if bad := [s for s in args.stores if s not in STORES]:
        p.error(f"--db: unknown store(s) {bad}; use sqlite and/or postgresql")
    if args.online_n < 4 or args.requests < 1:
        p.error("--online-n must be at least 4, --requests at least 1")
    return args


# -- data ------------------------------------------------------------------------------------


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def _write(path: Path, header: list[str], rows: Sequence[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])


def batch_size(args: argparse.Namespace, size: int) -> int:
    return args.batch_leads if args.batch_leads is not None else min(size // 10, 10_000)


def prepare_data(args: argparse.Namespace, size: int, log: Log) -> dict[str, Path]:
    """The generator's six sources for size + held-out leads, split (see the module doc).

    Held-out leads are a seeded random sample of all the generated leads (late leads have fewer
    drivers), so what is posted and batch-matched is like what was ingested. truth.csv is cut to
    what `evaluate` sees (the held-out leads are not ingested before it runs).
    """
    from bench_match import generator_fingerprint

    from leadlink.synth import generate

    batch = batch_size(args, size)
    directory = args.out / "e2e-data" / f"N{size}-s{args.seed}"
    files = {name: directory / f"{name}.csv" for name in (*SOURCES, "online", "batch",
                                                          "trips-day", "truth")}  # fmt: skip
    wanted = {"generator": generator_fingerprint(), "size": size, "seed": args.seed,
              "online_n": args.online_n, "batch": batch}  # fmt: skip
    marker = directory / "manifest.json"
    if marker.exists() and json.loads(marker.read_text("utf-8")).get("key") == wanted:
        log(f"reusing the data set in {directory}")
        return files
    full = directory / "full"
    log(f"generating {size + args.online_n + batch:,} leads and their sources into {full}")
    counts = generate(full, leads=size + args.online_n + batch, seed=args.seed)
    header, rows = _rows(full / "leads.csv")
    held = random.Random(args.seed).sample(range(len(rows)), args.online_n + batch)
    online, batched = set(held[: args.online_n]), set(held[args.online_n :])
    out = set(held)
    _write(files["leads"], header, [r for i, r in enumerate(rows) if i not in out])
    _write(files["online"], header, [rows[i] for i in sorted(online)])
    _write(files["batch"], header, [rows[i] for i in sorted(batched)])
    held_ids = {rows[i][0] for i in held}
    theader, trips = _rows(full / "trips.csv")
    last_day = max(r[theader.index("date")] for r in trips)
    _write(files["trips"], theader, [r for r in trips if r[theader.index("date")] != last_day])
    _write(files["trips-day"], theader, [r for r in trips if r[theader.index("date")] == last_day])
    for source in ("scouting", "migrations", "drivers", "payments"):
        (full / f"{source}.csv").replace(files[source])
    truth_header, truth = _rows(full / "truth.csv")
    _write(files["truth"], truth_header,
           [r for r in truth if not (r[0] == "leads" and r[1] in held_ids)])  # fmt: skip
    for f in full.iterdir():
        f.unlink()
    full.rmdir()
    marker.write_text(json.dumps({"key": wanted, "generated": counts, "last_trip_day": last_day},
                                 indent=2), encoding="utf-8")  # fmt: skip
    return files


# -- one store -------------------------------------------------------------------------------

KEPT_OUT = (
    "rows",
    "inserted",
    "updated",
    "processed",
    "linked",
    "review",
    "unmatched",
    "enqueued",
    "rearmed",
    "matched",
    "attempted",
    "quarantined",
    "released",
    "ok",
)


def _small(out: dict[str, Any]) -> dict[str, Any]:
    """The few counts of a command's --json worth keeping (gap --json lists every lead)."""
    return {k: v for k, v in out.items() if k in KEPT_OUT and not isinstance(v, list | dict)}


def _tail(logs: Path, name: str) -> str:
    err = logs / f"{name}.err"
    text = err.read_text(encoding="utf-8", errors="replace") if err.exists() else ""
    return "\n".join(text.strip().splitlines()[-8:])[-1500:]


def run_store(args: argparse.Namespace, size: int, store: str, server: str | None,
              data: dict[str, Path], env: dict[str, str], log: Log) -> dict[str, Any]:  # fmt: skip
    run_dir = args.out / f"e2e-{store}-{size}-seed{args.seed}"
    logs = run_dir / "logs"
    commands: dict[str, dict[str, Any]] = {}
    started, head = dt.datetime.now(dt.UTC), commit()
    load_start = os.getloadavg()[0]
    with fresh_database("sqlite" if store == "sqlite" else str(server), run_dir,
                        keep=False) as db:  # fmt: skip
        # The script run by this venv's python: its shebang may name another checkout's venv
        # (a venv copied from there), which would import and measure that checkout's src/.
        ll = [str(args.leadlink.parent / "python"), str(args.leadlink), "--db", db.url]

        def step(name: str, *argv: str) -> dict[str, Any]:
            got = _step(name, [*ll, *argv, "--json"], logs, env, log,
                        timeout_s=args.command_timeout, may_fail=True)  # fmt: skip
            out = got["out"]
            # evaluate's figures; what claims changed (the incremental run says what it touched)
            got["out"] = _small(out) | {k: out[k] for k in ("lead_driver", "changes") if k in out}
            got["load"] = round(got["load"], 2)
            if got.get("failed") or got.get("timed_out"):
                got["stderr_tail"] = _tail(logs, name)
            commands[name] = got
            # a run stopped half-way (a 1 M run takes hours) still leaves its figures so far
            (run_dir / "progress.json").write_text(json.dumps(commands, indent=2), "utf-8")
            return got

        step("init", "init")
        for source in SOURCES:
            step(f"ingest {source}", "ingest", source, str(data[source]))
        step("match", "match")
        step("queue seed", "queue", "seed")
        step("recover", "recover")
        step("claims", "claims")
        step("gap", "gap")
        step("quarantine scan", "quarantine", "scan")
        step("alerts", "alerts")
        step("impact", "impact")
        step("evaluate", "evaluate", "--truth", str(data["truth"]))
        exports = [run_dir / "links-1.csv", run_dir / "links-2.csv"]
        for i, path in enumerate(exports, 1):
            path.unlink(missing_ok=True)
            step(f"export links ({i})", "export", "links", "--out", str(path))
        identical = all(p.exists() for p in exports) and filecmp.cmp(*exports, shallow=False)
        step("check all", "check", "all")
        step("ingest trips (one more day)", "ingest", "trips", str(data["trips-day"]))
        step("claims (after one more day)", "claims")

        def batch() -> dict[str, Any]:
            """A batch write while the server runs: held-out leads ingested and matched."""
            ingest = step("ingest leads (batch, server up)", "ingest", "leads", str(data["batch"]))
            match = step("match (batch, server up)", "match")
            return {"leads": ingest["out"].get("rows"), "linked": match["out"].get("linked"),
                    "match_wall_s": match["wall_s"]}  # fmt: skip

        log("console: leadlink serve, every route, the online path …")
        lead_id = _rows(data["leads"])[1][0][0]
        console = run_console(db.url, online=read_leads(data["online"]), lead_id=lead_id,
                              batch=batch, requests=args.requests, budget_s=args.route_seconds,
                              log_dir=logs, log=log)  # fmt: skip
        version = db.version
    for p in run_dir.glob("bench*.db*"):
        p.unlink()
    manifest = json.loads((data["truth"].parent / "manifest.json").read_text("utf-8"))
    return {
        "size": size, "store": store, "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "head": head,
        "database": version, "rows": manifest["generated"],
        "load": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "settings": {"requests": args.requests, "route_seconds": args.route_seconds,
                     "online_n": args.online_n, "batch_leads": batch_size(args, size)},
        "commands": commands, "export_identical": identical,
        "incremental": {"trips_added": sum(1 for _ in data["trips-day"].open()) - 1,
                        "last_trip_day": manifest["last_trip_day"]},
        **console,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    args.out, args.state = args.out.resolve(), args.state.resolve()
    args.leadlink = args.leadlink.absolute()
    if not args.leadlink.exists():
        raise BenchError(f"{args.leadlink} not found: `pip install -e .` first")

    def log(message: str) -> None:
        print(f"[e2e] {message}", file=sys.stderr, flush=True)

    env = {k: v for k, v in os.environ.items() if k != "LEADLINK_DB"}
    # Saved runs are reused while src/ is the same tree (a commit outside src/ keeps them);
    # each run also records the HEAD it ran at.
    dirty = " + uncommitted changes" if _git("status", "--porcelain", "--", "src") else ""
    source = f"src tree {_git('rev-parse', 'HEAD:src')[:10]}{dirty}"
    runs, splink = sweep(args, env, log, source=source, prepare=prepare_data, run=run_store,
                         prefix="e2e-")  # fmt: skip
    machine = machine_info(args.leadlink.parent / "python")
    shown = shown_command(raw).replace("bench_scale", "bench_e2e")
    result = {"machine": machine, "command": shown, "requests": args.requests, "runs": runs,
              "splink": {str(k): v for k, v in splink.items()}}  # fmt: skip
    print(json.dumps(result, indent=2))
    if runs and not args.no_results:
        svg = plot(result)
        write_outputs(args.results, render(result, svg_name=args.svg.name), args.svg, svg)
        log(f"wrote the e2e section of {args.results} and {args.svg}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"[e2e] error: {exc}", file=sys.stderr)
        sys.exit(1)
