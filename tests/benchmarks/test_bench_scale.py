"""The size-sweep harness end to end at a tiny size: every figure is there and sane."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LEADLINK = REPO / ".venv" / "bin" / "leadlink"


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.skipif(not LEADLINK.exists(), reason="needs the project's .venv (make demo)")
def test_bench_scale_reports_every_figure_and_resumes(tmp_path: Path) -> None:
    argv = [sys.executable, str(REPO / "benchmarks" / "bench_scale.py"), "--sizes", "400",
            "--db", "sqlite", "--naive-sample", "20", "--online-n", "20",
            "--out", str(tmp_path / "out"), "--state", str(tmp_path / "state"),
            "--results", str(tmp_path / "RESULTS.md"),
            "--svg", str(tmp_path / "scale.svg")]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    [row] = summary["rows"]
    assert (row["size"], row["store"], row["drivers"]) == (400, "sqlite", 200)
    for key in ("ingest_records_per_s", "match_wall_s", "leads_per_s", "match_peak_rss_mib",
                "online_p50_ms", "online_p99_ms", "splink_wall_s", "splink_peak_rss_mib",
                "naive_extrapolated_s", "naive_per_lead_ms", "naive_over_ours",
                "splink_over_ours"):  # fmt: skip
        assert _positive(row[key]), (key, row[key])
    assert row["online_p50_ms"] <= row["online_p99_ms"]
    assert row["online_n"] == 20
    # peak RSS is the job's own process: a Python + DuckDB process is tens of MiB at least
    assert 30 < row["match_peak_rss_mib"] < 4096
    # the naive baseline made a real decision for each sampled lead, scored against truth
    assert row["naive_sample"] == 20
    assert row["naive_linked"] + sum(row["naive_unmatched"].values()) == 20
    assert row["naive_linked"] > 0
    assert row["naive_extrapolated_s"] == pytest.approx(row["naive_per_lead_ms"] * 400 / 1000)
    for tool in ("ours", "splink", "naive"):
        quality = row["quality"][tool]
        assert 0.5 < quality["precision"] <= 1 and 0.5 < quality["recall"] <= 1, (tool, quality)
    ratio = row["naive_extrapolated_s"] / row["match_wall_s"]
    assert row["naive_over_ours"] == pytest.approx(ratio)

    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- bench:size-sweep -->" in results and "| 400 | SQLite |" in results
    assert "![match wall time and peak RSS against leads, log-log](scale.svg)" in results
    assert (tmp_path / "scale.svg").read_text(encoding="utf-8").startswith("<svg")

    # a second run reuses the saved (size, store) and Splink results instead of rerunning
    again = subprocess.run([*argv, "--no-results"], capture_output=True, text=True, cwd=REPO,
                           timeout=60, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing" in again.stderr and "match:" not in again.stderr
    assert json.loads(again.stdout)["rows"] == summary["rows"]
