"""The ingest benchmark's big file (the benchmark itself runs by hand, never in the tests): the
demo's trips repeated with every key unique, so the store gets every row."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_ingest  # noqa: E402


def test_the_big_file_repeats_the_trips_with_unique_keys(tmp_path: Path) -> None:
    source = tmp_path / "trips.csv"
    source.write_text("driver_id,date,completed_trips\nD1,2024-03-05,1\nD2,2024-03-05,2\n")
    big = bench_ingest.big_trips(source, tmp_path / "big.csv", 5)
    with big.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["driver_id"] for r in rows] == ["D1", "D2", "D1-r1", "D2-r1", "D1-r2"]
    assert len({(r["driver_id"], r["date"]) for r in rows}) == 5
