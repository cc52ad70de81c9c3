"""bench_e2e.py's report: the `<!-- bench:e2e -->` section of RESULTS.md and e2e.svg.

Every figure is marked against issue 14's target (those targets are for 1 M leads: a mark at
10 k or 100 k says whether the figure already fits, not that 1 M will). Between the two largest
sizes of a store each command's growth exponent k (time ∝ N^k) is shown with the time it gives
at 1 M, so what will not hold there is visible before it is run. Hand-written notes are kept in
benchmarks/e2e_notes.md and put under the tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench_match import write_results
from scale_report import STORE_NAME, stacked_svg

SECTION_KEY = "e2e"
NOTES = Path(__file__).resolve().parent / "e2e_notes.md"
MILLION = 1_000_000
COMMAND_S, ROUTE_P95_MS, INGEST_RSS_MIB = 60.0, 300.0, 1024.0
MATCH_S = {"sqlite": 180.0, "postgresql": 240.0}
MATCH_RSS_MIB = 4096.0
# (figure, key in run["online"] or run["batch"], target, unit)
ONLINE_TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("ready to decide: first decision from process start", "first_decision_s", 10.0, "s"),
    ("server RSS after the online posts", "server_rss_mib", 1536.0, "MiB"),
    ("server peak RSS over the whole run", "server_peak_rss_mib", 1536.0, "MiB"),
    ("POST /api/leads p50", "posts.p50_ms", 50.0, "ms"),
    ("POST /api/leads p99", "posts.p99_ms", 50.0, "ms"),
    ("first POST after the batch write", "batch.posts_after.first_ms", 200.0, "ms"),
    ("POST /api/leads p99 after the batch write", "batch.posts_after.p99_ms", 200.0, "ms"),
)
PLOTS = (
    ("ingest (six sources)", "match", "recover", "claims", "gap", "check all", "evaluate",
     "Splink direct"),
    ("queue seed", "quarantine scan", "alerts", "impact", "export links (1)",
     "claims (after one more day)", "slowest route p95", "first decision from start"),
)  # fmt: skip


def _mark(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return ""
    return " ✓" if value <= target else " ✗"


def _col(run: Mapping[str, Any]) -> str:
    return f"{run['size']:,} {STORE_NAME[run['store']]}"


def command_target(name: str, store: str) -> float | None:
    if name == "init":
        return None
    return MATCH_S[store] if name == "match" else COMMAND_S


def _cell(step: Mapping[str, Any], target: float | None, rss_target: float | None) -> str:
    if step.get("failed") or step.get("timed_out"):
        why = f"stopped after {step['timed_out']} s" if step.get("timed_out") else "failed"
        return f"**{why}** ({step['wall_s']:.0f} s)"
    rss = step["peak_rss_mib"]
    return (f"{step['wall_s']:.1f} s{_mark(step['wall_s'], target)} (CPU {step['cpu_s']:.1f}) · "
            f"{rss:,.0f} MiB{_mark(rss, rss_target)}")  # fmt: skip


def _rss_target(name: str) -> float | None:
    if name.startswith("ingest"):
        return INGEST_RSS_MIB
    return MATCH_RSS_MIB if name.startswith("match") else None


def growth(runs: Sequence[Mapping[str, Any]], value: Any) -> dict[str, tuple[float, float]]:
    """Per store, between its two largest sizes: (k, value at 1 M by N^k) of value(run)."""
    out: dict[str, tuple[float, float]] = {}
    for store in STORE_NAME:
        mine = sorted((r for r in runs if r["store"] == store), key=lambda r: r["size"])
        if len(mine) < 2:
            continue
        a, b = mine[-2], mine[-1]
        va, vb = value(a), value(b)
        if not (va and vb and va > 0 and vb > 0) or b["size"] == a["size"]:
            continue
        k = math.log(vb / va) / math.log(b["size"] / a["size"])
        out[store] = (k, vb * (MILLION / b["size"]) ** k)
    return out


def _get(run: Mapping[str, Any], dotted: str) -> Any:
    obj: Any = run if dotted.startswith("batch.") else run["online"]
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, Mapping) else None
    return obj


def _wall(name: str) -> Any:
    def value(run: Mapping[str, Any]) -> float | None:
        step = run["commands"].get(name)
        ok = step and not (step.get("failed") or step.get("timed_out"))
        return float(step["wall_s"]) if ok else None

    return value


def render(result: Mapping[str, Any], *, svg_name: str | None) -> str:
    runs = sorted(result["runs"], key=lambda r: (r["store"] != "sqlite", r["size"]))
    splink = result.get("splink", {})
    sizes = sorted({r["size"] for r in runs})
    m = result["machine"]
    lines = ["## End to end: every command, page and call (`make bench-e2e`)", "",
             f"- Command: `{result['command']}`",
             f"- Machine: {m.get('cpu')}, {m.get('nproc')} cores, {m.get('memory')}; "
             f"Python {m.get('python')}, DuckDB {m.get('duckdb')}; shared with other work: the "
             "load average at each run's start and end is below, and CPU seconds are given "
             "next to wall seconds",
             "- Runs: " + "; ".join(f"{_col(r)}: {r['date']}, commit {r.get('head')} "
                                    f"({r.get('commit')}), {r['database']}, load "
                                    f"{r['load']['start']}→{r['load']['end']}" for r in runs),
             "- Data: the generator's six sources (`leadlink.synth.generate`, as `leadlink demo` "
             "makes them), held-out leads (posted, batch-matched) included; per size: "
             + "; ".join(
                 f"{r['size']:,}: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()
                                                if k != "truth")
                 for r in {r["size"]: r for r in runs}.values()),
             ]  # fmt: skip
    if MILLION not in sizes:
        lines.append(
            "- **1 M was not run yet** (`make bench-e2e SIZE=1000000` does it); the "
            "growth table below says what the measured growth gives there."
        )
    lines += ["", "Marks: ✓ within issue 14's target for 1 M, ✗ over it (commands ≤ 60 s, "
              "`match` ≤ 3 min SQLite / 4 min PostgreSQL and ≤ 4 GiB, ingest ≤ 1 GiB, routes "
              "p95 ≤ 300 ms, online as listed). Cells: wall (CPU s) · peak RSS of the process.",
              ""]  # fmt: skip
    names: list[str] = []
    for r in runs:
        names += [n for n in r["commands"] if n not in names]
    lines += ["| command | " + " | ".join(_col(r) for r in runs) + " |",
              "|---|" + "---:|" * len(runs)]  # fmt: skip
    for name in names:
        cells = [_cell(r["commands"][name], command_target(name, r["store"]), _rss_target(name))
                 if name in r["commands"] else "" for r in runs]  # fmt: skip
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("| Splink direct (train + predict, same leads × drivers) | " + " | ".join(
        (f"{s['wall_s']:.1f} s (CPU {s['cpu_s']:.1f}) · {s['peak_rss_mib']:,.0f} MiB"
         if (s := splink.get(str(r["size"]))) else "not run") for r in runs) + " |")  # fmt: skip
    lines.append("| `export links` twice: byte-identical | " + " | ".join(
        "yes" if r["export_identical"] else "**no**" for r in runs) + " |")  # fmt: skip
    lines.append("| incremental claims: trips of one more day ingested | " + " | ".join(
        f"{r['incremental']['trips_added']:,} trips of {r['incremental']['last_trip_day']}"
        for r in runs) + " |")  # fmt: skip
    failed = [(r, n, s) for r in runs for n, s in r["commands"].items()
              if s.get("failed") or s.get("timed_out")]  # fmt: skip
    for r, n, s in failed:
        tail = " / ".join(s.get("stderr_tail", "").splitlines()[-3:])
        lines.append(f"\n`{n}` at {_col(r)}: {s.get('failed') or 'stopped'}. stderr: `{tail}`")
    lines += ["", "### Growth of each command, and what it gives at 1 M", "",
              "k: time ∝ N^k between the two largest sizes run; 1 M: the largest size's time × "
              "(1 M / N)^k, against the target.", "",
              "| command | " + " | ".join(STORE_NAME[s] for s in STORE_NAME) + " |",
              "|---|---:|---:|"]  # fmt: skip
    for name in names:
        g = growth(runs, _wall(name))
        target = {s: command_target(name, s) for s in STORE_NAME}
        lines.append(f"| `{name}` | " + " | ".join(
            f"k {g[s][0]:.2f} → {g[s][1]:,.0f} s{_mark(g[s][1], target[s])}" if s in g else "–"
            for s in STORE_NAME) + " |")  # fmt: skip
    budget = "; ".join(f"{_col(r)}: up to {s['requests']} requests in {s['route_seconds']:g} s"
                       for r in runs if (s := r.get("settings")))  # fmt: skip
    lines += ["", "### Console: p95 per route on a warm `leadlink serve` (ms)", "",
              "Each route and variant got one warm-up request, then its requests until the count "
              f"or the time per route ran out ({budget}); n is shown when the time cut it.", "",
              "| route | " + " | ".join(_col(r) for r in runs) + " |",
              "|---|" + "---:|" * len(runs)]  # fmt: skip
    routes: list[str] = []
    for r in runs:
        routes += [k for k in r["routes"] if k not in routes]
    for key in routes:
        cells = []
        for r in runs:
            got = r["routes"].get(key) or {}
            if not got.get("n"):
                cells.append(got.get("skipped", "–"))
                continue
            bad = {s: n for s, n in got["statuses"].items() if not s.startswith("2")}
            cells.append(f"{got['p95_ms']:,.0f}{_mark(got['p95_ms'], ROUTE_P95_MS)}"
                         + (" (1 cold request)" if got.get("cold_only") else
                            f" (n {got['n']})" if got.get("cut_by_time") else "")
                         + (f" HTTP {bad}" if bad else ""))  # fmt: skip
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    over = {_col(r): sum(1 for g in r["routes"].values() if g.get("n") and g["p95_ms"] > 300)
            for r in runs}  # fmt: skip
    lines.append("| routes over 300 ms p95 | " + " | ".join(str(v) for v in over.values()) + " |")
    lines += ["", "### The online path", "", "| figure | " + " | ".join(_col(r) for r in runs)
              + " |", "|---|" + "---:|" * len(runs)]  # fmt: skip
    for label, key, target, unit in ONLINE_TARGETS:
        cells = [f"{v:,.1f} {unit}{_mark(v, target)}" if (v := _get(r, key)) is not None else "–"
                 for r in runs]  # fmt: skip
        lines.append(f"| {label} (target ≤ {target:g} {unit}) | " + " | ".join(cells) + " |")
    lines.append("| batch write while serving: leads ingested, then linked by `match` | "
                 + " | ".join(f"{r['batch'].get('leads')}, {r['batch'].get('linked')}"
                              for r in runs) + " |")  # fmt: skip
    lines.append("| online matcher loads logged by the server (after the batch) | " + " | ".join(
        f"{len(r['online']['matcher_loads'])} ({r['online']['reloads_after_batch']})"
        for r in runs) + " |")  # fmt: skip
    if svg_name:
        lines += ["", f"![each step's wall time against leads, log-log]({svg_name})"]
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def _series(runs: Sequence[Mapping[str, Any]], splink: Mapping[str, Any], name: str,
            store: str) -> list[tuple[float, float]]:  # fmt: skip
    points = []
    for r in (r for r in runs if r["store"] == store):
        if name == "ingest (six sources)":
            steps = [s for n, s in r["commands"].items() if n.startswith("ingest ")
                     and "(" not in n]  # fmt: skip
            value = sum(s["wall_s"] for s in steps) if steps else None
        elif name == "Splink direct":
            value = (splink.get(str(r["size"])) or {}).get("wall_s")
        elif name == "slowest route p95":
            value = max((g["p95_ms"] for g in r["routes"].values() if g.get("n")),
                        default=0) / 1000 or None  # fmt: skip
        elif name == "first decision from start":
            value = r["online"].get("first_decision_s")
        else:
            value = _wall(name)(r)
        if value:
            points.append((float(r["size"]), float(value)))
    return sorted(points)


def plot(result: Mapping[str, Any]) -> str:
    from leadlink.web.charts import line_chart

    charts = []
    for store in STORE_NAME:
        if not any(r["store"] == store for r in result["runs"]):
            continue
        for i, names in enumerate(PLOTS, 1):
            series = {n: _series(result["runs"], result.get("splink", {}), n, store)
                      for n in names}  # fmt: skip
            charts.append(line_chart({n: s for n, s in series.items() if s},
                                     title=f"{STORE_NAME[store]}: steps' wall time against "
                                     f"leads ({i}/2)", x_label="leads", y_label="seconds",
                                     log_x=True, log_y=True))  # fmt: skip
    return stacked_svg(charts)


def write_outputs(results: Path, section: str, svg: Path, svg_text: str) -> None:
    svg.write_text(svg_text, encoding="utf-8")
    write_results(results, SECTION_KEY, section)
