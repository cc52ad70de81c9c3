"""Peak memory and speed of `leadlink ingest SOURCE FILE` (issue 14, target 2: streamed ingest).

    .venv/bin/python benchmarks/bench_ingest.py [--pristine /tmp/r100k/pristine.db]
        [--data /tmp/r100k/data] [--workdir /tmp/ingest-bench] [--big-rows 3000000]
        [--src OTHER/src] [--label after] [--out results.json]

Each case runs the CLI in a subprocess under ``/usr/bin/time -v`` (wall clock, user + system
CPU, maximum resident set size of the child) against its own SQLite store:

- ``copy``: a fresh copy of the 100 k demo store, which already holds the file's rows (every
  row is read, validated and compared, none written);
- ``empty``: a store just created by ``leadlink init`` (every row inserted);
- ``big``: a generated trips file of ``--big-rows`` rows (the demo's trips repeated, each
  repetition's driver ids suffixed so every key is unique) into an empty store: the peak
  memory must not grow with the file.

``--src`` runs another checkout's code (``PYTHONPATH=OTHER/src``), e.g. main's, for the
"before" figures. Prints a markdown table; ``--out`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# This interpreter, not the ``leadlink`` script: a worktree's script may name another
# checkout's interpreter (and so run that checkout's code).
LEADLINK = [sys.executable, "-c", "import sys; from leadlink.cli import main; sys.exit(main())"]


def big_trips(source: Path, target: Path, rows: int) -> Path:
    """``rows`` trip rows: ``source`` repeated, driver ids suffixed ``-rN`` after the first."""
    if target.exists():
        return target
    written = 0
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["driver_id", "date", "completed_trips"])
        repeat = 0
        while written < rows:
            with source.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                for row in reader:
                    if written >= rows:
                        break
                    driver = row["driver_id"] + (f"-r{repeat}" if repeat else "")
                    writer.writerow([driver, row["date"], row["completed_trips"]])
                    written += 1
            repeat += 1
    return target


def _timed(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    report = proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{report[-3000:]}")

    def field(name: str) -> str:
        found = re.search(rf"{re.escape(name)}: (.+)", report)
        if found is None:
            raise SystemExit(f"no {name!r} in the time report:\n{report[-3000:]}")
        return found.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(
            float(field("User time (seconds)")) + float(field("System time (seconds)")), 2
        ),  # fmt: skip
        "max_rss_mib": round(int(field("Maximum resident set size (kbytes)")) / 1024, 1),
        "result": json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None,
    }


def run_case(name: str, source: str, file: Path, store: Path, *, pristine: Path | None,
             env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    for old in store.parent.glob(store.name + "*"):
        old.unlink()
    env = dict(env, LEADLINK_DB=f"sqlite:///{store}")
    if pristine is not None:
        shutil.copyfile(pristine, store)
    else:
        subprocess.run([*LEADLINK, "init"], env=env, check=True, capture_output=True)
    figures = _timed([*LEADLINK, "ingest", source, str(file), "--json"], env)
    result = figures.pop("result") or {}
    rows = int(result.get("rows", 0))
    figures.update(
        case=name, source=source, file=file.name, rows=rows,
        inserted=result.get("inserted"), unchanged=result.get("unchanged"),
        rows_per_s=round(rows / figures["wall_s"]) if figures["wall_s"] else None,
    )  # fmt: skip
    for old in store.parent.glob(store.name + "*"):
        old.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pristine", type=Path, default=Path("/tmp/r100k/pristine.db"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/r100k/data"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ingest-bench"))
    parser.add_argument("--big-rows", type=int, default=3_000_000)
    parser.add_argument("--src", type=Path, help="run this checkout's src/ instead (before)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--cases", default="copy,empty,big", help="comma-separated")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    store = args.workdir / "store.db"
    cases = set(args.cases.split(","))
    results: list[dict[str, Any]] = []
    print("| code | source | file | rows | store | wall s | CPU s | rows/s | peak RSS MiB |")
    print("|---|---|---|---:|---|---:|---:|---:|---:|", flush=True)

    def measured(r: dict[str, Any]) -> None:
        """Print (and save) each case as it ends: a long run killed half way keeps its figures."""
        results.append(r)
        print(
            f"| {args.label} | {r['source']} | {r['file']} | {r['rows']:,} | {r['case']} "
            f"| {r['wall_s']} | {r['cpu_s']} | {r['rows_per_s']:,} | {r['max_rss_mib']:,} |",
            flush=True,
        )
        if args.out is not None:
            args.out.write_text(json.dumps({"label": args.label, "results": results}, indent=2))

    for source in ("trips", "leads"):
        file = args.data / f"{source}.csv"
        if "copy" in cases:
            measured(run_case("copy of the 100 k store", source, file, store,
                              pristine=args.pristine, env=env))  # fmt: skip
        if "empty" in cases:
            measured(run_case("empty store", source, file, store, pristine=None, env=env))
    if "big" in cases:
        big = big_trips(args.data / "trips.csv", args.workdir / "trips_big.csv", args.big_rows)
        measured(run_case("empty store", "trips", big, store, pristine=None, env=env))


if __name__ == "__main__":
    main()
