"""Every command a person runs after `match`, on a store that already holds a data set.

RESULTS.md "Every command on one 1 M demo store" came from this sequence: on a store made by
`leadlink demo --leads N --data-dir DIR`, each command is its own process, timed by
bench_match.run_timed (wall, CPU, its own peak RSS), in this order: queue seed, recover,
claims, gap --json, quarantine scan, alerts, impact, evaluate --truth, export links twice
(compared byte for byte), refresh, check all. The commands write to the store (recover,
claims, ...): run it on a copy.

    .venv/bin/python benchmarks/bench_commands.py --db sqlite:////tmp/copy.db \
        --truth /tmp/demo-data/truth.csv --out /tmp/commands

It prints a markdown table (seconds, MiB) and writes it, with every figure, to OUT/commands.json.
A command that fails is recorded with its exit code and the run goes on.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_match import BenchError, run_timed

REPO = Path(__file__).resolve().parent.parent
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("queue seed", ("queue", "seed")),
    ("recover", ("recover",)),
    ("claims", ("claims",)),
    ("gap --json", ("gap", "--json")),
    ("quarantine scan", ("quarantine", "scan")),
    ("alerts", ("alerts",)),
    ("impact", ("impact",)),
    ("evaluate", ("evaluate", "--truth", "{truth}")),
    ("export links (1)", ("export", "links", "--out", "{out}/links-1.csv")),
    ("export links (2)", ("export", "links", "--out", "{out}/links-2.csv")),
    ("refresh", ("refresh",)),
    ("check all", ("check", "all")),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--db", required=True, help="the store's URL (LEADLINK_DB); use a copy")
    p.add_argument("--truth", type=Path, required=True, help="the demo's truth.csv")
    p.add_argument("--out", type=Path, required=True, help="folder for logs and results")
    p.add_argument("--leadlink", type=Path, default=REPO / ".venv" / "bin" / "leadlink")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LEADLINK_DB": args.db}
    rows: list[dict[str, Any]] = []
    for name, template in COMMANDS:
        argv = [str(args.leadlink), *(a.format(truth=args.truth, out=args.out) for a in template)]
        step = name.replace(" ", "_").replace("-", "").replace("(", "").replace(")", "")
        try:
            timed = run_timed(step, argv, log_dir=args.out / "logs", env=env)
            row = {"command": name, "wall_s": timed.wall_s, "cpu_s": timed.cpu_s,
                   "rss_mib": round(timed.max_rss_kib / 1024), "returncode": 0}  # fmt: skip
        except BenchError as exc:
            print(exc, file=sys.stderr)
            row = {"command": name, "wall_s": None, "cpu_s": None, "rss_mib": None,
                   "returncode": 1}  # fmt: skip
        rows.append(row)
        print(f"{name}: {row}", file=sys.stderr)
    exports = [args.out / "links-1.csv", args.out / "links-2.csv"]
    identical = all(p.exists() for p in exports) and filecmp.cmp(*exports, shallow=False)
    rows.append({"command": "export links byte-identical", "identical": identical})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| command | wall s | CPU s | peak RSS MiB | exit |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        if "identical" in r:
            lines.append(f"| {r['command']} | {'yes' if r['identical'] else 'NO'} | | | |")
            continue
        shown = ["—" if r[k] is None else f"{r[k]:,.1f}" for k in ("wall_s", "cpu_s")]
        rss = "—" if r["rss_mib"] is None else f"{r['rss_mib']:,}"
        lines.append(f"| `{r['command']}` | {shown[0]} | {shown[1]} | {rss} | {r['returncode']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run(args)
    text = table(rows)
    (args.out / "commands.json").write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    print(text)
    return 0 if all(r.get("returncode", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
