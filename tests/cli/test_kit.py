"""The one output path of the CLI: --json prints the data itself, otherwise the renderer
draws that same data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadlink.cli.kit import emit


def test_json_prints_the_data_sorted_indented_dates_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered: list[Any] = []
    data = {"b": [1, 2], "a": dt.date(2026, 6, 1)}
    emit(data, rendered.append, json_out=True)
    assert capsys.readouterr().out == '{\n  "a": "2026-06-01",\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert rendered == []


def test_without_json_the_renderer_gets_the_same_data_and_nothing_else_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered: list[Any] = []
    data = [{"name": "ana"}]
    emit(data, rendered.append, json_out=False)
    assert rendered == [data] and rendered[0] is data
    assert capsys.readouterr().out == ""
