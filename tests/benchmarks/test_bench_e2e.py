"""bench_e2e.py: its report from a small result, and the whole harness at a tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LEADLINK = REPO / ".venv" / "bin" / "leadlink"
sys.path.insert(0, str(REPO / "benchmarks"))

from e2e_report import growth, plot, render  # noqa: E402


def _step(wall: float, rss: float = 100.0, **more: Any) -> dict[str, Any]:
    return {"wall_s": wall, "cpu_s": wall * 0.9, "peak_rss_mib": rss, "load": 1.0, **more}


def _run(size: int, claims_s: float, route_ms: float) -> dict[str, Any]:
    return {
        "size": size, "store": "sqlite", "date": "2026-12-07 18:00 UTC", "commit": "abc",
        "database": "SQLite 3", "rows": {"leads": size}, "load": {"start": 1.0, "end": 2.0},
        "commands": {"ingest leads": _step(2.0, rss=2048.0), "claims": _step(claims_s),
                     "gap": _step(5.0, failed="boom", stderr_tail="Traceback\nValueError: x")},
        "export_identical": True,
        "incremental": {"trips_added": 10, "last_trip_day": "2026-11-01"},
        "routes": {"/gap": {"n": 3, "p50_ms": route_ms, "p95_ms": route_ms, "max_ms": route_ms,
                            "statuses": {"200": 3}, "cut_by_time": True},
                   "/persons/{key}": {"n": 0, "skipped": "no sample"}},
        "online": {"first_decision_s": 4.0, "server_rss_mib": 500.0, "server_peak_rss_mib": 600.0,
                   "posts": {"p50_ms": 10.0, "p99_ms": 80.0}, "matcher_loads": [1.0, 1.0],
                   "reloads_after_batch": 1},
        "batch": {"leads": 5, "linked": 4, "posts_after": {"first_ms": 900.0, "p99_ms": 900.0}},
    }  # fmt: skip


def test_report_marks_each_figure_against_its_target_and_projects_1m() -> None:
    runs = [_run(10_000, claims_s=2.0, route_ms=100.0), _run(100_000, claims_s=20.0,
                                                            route_ms=400.0)]  # fmt: skip
    result = {"machine": {"cpu": "x", "nproc": "2"}, "command": "bench_e2e.py", "requests": 3,
              "runs": runs, "splink": {"10000": _step(3.0)}}  # fmt: skip
    k, at_million = growth(runs, lambda r: r["commands"]["claims"]["wall_s"])["sqlite"]
    assert k == pytest.approx(1.0) and at_million == pytest.approx(200.0)
    text = render(result, svg_name="e2e.svg")
    lines = text.splitlines()
    assert "**1 M was not run yet**" in text
    claims = next(ln for ln in lines if ln.startswith("| `claims` |"))
    assert "2.0 s ✓" in claims and "20.0 s ✓" in claims
    projected = [ln for ln in lines if ln.startswith("| `claims` |")][1]
    assert "k 1.00 → 200 s ✗" in projected  # over 60 s at 1 M by its growth
    ingest = next(ln for ln in lines if ln.startswith("| `ingest leads` |"))
    assert "2,048 MiB ✗" in ingest  # ingest's peak RSS target is 1 GiB
    assert "**failed** (5 s)" in text and "ValueError: x" in text
    route = next(ln for ln in lines if ln.startswith("| `/gap` |"))
    assert "100 ✓ (n 3)" in route and "400 ✗ (n 3)" in route
    assert "| routes over 300 ms p95 | 0 | 1 |" in text
    assert "no sample" in text
    assert "| POST /api/leads p99 (target ≤ 50 ms) | 80.0 ms ✗ | 80.0 ms ✗ |" in text
    assert "first POST after the batch write (target ≤ 200 ms) | 900.0 ms ✗" in text
    splink = next(ln for ln in lines if ln.startswith("| Splink direct"))
    assert "3.0 s" in splink and "not run" in splink
    assert "![each step's wall time against leads, log-log](e2e.svg)" in text
    svg = plot(result)
    assert svg.startswith("<svg") and "claims" in svg and "SQLite" in svg


@pytest.mark.skipif(not LEADLINK.exists(), reason="needs the project's .venv")
def test_bench_e2e_runs_every_step_at_a_tiny_size_and_writes_its_section(tmp_path: Path) -> None:
    argv = [sys.executable, str(REPO / "benchmarks" / "bench_e2e.py"), "--sizes", "400",
            "--db", "sqlite", "--requests", "2", "--route-seconds", "1", "--online-n", "6",
            "--no-splink", "--out", str(tmp_path / "out"), "--state", str(tmp_path / "state"),
            "--results", str(tmp_path / "RESULTS.md"),
            "--svg", str(tmp_path / "e2e.svg")]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = json.loads(done.stdout)["runs"]
    commands = run["commands"]
    for name in ("init", "ingest leads", "ingest scouting", "ingest migrations", "ingest drivers",
                 "ingest trips", "ingest payments", "match", "queue seed", "recover", "claims",
                 "gap", "quarantine scan", "alerts", "impact", "evaluate", "export links (1)",
                 "export links (2)", "check all", "ingest trips (one more day)",
                 "claims (after one more day)", "match (batch, server up)"):  # fmt: skip
        assert name in commands, name
        assert not commands[name].get("failed"), (name, commands[name])
        assert commands[name]["wall_s"] > 0 and commands[name]["peak_rss_mib"] > 20
    assert commands["ingest leads"]["out"]["rows"] == 400
    assert commands["evaluate"]["out"]["lead_driver"]["precision"] > 0.5
    assert run["export_identical"] is True
    assert run["incremental"]["trips_added"] > 0
    # every dashboard page and API list answered (the routes are read off the app)
    for route in ("/", "/gap", "/claims", "/review", "/api/gap", "/api/unmatched",
                  "/api/funnel", "/api/claims/report", "/leads/{lead_id:path}"):  # fmt: skip
        got = run["routes"][route]
        assert got["n"] >= 1 and got["statuses"].get("200", 0) >= 1, (route, got)
    assert any(key.startswith("/api/unmatched?offset=") for key in run["routes"])
    online = run["online"]
    assert online["first_status"] == 201 and 0 < online["ready_s"] <= online["first_decision_s"]
    assert online["posts"]["n"] == 2 and online["server_rss_mib"] > 20
    assert run["batch"]["leads"] == 40 and run["batch"]["posts_after"]["n"] == 3
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- bench:e2e -->" in results and "| `match` | " in results
    assert "| `/api/gap` |" in results
    assert (tmp_path / "e2e.svg").read_text(encoding="utf-8").startswith("<svg")
    # resumable: a second run reuses the saved (size, store) and runs no command
    again = subprocess.run([*argv, "--no-results"], capture_output=True, text=True, cwd=REPO,
                           timeout=120, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing" in again.stderr and "match:" not in again.stderr
