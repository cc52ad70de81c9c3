"""A BlockIndex grown row by row (records linked after the load) finds the same candidates,
with the same rows and model columns, as one built on the whole registry."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

from leadlink.matching import prepare
from leadlink.matching.index import BlockIndex
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.synth import generate


def _registry(tmp_path: Path) -> tuple[pa.Table, pa.Table]:
    generate(tmp_path, leads=2000, seed=3)
    with (tmp_path / "drivers.csv").open(encoding="utf-8") as fh:
        drivers = list(csv.DictReader(fh))
    with (tmp_path / "leads.csv").open(encoding="utf-8") as fh:
        leads = list(csv.DictReader(fh))
    reg = prepare(canonical_frame(("drivers", i, d, f"P{i}") for i, d in enumerate(drivers)))
    query = prepare(canonical_frame(("leads", 10_000 + i, d, None) for i, d in enumerate(leads)))
    return reg, query


@pytest.mark.parametrize("loaded", [0, 40, 1400])
def test_a_grown_index_finds_what_a_whole_one_finds(tmp_path: Path, loaded: int) -> None:
    reg, query = _registry(tmp_path)
    whole = BlockIndex(reg)
    grown = BlockIndex(reg.slice(0, loaded))
    for i in range(loaded, reg.num_rows):
        grown.add(reg.slice(i, 1))
    # From 0 (an empty registry) or 40 rows, the tail passes 1,000 rows and folds into the
    # base; from 1,400 it stays a tail.
    assert grown.registry.to_pylist() == whole.registry.to_pylist()
    assert grown.frame.to_pylist() == whole.frame.to_pylist()
    found = 0
    for i in range(0, query.num_rows, 7):
        one = query.slice(i, 1)
        got, got_frame = grown.candidates(one)
        want, want_frame = whole.candidates(one)
        assert got.to_pylist() == want.to_pylist()
        assert got_frame.to_pylist() == want_frame.to_pylist()
        found += got.num_rows
    assert found > 0
