"""bench_scale.py's report: the JSON summary, the "Size sweep" Markdown section, the SVG plot.

The plot is drawn by `leadlink.web.charts.line_chart` (the dashboard's chart module); two charts,
match wall time and peak RSS against size, both log-log, are stacked in one SVG file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench_match import write_results

SECTION_KEY = "size-sweep"
STORE_NAME = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


COLUMNS_NOTE = (
    "What the columns are: *ingest* = `leadlink ingest leads` + `ingest drivers` (records / "
    "summed wall); *match* = one `leadlink match` on the fresh store, which first trains and "
    "stores the model, as a fresh database does; *online* = `OnlineMatcher.decide` on "
    "held-out leads, one at a time, against the matched store (bench_online.py); *Splink "
    "direct* = splink_direct.py, Splink trained (prior, u sampling, two EM sessions) and "
    "predicting on the same leads × drivers, one process, store-independent (same figure on "
    "both rows); *naive* = naive.py: per lead, SQL for phone, then plate, then name LIKE "
    "against an indexed drivers table, in Python, a commit per lead, the way the old scripts "
    "worked; its mean time per lead on a random sample × N leads (building its table is not "
    "counted; it gets phones as their last 9 digits, plates as A-Z0-9 and accent-folded names, "
    "indexed, more than the old scripts had, so its time is a lower bound). Ratios divide by "
    "leadlink's match wall time on that row."
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def summary(
    runs: Sequence[Mapping[str, Any]],
    splink: Mapping[int, Mapping[str, Any]],
    *,
    machine: Mapping[str, str],
    command: str,
) -> dict[str, Any]:
    """One row per (size, store) with every figure; growth exponents between sizes."""
    rows = []
    for r in sorted(runs, key=lambda r: (r["store"] != "sqlite", r["store"], r["size"])):
        sp = splink.get(r["size"]) or splink.get(str(r["size"])) or {}  # type: ignore[call-overload]
        ours = r["match"]["wall_s"]
        naive = r["naive"]
        rows.append({
            "size": r["size"], "store": r["store"], "drivers": r["drivers"], "date": r["date"],
            "commit": r.get("commit"), "load": r["load"], "database": r["database"],
            "ingest_records_per_s": r["ingest"]["records_per_s"],
            "match_wall_s": ours, "match_cpu_s": r["match"]["cpu_s"],
            "match_stopped_after_s": r["match"].get("timed_out"),
            "match_failed": r["match"].get("failed"),
            "leads_per_s": r["match"]["leads_per_s"],
            "match_peak_rss_mib": r["match"]["peak_rss_mib"],
            "online_p50_ms": r["online"].get("p50_ms"), "online_p99_ms": r["online"].get("p99_ms"),
            "online_load_s": r["online"].get("matcher_load_s"),
            "online_cpu_ms_mean": r["online"].get("cpu_ms_mean"),
            "online_n": r["online"].get("n"),
            "splink_wall_s": sp.get("wall_s"), "splink_peak_rss_mib": sp.get("peak_rss_mib"),
            "naive_extrapolated_s": naive["extrapolated_s"],
            "naive_per_lead_ms": naive["per_lead_ms"]["mean"],
            "naive_sample": naive["sample"], "naive_linked": naive["linked"],
            "naive_unmatched": naive["unmatched"],
            "naive_peak_rss_mib": naive["peak_rss_mib"],
            "naive_over_ours": _ratio(naive["extrapolated_s"], ours),
            "splink_over_ours": _ratio(sp.get("wall_s"), ours),
            "quality": {"ours": r["quality"], "splink": sp.get("quality"),
                        "naive": naive["quality"]},
        })  # fmt: skip
    return {"command": command, "machine": dict(machine), "rows": rows,
            "growth": growth(rows), "splink": {str(k): v for k, v in splink.items()}}  # fmt: skip


def growth(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per series, between successive sizes: the exponent k of `figure ∝ size^k`."""
    series: dict[str, list[tuple[int, float, float | None]]] = {}
    seen_splink: set[int] = set()
    for r in rows:
        if not (r["match_stopped_after_s"] or r["match_failed"]):  # no wall time to grow from
            series.setdefault(r["store"], []).append(
                (r["size"], r["match_wall_s"], r["match_peak_rss_mib"])
            )
        series.setdefault(f"naive-{r['store']}", []).append(
            (r["size"], r["naive_extrapolated_s"], None)
        )
        if r["splink_wall_s"] and r["size"] not in seen_splink:
            seen_splink.add(r["size"])
            series.setdefault("splink", []).append(
                (r["size"], r["splink_wall_s"], r["splink_peak_rss_mib"])
            )
    out: dict[str, list[dict[str, Any]]] = {}
    for name, points in series.items():
        points.sort()
        out[name] = [
            {
                "from": a[0],
                "to": b[0],
                "wall_exponent": math.log(b[1] / a[1]) / math.log(b[0] / a[0]),
                "rss_exponent": math.log(b[2] / a[2]) / math.log(b[0] / a[0])
                if a[2] and b[2]
                else None,
            }
            for a, b in zip(points, points[1:], strict=False)
        ]
    return out


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _times(ratio: float | None, stopped: str, unfinished: bool) -> str:
    """A ratio to our match time: an upper bound to a stopped match, none to a failed one."""
    if ratio is None or (unfinished and not stopped):
        return "–"
    return f"{'< ' if stopped else ''}{ratio:,.2f}×"


def _qual(q: Mapping[str, Any] | None) -> str:
    return "–" if not q else f"{q['precision']:.3f} / {q['recall']:.3f}"


def render(result: Mapping[str, Any], *, svg_name: str | None) -> str:
    m, rows = result["machine"], result["rows"]
    dates = sorted({r["date"] for r in rows})
    commits = sorted({str(r["commit"]) for r in rows})
    loads = [v for r in rows for v in (r["load"]["start"], r["load"]["end"])]
    lines = [
        "## Size sweep · leads × drivers (= leads / 2), SQLite and PostgreSQL, "
        "vs Splink direct and a naive baseline",
        "",
        f"- Command: `{result['command']}` (resumable: finished (size, store) runs are kept in "
        "`benchmarks/.results/` and reused; `--fresh` reruns them)",
        f"- Dates: {dates[0]}"
        + (f" to {dates[-1]}" if len(dates) > 1 else "")
        + f"; leadlink commit(s): {', '.join(commits)}",
        "- Splink direct runs (store-independent, kept across leadlink commits): "
        + "; ".join(
            f"{int(k):,} leads {v['date']}, load {v['load']:.1f}"
            for k, v in sorted(result["splink"].items(), key=lambda kv: int(kv[0]))
        )
        + ".",
        f"- Machine: {m['nproc']} CPUs, {m['memory']} RAM, {m['cpu']}, {m['os']}; Python "
        f"{m['python']}, DuckDB {m['duckdb']}, SQLAlchemy {m['sqlalchemy']}",
        f"- Load: the machine was shared with other work; 1-minute load average "
        f"{min(loads):.1f}–{max(loads):.1f} during the runs (per run below). Wall times are "
        "inflated by whatever else ran; CPU s (user + system of the process, all threads) is not.",
        "- Data: `leadlink.synth` (seed shown in the command), first N leads and first N/2 "
        "drivers (bench_match.py's cut, leads and drivers only), plus held-out leads for the "
        "online figure. Every figure is a whole process measured on its own (wall clock, peak "
        "RSS from `wait4`), so it includes interpreter start-up (~0.8 s) and imports.",
        "",
        "| leads | store | ingest rec/s | match wall s (CPU s) | leads/s | match peak RSS MiB "
        "| online p50 / p99 ms (CPU ms / lead) | Splink direct wall s / RSS MiB "
        "| naive extrapolated s | naive / ours | Splink / ours |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        # a stopped match: its wall time is a lower bound, its RSS the peak so far, and the
        # ratios to it upper bounds
        unfinished = bool(r["match_stopped_after_s"] or r["match_failed"])
        stop, bound = ("> ", "≥ ") if r["match_stopped_after_s"] else ("", "")
        note = " **stopped, not finished**" if stop else ""
        if r["match_failed"]:
            first = r["match_failed"].split(". ")[0].replace("|", "/")  # its first sentence
            stop, bound, note = "", "", f" **failed**: {first}"
        lines.append(
            f"| {r['size']:,} | {STORE_NAME[r['store']]} | {_f(r['ingest_records_per_s'], 0)} "
            f"| {stop}{_f(r['match_wall_s'])} ({_f(r['match_cpu_s'])}){note}"
            + f" | {_f(r['leads_per_s'], 0)} | {bound}{_f(r['match_peak_rss_mib'], 0)} "
            f"| {_f(r['online_p50_ms'])} / {_f(r['online_p99_ms'])} "
            f"({_f(r['online_cpu_ms_mean'])}) "
            f"| {_f(r['splink_wall_s'])} / {_f(r['splink_peak_rss_mib'], 0)} "
            f"| {_f(r['naive_extrapolated_s'], 0)} "
            f"| {_times(r['naive_over_ours'], stop, unfinished)} "
            f"| {_times(r['splink_over_ours'], stop, unfinished)} |"
        )
    lines += [
        "",
        "Quality on the same data, lead↔driver pairs against the generator's truth "
        "(precision / recall; naive: on its sample only):",
        "",
        "| leads | store | leadlink | Splink direct | naive (sample) | naive decisions "
        "| run date · commit · load |",
        "|---:|---|---|---|---|---|---|",
    ]
    for r in rows:
        q = r["quality"]
        unmatched = ", ".join(f"{k} {v}" for k, v in sorted(r["naive_unmatched"].items()))
        lines.append(
            f"| {r['size']:,} | {STORE_NAME[r['store']]} | {_qual(q['ours'])} "
            f"| {_qual(q['splink'])} | {_qual(q['naive'])} "
            f"| {r['naive_linked']} of {r['naive_sample']} linked; {unmatched} "
            f"| {r['date']} · {r['commit']} · {r['load']['start']:.1f}→{r['load']['end']:.1f} |"
        )
    if any(result["growth"].values()):
        lines += ["", "How each figure grows: exponent k in `figure ∝ leads^k` between "
                  "successive sizes (1 = linear, 2 = quadratic):", "",
                  "| series | sizes | wall time k | peak RSS k |",
                  "|---|---|---:|---:|"]  # fmt: skip
    names = {**{s: f"leadlink {STORE_NAME[s]}" for s in STORE_NAME}, "splink": "Splink direct",
             **{f"naive-{s}": f"naive on {STORE_NAME[s]}" for s in STORE_NAME}}  # fmt: skip
    for name, steps in result["growth"].items():
        for g in steps:
            lines.append(
                f"| {names.get(name, name)} | {g['from']:,} → {g['to']:,} "
                f"| {g['wall_exponent']:.2f} | {_f(g['rss_exponent'], 2)} |"
            )
    if svg_name:
        lines += ["", f"![match wall time and peak RSS against leads, log-log]({svg_name})"]
    lines += [
        "",
        COLUMNS_NOTE,
    ]
    return "\n".join(lines) + "\n"


def stacked_svg(charts: Sequence[str]) -> str:
    """Several SVG documents one above the other in one SVG document."""
    parts, y, width = [], 0, 0
    for svg in charts:
        body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
        w = int(float(re.search(r'width="([\d.]+)', body).group(1)))  # type: ignore[union-attr]
        h = int(float(re.search(r'height="([\d.]+)', body).group(1)))  # type: ignore[union-attr]
        parts.append(body.replace("<svg", f'<svg x="0" y="{y}"', 1))
        y, width = y + h, max(width, w)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
            f'viewBox="0 0 {width} {y}">\n' + "\n".join(parts) + "\n</svg>\n")  # fmt: skip


def plot(result: Mapping[str, Any]) -> str:
    from leadlink.web.charts import line_chart

    wall: dict[str, list[tuple[float, float]]] = {}
    rss: dict[str, list[tuple[float, float]]] = {}
    splink_done: set[int] = set()
    for r in result["rows"]:
        store = STORE_NAME[r["store"]]
        if not (r["match_stopped_after_s"] or r["match_failed"]):  # no point (see the table)
            wall.setdefault(f"leadlink {store}", []).append((r["size"], r["match_wall_s"]))
            rss.setdefault(f"leadlink {store}", []).append((r["size"], r["match_peak_rss_mib"]))
        wall.setdefault(f"naive on {store} (extrapolated)", []).append(
            (r["size"], r["naive_extrapolated_s"])
        )
        rss.setdefault(f"naive on {store} (sample run)", []).append(
            (r["size"], r["naive_peak_rss_mib"])
        )
        if r["splink_wall_s"] and r["size"] not in splink_done:
            splink_done.add(r["size"])
            wall.setdefault("Splink direct", []).append((r["size"], r["splink_wall_s"]))
            rss.setdefault("Splink direct", []).append((r["size"], r["splink_peak_rss_mib"]))
    for series in (*wall.values(), *rss.values()):
        series.sort()
    return stacked_svg([
        line_chart(wall, title="Match wall time (train + resolve) against leads",
                   x_label="leads", y_label="seconds", log_x=True, log_y=True),
        line_chart(rss, title="Peak RSS of the matching process against leads",
                   x_label="leads", y_label="MiB", log_x=True, log_y=True),
    ])  # fmt: skip


def write_outputs(results: Path, section: str, svg: Path, svg_text: str | None) -> None:
    if svg_text is not None:
        svg.write_text(svg_text, encoding="utf-8")
    write_results(results, SECTION_KEY, section)
