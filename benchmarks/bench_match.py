"""Match benchmark: how long `leadlink match` takes, and how much memory, at a given size.

Steps (each `leadlink` call is a separate child process, timed on its own):

1. Generate a synthetic data set with `leadlink.synth.generate`, large enough to hold at least
   ``--drivers`` drivers and ``--leads`` leads, then keep the first ``--leads`` rows of
   leads.csv (file order = lead time) and the first ``--drivers`` rows of drivers.csv (file
   order = hire date). With ``--sources all`` (default) the scouting, migrations, trips and
   payments rows of the kept drivers' persons are kept too; with ``--sources leads-drivers``
   none of them are. truth.csv is cut to the kept rows. The cut data set is cached under
   ``OUT/data/`` and reused while the generator's code is unchanged.
2. Fresh database (SQLite file under OUT, or a throwaway database created on the PostgreSQL
   server named by ``--db`` and dropped afterwards), ``leadlink init``.
3. ``leadlink ingest SOURCE FILE --json`` per source: wall time, rows/s, peak RSS.
4. ``leadlink match --json``: wall time, records/s, peak RSS of that child.
5. ``leadlink evaluate --truth truth.csv --json``: pairwise precision / recall / F1.
6. Optional ``--profile``: match again under cProfile on a snapshot of the database taken
   before step 4, and split the time into phases.

Peak RSS is the ``ru_maxrss`` that ``os.wait4`` returns for that one process (Linux: KiB),
measured through a tiny launcher so that this script's own memory is not charged to it.
Results are printed as Markdown and written into benchmarks/RESULTS.md, one section per
configuration (backend, sizes, seed, sources), replaced on rerun.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import os
import platform
import pstats
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
SOURCE_ORDER = ("leads", "scouting", "migrations", "drivers", "trips", "payments")
OTHER_SOURCES = ("scouting", "migrations", "trips", "payments")
# synth/__init__.py makes about 0.74 drivers per lead (70% of lead persons hired, plus 13% orphans).
DRIVERS_PER_LEAD_GUESS = 0.72
RESULTS_HEADER = """# Match benchmark results

Written by `benchmarks/bench_match.py` (see `benchmarks/README.md`). One section per
configuration (backend, sizes, seed, sources); rerunning a configuration replaces its section.
"""


# -- measuring one child process -----------------------------------------------------------


@dataclass
class Timed:
    """One child process: its wall time, its own peak RSS, its exit code and output."""

    step: str
    argv: list[str]
    wall_s: float
    cpu_s: float
    max_rss_kib: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def rss_mib(self) -> float:
        return self.max_rss_kib / 1024

    def json(self) -> Any:
        return json.loads(self.stdout)


class BenchError(Exception):
    """The benchmark cannot go on (a child failed, bad arguments)."""


# A child's ru_maxrss on Linux starts from the RSS of the process that forked it (the
# counter survives exec), so measuring our own children would charge them this process's
# memory (the generated data set). A tiny launcher, started with no imports, spawns the
# command and reports the rusage of that one grandchild; its own floor is about 9 MiB.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_pid, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as fh:
    json.dump({"wall_s": wall, "max_rss_kib": usage.ru_maxrss,
               "cpu_s": usage.ru_utime + usage.ru_stime,
               "returncode": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_timed(step: str, argv: list[str], *, log_dir: Path, env: dict[str, str]) -> Timed:
    """Run argv as a grandchild; its wall clock and its own peak RSS (os.wait4 rusage)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{step}.out", log_dir / f"{step}.err"
    usage_path = log_dir / f"{step}.usage.json"
    program = shutil.which(argv[0], path=env.get("PATH")) if os.sep not in argv[0] else argv[0]
    if program is None:
        raise BenchError(f"{argv[0]} not found")
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(usage_path), program, *argv[1:]]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        subprocess.run(
            launcher, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, check=True
        )
    usage = json.loads(usage_path.read_text(encoding="utf-8"))
    timed = Timed(
        step=step,
        argv=argv,
        wall_s=float(usage["wall_s"]),
        cpu_s=float(usage["cpu_s"]),
        max_rss_kib=int(usage["max_rss_kib"]),
        returncode=int(usage["returncode"]),
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )
    if timed.returncode != 0:
        tail = "\n".join(timed.stderr.strip().splitlines()[-25:])
        raise BenchError(
            f"step {step!r} failed with exit code {timed.returncode}: {shlex.join(argv)}\n"
            f"(logs: {out_path}, {err_path})\n{tail}"
        )
    return timed


# -- the data set --------------------------------------------------------------------------


@dataclass
class DataSet:
    directory: Path
    generated_leads: int
    generated_rows: dict[str, int]
    rows: dict[str, int]
    sources: str

    def file(self, source: str) -> Path:
        return self.directory / f"{source}.csv"

    @property
    def truth(self) -> Path:
        return self.directory / "truth.csv"


def generator_fingerprint() -> str:
    """Hash of the generator's code: a cached data set is reused only while it is unchanged."""
    import leadlink.synth
    import leadlink.synth.names

    digest = hashlib.sha256()
    for module in (leadlink.synth, leadlink.synth.names):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make_dataset(
    out: Path, *, leads: int, drivers: int, seed: int, sources: str, log: Callable[[str], None]
) -> DataSet:
    """Generate enough, cut to exactly `leads` leads and `drivers` drivers, cache the result."""
    from leadlink.synth import generate

    fingerprint = generator_fingerprint()
    directory = out / "data" / f"L{leads}-D{drivers}-s{seed}-{sources}"
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("generator") == fingerprint:
            log(f"reusing cached data set {directory}")
            return DataSet(
                directory,
                manifest["generated_leads"],
                manifest["generated_rows"],
                manifest["rows"],
                sources,
            )
    shutil.rmtree(directory, ignore_errors=True)
    full = directory / "full"
    n = max(leads, math.ceil(drivers / DRIVERS_PER_LEAD_GUESS))
    while True:
        log(f"generating {n:,} leads (seed {seed}) into {full}")
        shutil.rmtree(full, ignore_errors=True)
        counts = generate(full, leads=n, seed=seed)
        if counts["drivers"] >= drivers and counts["leads"] >= leads:
            break
        n = math.ceil(n * drivers / max(counts["drivers"], 1) * 1.02) + 1

    # truth.csv lists every file's rows in file order: row i of a source is its i-th truth row.
    _, truth_rows = _read_csv(full / "truth.csv")
    entity_of: dict[str, list[tuple[str, str]]] = {s: [] for s in SOURCE_ORDER}
    for source, source_pk, entity in truth_rows:
        entity_of[source].append((source_pk, entity))
    keep_n = {"leads": leads, "drivers": drivers}
    kept: dict[str, tuple[list[str], list[list[str]]]] = {}
    kept_truth: list[tuple[str, str, str]] = []
    driver_entities: set[str] = set()
    for source in ("leads", "drivers", *OTHER_SOURCES):
        if source in OTHER_SOURCES and sources != "all":  # none kept: read the header only
            with (full / f"{source}.csv").open(encoding="utf-8", newline="") as fh:
                kept[source] = (next(csv.reader(fh)), [])
            continue
        header, rows = _read_csv(full / f"{source}.csv")
        ids = entity_of[source]
        if len(ids) != len(rows):
            raise BenchError(f"{source}.csv has {len(rows)} rows but truth.csv {len(ids)}")
        if source in keep_n:
            picked = list(range(keep_n[source]))
        elif sources == "all":
            picked = [i for i, (_pk, eid) in enumerate(ids) if eid in driver_entities]
        else:
            picked = []
        if source == "drivers":
            driver_entities = {ids[i][1] for i in picked}
        kept[source] = (header, [rows[i] for i in picked])
        kept_truth.extend((source, ids[i][0], ids[i][1]) for i in picked)
    for source, (header, rows) in kept.items():
        _write_csv(directory / f"{source}.csv", header, rows)
    order = {s: i for i, s in enumerate(SOURCE_ORDER)}
    kept_truth.sort(key=lambda t: order[t[0]])
    _write_csv(directory / "truth.csv", ("source", "source_pk", "entity_id"), kept_truth)
    shutil.rmtree(full)
    rows_out = {s: len(kept[s][1]) for s in SOURCE_ORDER}
    generated = {k: v for k, v in counts.items() if k != "truth"}
    manifest_path.write_text(
        json.dumps(
            {
                "generator": fingerprint,
                "generated_leads": n,
                "generated_rows": generated,
                "rows": rows_out,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return DataSet(directory, n, generated, rows_out, sources)


# -- the database --------------------------------------------------------------------------


@dataclass
class Database:
    backend: str  # "sqlite" or "postgresql"
    url: str  # with password, for the children
    shown: str  # without password, for the report
    version: str
    snapshot: Callable[[], None]
    restore: Callable[[], str]  # -> URL of the pre-match snapshot


def _pg_url(raw: str) -> Any:
    from sqlalchemy.engine import make_url

    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


@contextmanager
def fresh_database(db: str, run_dir: Path, *, keep: bool) -> Iterator[Database]:
    """A new, empty database for this run; dropped afterwards (PostgreSQL) unless keep."""
    if db == "sqlite":
        path = run_dir / "bench.db"
        snap = run_dir / "bench-before-match.db"
        for p in run_dir.glob("bench*.db*"):
            p.unlink()
        url = f"sqlite:///{path}"

        def snapshot() -> None:
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{path}{suffix}")
                if src.exists():
                    shutil.copyfile(src, f"{snap}{suffix}")

        def restore() -> str:
            return f"sqlite:///{snap}"

        try:
            shown = f"sqlite:///{path.relative_to(REPO)}"
        except ValueError:
            shown = url
        try:
            yield Database(
                "sqlite", url, shown, f"SQLite {sqlite3.sqlite_version}", snapshot, restore
            )
        finally:  # the benchmarked database stays for inspection; the profiling copy goes
            if not keep:
                for p in run_dir.glob("bench-before-match.db*"):
                    p.unlink()
        return

    if not db.startswith(("postgresql", "postgres")):
        raise BenchError(f"--db must be 'sqlite' or a postgresql+psycopg:// URL, not {db!r}")
    from sqlalchemy import create_engine, text

    server = _pg_url(db)
    name = f"leadlink_bench_{os.getpid()}"
    snap_name = f"{name}_snap"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def ddl(sql: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(sql))

    try:
        with admin.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
            knobs = ", ".join(
                f"{k}={conn.execute(text(f'SHOW {k}')).scalar_one()}"
                for k in ("shared_buffers", "work_mem", "fsync", "synchronous_commit")
            )
        ddl(f'CREATE DATABASE "{name}"')
        created.append(name)
        bench = server.set(database=name)

        def snapshot() -> None:
            ddl(f'CREATE DATABASE "{snap_name}" TEMPLATE "{name}"')
            created.append(snap_name)

        def restore() -> str:
            return str(server.set(database=snap_name).render_as_string(hide_password=False))

        yield Database(
            "postgresql",
            bench.render_as_string(hide_password=False),
            bench.render_as_string(hide_password=True),
            f"PostgreSQL {version} ({knobs})",
            snapshot,
            restore,
        )
    finally:
        if not keep:
            for n in reversed(created):
                ddl(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
        admin.dispose()


# -- profile -------------------------------------------------------------------------------

# (label, file suffix, function name): cumulative time of each, from the cProfile run.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("whole process (imports, CLI, match)", "", ""),
    ("match() itself", "leadlink/pipeline/resolution/resolve.py", "match"),
    (
        "load registry of linked records (store/resolution.py registry)",
        "leadlink/store/resolution.py",
        "registry",
    ),
    (
        "read pending records (store/resolution.py pending)",
        "leadlink/store/resolution.py",
        "pending",
    ),
    (
        "records → canonical frame (pipeline/resolution/canonical.py canonical_frame)",
        "leadlink/pipeline/resolution/canonical.py",
        "canonical_frame",
    ),
    ("normalise (matching/frames.py prepare)", "leadlink/matching/frames.py", "prepare"),
    (
        "block + score + decide in DuckDB (matching/engine.py resolve)",
        "leadlink/matching/engine.py",
        "resolve",
    ),
    (
        "same-batch driver clusters (matching/engine.py clusters)",
        "leadlink/matching/engine.py",
        "clusters",
    ),
    (
        "decisions → rows + write (pipeline/resolution/resolve.py _write)",
        "leadlink/pipeline/resolution/resolve.py",
        "_write",
    ),
    ("  of which store/resolution.py write_chunk", "leadlink/store/resolution.py", "write_chunk"),
    (
        "  of which origins INSERT…SELECT (_origins_for_new_links)",
        "leadlink/store/resolution.py",
        "_origins_for_new_links",
    ),
    (
        "grow registry between sources (pipeline/resolution/resolve.py _grow)",
        "leadlink/pipeline/resolution/resolve.py",
        "_grow",
    ),
)


@dataclass
class Profile:
    file: str
    wall_s: float
    phases: list[tuple[str, float]]
    top: list[tuple[str, int, float, float]]  # (function, calls, tottime, cumtime)


def summarise_profile(path: Path, wall_s: float) -> Profile:
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    phases: list[tuple[str, float]] = []
    for label, suffix, func in PHASES:
        if not suffix:
            phases.append((label, float(stats.total_tt)))  # type: ignore[attr-defined]
            continue
        cum = sum(v[3] for (f, _l, fn), v in raw.items() if fn == func and f.endswith(suffix))
        phases.append((label, cum))
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    rows = []
    for (f, line, fn), (_cc, nc, tt, ct, _callers) in top:
        where = f"{_short(f)}:{line}({fn})" if line else fn
        rows.append((where, nc, tt, ct))
    return Profile(str(path), wall_s, phases, rows)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- the report ----------------------------------------------------------------------------


@dataclass
class Report:
    key: str
    title: str
    date: str
    machine: dict[str, str]
    command: str
    make_command: str
    database: str
    dataset: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    match: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    profile: Profile | None = None
    startup_s: float = 0.0


def machine_info(leadlink_python: Path) -> dict[str, str]:
    mem_kib = 0
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    versions = subprocess.run(
        [
            str(leadlink_python),
            "-c",
            "import sys, duckdb, sqlalchemy; print(sys.version.split()[0], duckdb.__version__,"
            " sqlalchemy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": nproc or str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": versions[0],
        "duckdb": versions[1],
        "sqlalchemy": versions[2],
        "commit": (git or "?") + (" + uncommitted changes in src/" if dirty else ""),
    }


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def render(report: Report) -> str:
    m = report.machine
    ds = report.dataset
    lines = [
        f"## {report.title}",
        "",
        f"- Date: {report.date}",
        f"- Machine: {m['nproc']} CPUs (`nproc`), {m['memory']} RAM (MemTotal), {m['cpu']}, "
        f"{m['os']}",
        f"- Versions: Python {m['python']}, DuckDB {m['duckdb']}, SQLAlchemy {m['sqlalchemy']}, "
        f"{report.database}; leadlink commit {m['commit']}",
        f"- Command: `{report.command}` (or `{report.make_command}`)",
        f"- Data: `synth.generate(leads={ds['generated_leads']:,}, seed={ds['seed']})` gave "
        f"{ds['generated_rows']['leads']:,} leads and {ds['generated_rows']['drivers']:,} "
        f"drivers; kept the first {ds['rows']['leads']:,} leads (file order = lead time) and "
        f"the first {ds['rows']['drivers']:,} drivers (file order = hire date), "
        + (
            "plus the scouting, migrations, trips and payments rows of the kept drivers' persons."
            if ds["sources"] == "all"
            else "and no rows of the other sources."
        ),
        f"- Every step is its own `leadlink` process, timed end to end: wall s and rows/s "
        f"include process start-up (`leadlink --help` alone takes {report.startup_s:.2f} s, "
        f"best of 3); the net rate subtracts that start-up, as an estimate. CPU s is user + "
        f"system time of the process (DuckDB uses several threads, so it can exceed wall s); "
        f"load is the 1-minute load average when the step started (anything else running on "
        f"the machine slows wall time).",
        "",
        "| step | rows | wall s | CPU s | rows/s | rows/s net of start-up | peak RSS MiB | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.steps:
        rate = net = ""
        if s["rows"] and s["wall_s"]:
            rate = _n(s["rows"] / s["wall_s"])
            busy = s["wall_s"] - report.startup_s
            net = _n(s["rows"] / busy) if busy > 0.05 else ""
        rows = _n(s["rows"]) if s["rows"] is not None else ""
        lines.append(
            f"| {s['label']} | {rows} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | {rate} | {net} "
            f"| {s['rss_mib']:.0f} | {s['load']:.1f} |"
        )
    mt = report.match
    unmatched = ", ".join(f"{k} {v:,}" for k, v in mt.get("unmatched", {}).items() if v) or "none"
    lines += [
        "",
        f"Match: {mt.get('processed', 0):,} records processed, {mt.get('linked', 0):,} linked, "
        f"{mt.get('new_persons', 0):,} new persons, {mt.get('review', 0):,} in review; "
        f"unmatched: {unmatched}.",
    ]
    by_source = mt.get("by_source") or {}
    if by_source:
        lines.append(
            "Per source: "
            + "; ".join(
                f"{src} {d.get('processed', 0):,} ({d.get('linked', 0):,} linked)"
                for src, d in by_source.items()
            )
            + "."
        )
    ev = report.evaluate
    lines += [
        "",
        "| pairs (evaluate --truth) | precision | recall | F1 | true | predicted | correct |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k in ("lead_driver", "all_sources"):
        if k in ev:
            v = ev[k]
            lines.append(
                f"| {k} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | "
                f"{v['true_pairs']:,} | {v['predicted_pairs']:,} | {v['correct_pairs']:,} |"
            )
    if report.profile is not None:
        p = report.profile
        lines += [
            "",
            f"Profile (cProfile, second match run on a pre-match copy of the database; "
            f"{p.wall_s:.1f} s wall under the profiler, which inflates pure-Python time; "
            f"DuckDB and database time is charged to the Python function waiting on it):",
            "",
            "| phase | cumulative s |",
            "|---|---:|",
        ]
        lines += [f"| {label} | {secs:.2f} |" for label, secs in p.phases]
        lines += [
            "",
            "| top functions by own time | calls | own s | cumulative s |",
            "|---|---:|---:|---:|",
        ]
        lines += [f"| `{w}` | {c:,} | {t:.2f} | {ct:.2f} |" for w, c, t, ct in p.top]
    return "\n".join(lines) + "\n"


SECTION = re.compile(r"<!-- bench:(?P<key>[^ ]+) -->\n.*?<!-- /bench:(?P=key) -->\n?", re.DOTALL)


def _section_order(key: str) -> tuple[Any, ...]:
    """sqlite before postgresql, then by size: `sqlite-5000x5000-seed7-all`."""
    m = re.fullmatch(r"(\w+)-(\d+)x(\d+)-seed(-?\d+)-(.+)", key)
    if m is None:
        return (2, key)
    backend, leads, drivers, seed, sources = m.groups()
    return (0 if backend == "sqlite" else 1, backend, int(leads), int(drivers), int(seed), sources)


def write_results(path: Path, key: str, section: str) -> None:
    """Replace (or add) this configuration's section; keep sections sorted by configuration.

    Text above the first section and below the last one is kept as it is.
    """
    block = f"<!-- bench:{key} -->\n{section}<!-- /bench:{key} -->\n"
    text = path.read_text(encoding="utf-8") if path.exists() else RESULTS_HEADER
    found = list(SECTION.finditer(text))
    if not found:
        path.write_text(text.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    head, tail = text[: found[0].start()], text[found[-1].end() :]
    between = [text[a.end() : b.start()] for a, b in zip(found, found[1:], strict=False)]
    if any(gap.strip() for gap in between):  # hand-written text between sections: no sorting
        blocks = [(m.group("key"), m.group(0)) for m in found]
        if any(k == key for k, _ in blocks):
            text = SECTION.sub(lambda m: block if m.group("key") == key else m.group(0), text)
        else:
            text = text[: found[-1].end()].rstrip("\n") + "\n\n" + block + tail
        path.write_text(text, encoding="utf-8")
        return
    sections = {m.group("key"): m.group(0).rstrip("\n") + "\n" for m in found}
    sections[key] = block
    body = "\n".join(sections[k] for k in sorted(sections, key=_section_order))
    path.write_text(head.rstrip("\n") + "\n\n" + body + tail, encoding="utf-8")


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--leads", type=int, default=50_000, help="lead rows to ingest (exactly)")
    p.add_argument("--drivers", type=int, default=50_000, help="driver rows to ingest (exactly)")
    p.add_argument("--seed", type=int, default=7, help="generator seed")
    p.add_argument(
        "--db",
        default="sqlite",
        help="'sqlite' (a new file under OUT) or a postgresql+psycopg:// server URL "
        "(a throwaway database is created there and dropped afterwards)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "out",
        help="scratch directory for data, databases and logs (git-ignored)",
    )
    p.add_argument(
        "--sources",
        choices=("all", "leads-drivers"),
        default="all",
        help="also ingest the other sources' rows of the kept drivers (all), or not",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="then run match again under cProfile on a pre-match copy",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose section for this configuration is replaced",
    )
    p.add_argument("--no-results", action="store_true", help="do not write the results file")
    p.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the databases created for the run (PostgreSQL; SQLite pre-match copy)",
    )
    p.add_argument(
        "--leadlink",
        type=Path,
        default=REPO / ".venv" / "bin" / "leadlink",
        help="the leadlink executable to benchmark",
    )
    args = p.parse_args(argv)
    if args.leads < 1 or args.drivers < 1:
        p.error("--leads and --drivers must be at least 1")
    if args.db != "sqlite" and not args.db.startswith(("postgresql", "postgres")):
        p.error(f"--db must be 'sqlite' or a postgresql+psycopg:// URL, not {args.db!r}")
    return args


def shown_command(argv: Sequence[str], db_shown: str, backend: str) -> tuple[str, str]:
    args = list(argv)
    for i, a in enumerate(args):
        if a == "--db" and i + 1 < len(args) and backend == "postgresql":
            args[i + 1] = db_shown
        elif a.startswith("--db=") and backend == "postgresql":
            args[i] = f"--db={db_shown}"
    return (
        shlex.join([".venv/bin/python", "benchmarks/bench_match.py", *args]),
        f'make bench-match BENCH_ARGS="{shlex.join(args)}"' if args else "make bench-match",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raw_argv = list(sys.argv[1:] if argv is None else argv)

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    leadlink = args.leadlink.resolve()
    if not leadlink.exists():
        raise BenchError(f"{leadlink} not found: run `make demo` or `pip install -e .` first")
    python = leadlink.parent / "python"
    if not python.exists():  # not a venv script: the interpreter running this benchmark
        python = Path(sys.executable)
    out: Path = args.out.resolve()
    backend = "sqlite" if args.db == "sqlite" else "postgresql"
    key = f"{backend}-{args.leads}x{args.drivers}-seed{args.seed}-{args.sources}"
    run_dir = out / f"run-{key}"
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "LEADLINK_DB"}
    overrides = sorted(k for k in env if k.startswith("LEADLINK_"))
    if overrides:
        log(f"note: settings from the environment apply to every step: {', '.join(overrides)}")

    dataset = make_dataset(
        out, leads=args.leads, drivers=args.drivers, seed=args.seed, sources=args.sources, log=log
    )
    log(f"data set {dataset.directory}: {dataset.rows}")
    started = dt.datetime.now(dt.UTC)

    with fresh_database(args.db, run_dir, keep=args.keep_db) as db:
        server = "" if backend == "sqlite" else _pg_url(args.db).render_as_string(True)
        command, make_command = shown_command(raw_argv, server, backend)
        report = Report(
            key=key,
            title=f"{db.version.split()[0]} · {args.leads:,} leads × {args.drivers:,} drivers "
            f"(seed {args.seed}, sources: {args.sources})",
            date=started.strftime("%Y-%m-%d %H:%M UTC"),
            machine=machine_info(python),
            command=command,
            make_command=make_command,
            database=f"{db.version}, database {db.shown}",
            dataset={**asdict(dataset), "directory": str(dataset.directory), "seed": args.seed},
        )
        ll = [str(leadlink), "--db", db.url]

        def step(label: str, name: str, argv: list[str], rows: int | None) -> Timed:
            log(f"{label} …")
            load = os.getloadavg()[0]
            t = run_timed(name, argv, log_dir=logs, env=env)
            log(f"{label}: {t.wall_s:.2f} s, CPU {t.cpu_s:.2f} s, peak RSS {t.rss_mib:.0f} MiB")
            report.steps.append(
                {
                    "label": label,
                    "rows": rows,
                    "wall_s": t.wall_s,
                    "cpu_s": t.cpu_s,
                    "rss_mib": t.rss_mib,
                    "load": load,
                }
            )
            return t

        report.startup_s = min(
            run_timed(f"00-help-{i}", [str(leadlink), "--help"], log_dir=logs, env=env).wall_s
            for i in range(3)
        )
        step("init", "01-init", [*ll, "init", "--json"], None)
        for i, source in enumerate(SOURCE_ORDER, start=2):
            n = dataset.rows[source]
            if n == 0:
                continue
            t = step(
                f"ingest {source}",
                f"{i:02d}-ingest-{source}",
                [*ll, "ingest", source, str(dataset.file(source)), "--json"],
                n,
            )
            got = t.json()
            if got.get("rows") != n:
                raise BenchError(f"ingest {source}: expected {n} rows, leadlink says {got}")
        if args.profile:
            db.snapshot()
        t = step("**match**", "10-match", [*ll, "match", "--json"], None)
        report.match = t.json()
        report.steps[-1]["rows"] = int(report.match.get("processed", 0))
        t = step(
            "evaluate --truth",
            "11-evaluate",
            [*ll, "evaluate", "--truth", str(dataset.truth), "--json"],
            None,
        )
        report.evaluate = t.json()
        if args.profile:
            prof = run_dir / "match.prof"
            snap_url = db.restore()
            log("match again under cProfile on the pre-match snapshot …")
            t = run_timed(
                "12-match-profiled",
                [
                    str(python),
                    "-m",
                    "cProfile",
                    "-o",
                    str(prof),
                    str(leadlink),
                    "--db",
                    snap_url,
                    "match",
                    "--json",
                ],
                log_dir=logs,
                env=env,
            )
            report.profile = summarise_profile(prof, t.wall_s)
            log(f"profile written to {prof} (`python -m pstats {prof}`)")

    section = render(report)
    print(section)
    (run_dir / "result.json").write_text(
        json.dumps({**asdict(report), "markdown": section}, indent=2, default=str),
        encoding="utf-8",
    )
    if not args.no_results:
        write_results(args.results, key, section)
        log(f"section {key!r} written to {args.results}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"[bench] error: {exc}", file=sys.stderr)
        sys.exit(1)
