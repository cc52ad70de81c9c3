"""What the CLI's tables print: values as a person reads them, never Python reprs, and whole
at 80 columns (issue 19 item 4)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from rich.console import Console

from leadlink.cli import console


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (1000000.0, "1000000"),
        (1234.5, "1,234.50"),
        (0.9531, "0.953"),
        (-2.25, "-2.25"),
        (42, "42"),
        ("NO_IDENTITY", "NO_IDENTITY"),
        ({"NO_IDENTITY": 1761, "OK": 3}, "NO_IDENTITY: 1761, OK: 3"),
        ({}, "—"),
        ([], "—"),
        (["a", 2, False], "a, 2, no"),
        ({"ok": {"n": 1.0}}, "ok: n: 1"),
        (dt.datetime(2026, 11, 1, 12, 0, 5, 123456), "2026-11-01 12:00:05"),
        (dt.date(2026, 11, 1), "2026-11-01"),
    ],
)
def test_a_cell_is_what_a_person_reads(value: Any, shown: str) -> None:
    assert console.cell(value) == shown


def test_a_table_at_80_columns_folds_and_shows_no_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = Console(width=80, record=True, force_terminal=False)
    monkeypatch.setattr(console, "out", narrow)
    columns = ["kind", "status", "counts_by_reason_of_the_last_run", "duration_seconds", "ok"]
    rows = [("recover", "ok", {"NO_CANDIDATES": 1761, "WEAK_MATCH_ONLY": 12}, 1000000.0, False),
            ("match", "ok", {}, 0.5, True)]  # fmt: skip
    console.table("jobs", columns, rows)
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not re.search(r"[{}\[\]]|True|False|1000000\.0|…", text), text
    flat = re.sub(r"[\s│┃|]+", "", text)
    for header in columns:  # folded across lines, never cut
        assert header.replace("_", "") in flat.replace("_", "")
