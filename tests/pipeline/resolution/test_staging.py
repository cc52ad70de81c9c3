"""Staging pages in helper processes gives exactly what staging them here gives, in order."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from leadlink.pipeline.resolution import staging
from leadlink.synth import generate


def _pages(tmp_path: Path, size: int) -> list[staging.Page]:
    generate(tmp_path, leads=120, seed=3)
    with (tmp_path / "leads.csv").open(encoding="utf-8") as fh:
        rows = [
            (i + 1, row["lead_id"], dict(row), False) for i, row in enumerate(csv.DictReader(fh))
        ]
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _rows(page: staging.Page) -> list[staging.Row]:
    return [("leads", r[0], r[2]) for r in page]


def _tables(result: staging.Prepared) -> list[list[dict[str, Any]]]:
    return [t.to_pylist() for t in result]


def test_a_helper_process_prepares_the_same_pages_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _pages(tmp_path, 13)
    inline = [
        (p, _tables(r))
        for p, r in staging.prepared_pages(pages, _rows, parallel_after=len(pages))
    ]
    helped = [(p, _tables(r)) for p, r in staging.prepared_pages(pages, _rows, parallel_after=2)]
    assert len(pages) > staging.READ_AHEAD + 3
    assert helped == inline
    assert [p[0][0] for p, _ in helped] == [p[0][0] for p in pages]
    # The helper did the work: pages after the first two were prepared in another process.
    monkeypatch.setattr(staging, "prepare_page", pid_page)
    pids = [r[0].column("pid")[0].as_py() for _, r in staging.prepared_pages(
        pages, _rows, parallel_after=2)]  # fmt: skip
    assert pids[:2] == [os.getpid()] * 2
    assert 1 <= len(set(pids[2:])) <= staging.HELPERS and os.getpid() not in pids[2:]


def pid_page(rows: list[staging.Row]) -> staging.Prepared:
    """Where a page was prepared (module level: the helper process imports it)."""
    table = pa.table({"pid": [os.getpid()]})
    return table, table, table


def test_an_error_in_the_helper_reaches_the_caller(tmp_path: Path) -> None:
    pages = _pages(tmp_path, 40)
    pages[2] = [(999, "BAD", "not a dict", False)]  # type: ignore[list-item]
    got = staging.prepared_pages(pages, _rows, parallel_after=1)
    next(got)
    with pytest.raises(AttributeError):
        list(got)
