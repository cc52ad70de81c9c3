"""Size sweep: leadlink at 10 k / 100 k / 1 M leads on SQLite and PostgreSQL, next to Splink used
directly and a naive one-lead-at-a-time baseline, on the same data.

For each size N (leads; drivers = N / 2) the data set comes from `leadlink.synth` (cut by
bench_match.make_dataset, leads and drivers only), plus `--online-n` more leads the store never
sees. For each store, in a fresh database:

1. `leadlink init`, `leadlink ingest leads`, `leadlink ingest drivers`: records/s;
2. `leadlink match`: wall s, leads/s, peak RSS of that process (it trains the model first, as a
   fresh database does); `leadlink evaluate --truth`: lead-driver precision / recall;
3. online: bench_online.py --db on the matched database decides the held-out leads one at a
   time through `OnlineMatcher` (p50 / p99 ms);
4. naive: naive.py resolves a random sample of the leads with per-lead SQL and a commit per
   lead; its mean per-lead time x N is the extrapolated time, its decisions are scored.

Once per size: splink_direct.py trains and predicts with Splink on the same leads x drivers.

Every step is its own process, measured by bench_match.run_timed (wall, CPU, peak RSS of that
process only). Results are saved per (size, store) and per size for Splink in
benchmarks/.results/ (git-ignored) and reused on the next run (`--fresh` reruns), so a long
sweep that stops can be resumed. At the end: a JSON summary on stdout, the "Size sweep"
section of benchmarks/RESULTS.md and benchmarks/scale.svg (scale_report.py).

    .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000 --db sqlite,postgresql
    make bench SIZES=10000,100000,1000000 DBS=sqlite,postgresql
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_match import BenchError, fresh_database, machine_info, make_dataset, run_timed
from common import throwaway_postgres

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
STORES = ("sqlite", "postgresql")
Log = Callable[[str], None]
SPLINK_SOURCE = "splink_direct.py (leadlink not involved)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="leads per run, comma-separated")
    p.add_argument("--db", default="sqlite,postgresql",
                   help="stores: sqlite and/or postgresql (none: Splink direct only)")  # fmt: skip
    p.add_argument("--pg-url", help="a PostgreSQL server URL (role with CREATEDB); default: "
                   "start a throwaway cluster with initdb/pg_ctl for the run")  # fmt: skip
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--match-timeout", type=int, help="stop `match` after this many seconds and "
                   "report it as not finished (the other figures are still taken)")  # fmt: skip
    p.add_argument("--online-n", type=int, default=1000, help="held-out leads for p50/p99")
    p.add_argument("--naive-sample", type=int, default=500, help="leads the naive baseline runs")
    p.add_argument("--no-splink", action="store_true", help="skip Splink direct")
    p.add_argument("--fresh", action="store_true", help="rerun even what benchmarks/.results has")
    p.add_argument("--out", type=Path, default=BENCH / "out", help="scratch (git-ignored)")
    p.add_argument("--state", type=Path, default=BENCH / ".results", help="partial results")
    p.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    p.add_argument("--svg", type=Path, default=BENCH / "scale.svg")
    p.add_argument("--no-results", action="store_true", help="write neither RESULTS.md nor SVG")
    p.add_argument("--keep-db", action="store_true", help="keep the SQLite files of the runs")
    p.add_argument("--leadlink", type=Path, default=REPO / ".venv" / "bin" / "leadlink")
    p.add_argument("--commit", help="measure this commit's src/ (exported with git archive, put "
                   "on PYTHONPATH) instead of the working tree, e.g. HEAD")  # fmt: skip
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error(f"--sizes must be integers separated by commas, not {args.sizes!r}")
    args.stores = [s.strip() for s in args.db.split(",") if s.strip() not in ("", "none")]
    if not args.sizes or min(args.sizes) < 20:
        p.error("--sizes: at least 20 leads each")
    if args.online_n < 1 or args.naive_sample < 1:
        p.error("--online-n and --naive-sample must be at least 1")
    if bad := [s for s in args.stores if s not in STORES]:
        p.error(f"--db: unknown store(s) {bad}; use sqlite and/or postgresql")
    return args


# -- data ------------------------------------------------------------------------------------


def prepare_data(args: argparse.Namespace, size: int, log: Log) -> dict[str, Path]:
    """size leads to ingest, size/2 drivers, online_n held-out leads; truth of what is ingested.

    The held-out leads are a seeded random sample of all the generated leads (not the last
    ones: leads late in time have their drivers cut off by the driver cut), so the online
    figure is taken on leads like the ingested ones.
    """
    ds = make_dataset(args.out, leads=size + args.online_n, drivers=size // 2, seed=args.seed,
                      sources="leads-drivers", log=log)  # fmt: skip
    split = ds.directory / "scale"
    files = {name: split / f"{name}.csv" for name in ("leads", "online", "drivers", "truth")}
    marker = split / "split.json"
    manifest = json.loads((ds.directory / "manifest.json").read_text("utf-8"))
    wanted = {"online_n": args.online_n, "seed": args.seed, "held_out": "random sample",
              "dataset": manifest}  # fmt: skip
    if marker.exists() and json.loads(marker.read_text("utf-8")) == wanted:
        return files
    split.mkdir(parents=True, exist_ok=True)
    with ds.file("leads").open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    picked = set(random.Random(args.seed).sample(range(len(rows)), args.online_n))
    held = {rows[i][0] for i in picked}
    parts = {"leads": [r for i, r in enumerate(rows) if i not in picked],
             "online": [rows[i] for i in sorted(picked)]}  # fmt: skip
    for name, part in parts.items():
        with files[name].open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([header, *part])
    shutil.copyfile(ds.file("drivers"), files["drivers"])
    with (
        ds.truth.open(encoding="utf-8", newline="") as src,
        files["truth"].open("w", encoding="utf-8", newline="") as dst,
    ):
        out = csv.writer(dst, lineterminator="\n")
        out.writerows(r for r in csv.reader(src) if not (r[0] == "leads" and r[1] in held))
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return files


# -- one run ---------------------------------------------------------------------------------


def _last_error(exc: BenchError) -> str:
    """The exception line at the end of a failed step's stderr tail."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else "failed")[:300]


def _step(name: str, argv: list[str], logs: Path, env: dict[str, str], log: Log,
          *, timeout_s: int | None = None, may_fail: bool = False) -> dict[str, Any]:  # fmt: skip
    """One process, timed. With timeout_s it is stopped (SIGTERM via coreutils `timeout`, whose
    wait4 rusage includes the job it waited for); with may_fail a stopped or failed process is
    reported (how far it got, its error), not raised, so the other figures are still taken."""
    load = os.getloadavg()[0]
    if timeout_s is not None:
        argv = ["timeout", "-k", "60", str(timeout_s), *argv]
    try:
        t = run_timed(name, argv, log_dir=logs, env=env)
    except BenchError as exc:
        if not may_fail:
            raise
        usage = json.loads((logs / f"{name}.usage.json").read_text(encoding="utf-8"))
        stopped = timeout_s is not None and usage["returncode"] == 124
        error = f"stopped after {timeout_s} s" if stopped else _last_error(exc)
        log(f"  {name}: {error} (wall {usage['wall_s']:.0f} s, CPU {usage['cpu_s']:.0f} s, "
            f"peak RSS {usage['max_rss_kib'] / 1024:.0f} MiB)")  # fmt: skip
        return {"wall_s": usage["wall_s"], "cpu_s": usage["cpu_s"], "load": load,
                "peak_rss_mib": usage["max_rss_kib"] / 1024, "out": {},
                "timed_out": timeout_s if stopped else None,
                "failed": None if stopped else error}  # fmt: skip
    log(f"  {name}: {t.wall_s:.2f} s, CPU {t.cpu_s:.2f} s, peak RSS {t.rss_mib:.0f} MiB")
    out = t.json() if t.stdout.strip().startswith("{") else {}
    return {"wall_s": t.wall_s, "cpu_s": t.cpu_s, "peak_rss_mib": t.rss_mib, "load": load,
            "out": out}  # fmt: skip


def run_store(
    args: argparse.Namespace, size: int, store: str, server: str | None, data: dict[str, Path],
    env: dict[str, str], log: Log,
) -> dict[str, Any]:  # fmt: skip
    run_dir = args.out / f"scale-{store}-{size}-seed{args.seed}"
    logs = run_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    python = str(args.leadlink.parent / "python")
    drivers = size // 2
    started = dt.datetime.now(dt.UTC)
    with fresh_database("sqlite" if store == "sqlite" else str(server), run_dir,
                        keep=args.keep_db) as db:  # fmt: skip
        ll = [str(args.leadlink), "--db", db.url]

        def step(name: str, argv: list[str]) -> dict[str, Any]:
            return _step(name, argv, logs, env, log)

        step("init", [*ll, "init", "--json"])
        ingest = [step(f"ingest-{src}", [*ll, "ingest", src, str(data[key]), "--json"])
                  for src, key in (("leads", "leads"), ("drivers", "drivers"))]  # fmt: skip
        if [s["out"].get("rows") for s in ingest] != [size, drivers]:
            raise BenchError(f"ingest rows {[s['out'] for s in ingest]} != {size}, {drivers}")
        match = _step("match", [*ll, "match", "--json"], logs, env, log,
                      timeout_s=args.match_timeout, may_fail=True)  # fmt: skip
        finished = not (match.get("timed_out") or match.get("failed"))
        # a store whose match was stopped has nothing to evaluate and no registry to serve
        evaluate = step("evaluate", [*ll, "evaluate", "--truth", str(data["truth"]),
                                     "--json"]) if finished else {"out": {}}  # fmt: skip
        online = step("online", [python, str(BENCH / "bench_online.py"), "--db", db.url,
                                 "--leads-file", str(data["online"]), "--n",
                                 str(args.online_n)]) if finished else None  # fmt: skip
        naive = step("naive", [python, str(BENCH / "naive.py"), "--db", db.url, "--drivers",
                               str(data["drivers"]), "--leads", str(data["leads"]), "--truth",
                               str(data["truth"]), "--sample", str(args.naive_sample), "--seed",
                               str(args.seed)])  # fmt: skip
        version = db.version
    if store == "sqlite" and not args.keep_db:
        for p in run_dir.glob("bench*.db*"):
            p.unlink()
    ingest_wall = sum(s["wall_s"] for s in ingest)
    m = match["out"]
    return {
        "size": size, "store": store, "leads": size, "drivers": drivers,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "database": version,
        "load": {"start": ingest[0]["load"], "end": os.getloadavg()[0]},
        "ingest": {"rows": size + drivers, "wall_s": ingest_wall,
                   "records_per_s": (size + drivers) / ingest_wall,
                   "peak_rss_mib": max(s["peak_rss_mib"] for s in ingest)},
        "match": {"wall_s": match["wall_s"], "cpu_s": match["cpu_s"],
                  "peak_rss_mib": match["peak_rss_mib"], "load": match["load"],
                  "timed_out": match.get("timed_out"), "failed": match.get("failed"),
                  "leads_per_s": size / match["wall_s"] if finished else None,
                  "records_per_s": m.get("processed", 0) / match["wall_s"] if finished else None,
                  **{k: m.get(k) for k in ("processed", "linked", "review", "unmatched")}},
        "quality": evaluate["out"].get("lead_driver", {}),
        "online": {**online["out"], "peak_rss_mib": online["peak_rss_mib"]} if online else {},
        "naive": {**naive["out"], "process_wall_s": naive["wall_s"],
                  "peak_rss_mib": naive["peak_rss_mib"]},
    }  # fmt: skip


def run_splink(args: argparse.Namespace, size: int, data: dict[str, Path], env: dict[str, str],
               log: Log) -> dict[str, Any]:  # fmt: skip
    logs = args.out / f"scale-splink-{size}-seed{args.seed}" / "logs"
    python = str(args.leadlink.parent / "python")
    started = dt.datetime.now(dt.UTC)
    s = _step("splink", [python, str(BENCH / "splink_direct.py"), "--leads", str(data["leads"]),
                         "--drivers", str(data["drivers"]), "--truth", str(data["truth"]),
                         "--seed", str(args.seed)], logs, env, log)  # fmt: skip
    inner = s["out"]
    return {"size": size, "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            **{k: v for k, v in inner.items() if k != "wall_s"},
            "inner_wall_s": inner.get("wall_s"),  # train + predict, without start-up
            "wall_s": s["wall_s"], "cpu_s": s["cpu_s"], "peak_rss_mib": s["peak_rss_mib"],
            "load": s["load"]}  # fmt: skip


# -- resumable state -------------------------------------------------------------------------


def _git(*argv: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True,
                          check=False)  # fmt: skip
    return done.stdout.strip()


def commit() -> str:
    """HEAD, and whether src/ differs from it (the working tree is what the children run)."""
    dirty = " + uncommitted changes in src/" if _git("status", "--porcelain", "--", "src") else ""
    return (_git("rev-parse", "--short", "HEAD") or "?") + dirty


def snapshot_src(rev: str, out: Path) -> tuple[str, Path]:
    """src/ of commit rev, exported under out (git archive): a fixed tree to measure while the
    working tree changes. Returns (short sha, the directory to put on PYTHONPATH)."""
    sha = _git("rev-parse", "--short", f"{rev}^{{commit}}")
    if not sha:
        raise BenchError(f"--commit {rev!r}: no such commit")
    target = out / f"src-{sha}"
    if not (target / "src" / "leadlink").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha, "src"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return sha, target / "src"


def cached(
    path: Path, fresh: bool, compute: Callable[[], dict[str, Any]], log: Log, *, source: str
) -> Any:
    """compute() once and keep it in path; reuse it on the next run of the same source (commit)
    unless fresh: figures of different code are not mixed in one table."""
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    if path.exists() and not fresh:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("commit") == source:
            log(f"reusing {shown}")
            return saved
        log(f"{shown} measured {saved.get('commit')}, not {source}: running again")
    result = {**compute(), "commit": source}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return result


def shown_command(argv: Sequence[str]) -> str:
    """The command line, with a --pg-url's password hidden."""
    shown = []
    for a in argv:
        if "://" in a and "@" in a:
            scheme, rest = a.split("://", 1)
            userinfo, host = rest.split("@", 1)
            a = f"{scheme}://{userinfo.split(':')[0]}@{host}"
        shown.append(a)
    return shlex.join([".venv/bin/python", "benchmarks/bench_scale.py", *shown])


PrepareData = Callable[[argparse.Namespace, int, Log], dict[str, Path]]
RunStore = Callable[
    [argparse.Namespace, int, str, str | None, dict[str, Path], dict[str, str], Log],
    dict[str, Any],
]


def sweep(
    args: argparse.Namespace, env: dict[str, str], log: Log, *, source: str,
    prepare: PrepareData, run: RunStore, prefix: str = "",
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:  # fmt: skip
    """run() per size and store, Splink direct once per size, each saved in args.state and
    reused (`cached`); the data are prepared only for a size that has something to run, and
    PostgreSQL (--pg-url, or a throwaway cluster) only started when a run needs it."""
    runs: list[dict[str, Any]] = []
    splink: dict[int, dict[str, Any]] = {}
    with ExitStack() as stack:
        servers: list[str] = [args.pg_url] if args.pg_url else []

        def pg_server() -> str:
            """--pg-url, or a throwaway cluster started the first time a run needs one."""
            if not servers:
                servers.append(stack.enter_context(throwaway_postgres()))
                log(f"started a throwaway PostgreSQL server: {servers[0]}")
            return servers[0]

        for size in args.sizes:
            data: dict[str, Path] = {}

            def get_data(size: int = size, data: dict[str, Path] = data) -> dict[str, Path]:
                if not data:
                    data.update(prepare(args, size, log))
                return data

            for store in args.stores:
                path = args.state / f"{prefix}{store}-{size}-seed{args.seed}.json"

                def compute(size: int = size, store: str = store) -> dict[str, Any]:
                    server = pg_server() if store == "postgresql" else None
                    log(f"{size:,} leads on {store} …")
                    return run(args, size, store, server, get_data(), env, log)

                runs.append(cached(path, args.fresh, compute, log, source=source))
            if not args.no_splink:

                def splink_run(size: int = size) -> dict[str, Any]:
                    log(f"{size:,} leads with Splink direct …")
                    return run_splink(args, size, get_data(size), env, log)

                # Splink direct does not run leadlink: its figure is kept across leadlink commits
                path = args.state / f"{prefix}splink-{size}-seed{args.seed}.json"
                splink[size] = cached(path, args.fresh, splink_run, log, source=SPLINK_SOURCE)

    return runs, splink


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    args.out, args.state = args.out.resolve(), args.state.resolve()
    args.leadlink = args.leadlink.absolute()
    if not args.leadlink.exists():
        raise BenchError(f"{args.leadlink} not found: `make demo` or `pip install -e .` first")

    def log(message: str) -> None:
        print(f"[scale] {message}", file=sys.stderr, flush=True)

    env = {k: v for k, v in os.environ.items() if k != "LEADLINK_DB"}
    source = commit()
    if args.commit:  # the children import leadlink from that commit's src/, not the tree's
        source, src = snapshot_src(args.commit, args.out)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(src), env.get("PYTHONPATH"))))
        log(f"measuring commit {source} (src/ exported to {src})")
    runs, splink = sweep(args, env, log, source=source, prepare=prepare_data, run=run_store)

    from scale_report import plot, render, summary, write_outputs

    machine = machine_info(args.leadlink.parent / "python")
    result = summary(runs, splink, machine=machine, command=shown_command(raw))
    print(json.dumps(result, indent=2))
    if not runs:
        log("no store was run (--db none): RESULTS.md and the plot are left as they are")
    elif not args.no_results:
        try:
            svg: str | None = plot(result)
        except ImportError as exc:  # the dashboard's chart module is not there (yet)
            log(f"no plot: {exc}")
            svg = None
        section = render(result, svg_name=args.svg.name if svg else None)
        write_outputs(args.results, section, args.svg, svg)
        log(f"wrote the Size sweep section of {args.results}" + (f" and {args.svg}" if svg else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"[scale] error: {exc}", file=sys.stderr)
        sys.exit(1)
