"""`leadlink activity` end to end: --json is the service's dict, the tables fit 80 columns and
show no Python reprs, bad options exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine
from tests.pipeline.activity_world import build
from typer.testing import CliRunner

from leadlink.cli import app, console

runner = CliRunner()


def test_json_and_tables(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(engine, tmp_path)
    result = runner.invoke(app, ["--db", db_url, "activity", "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["total"], data["limit"], len(data["drivers"])) == (5, 3, 3)
    assert set(data) >= {"summary", "drivers", "total", "trend"}

    narrow = Console(width=80, record=True, force_terminal=False)
    monkeypatch.setattr(console, "out", narrow)
    result = runner.invoke(app, ["--db", db_url, "activity", "--days", "60"])
    assert result.exit_code == 0, result.output
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not re.search(r"[{}]|\bNone\b|True|False|…", text), text
    flat = re.sub(r"[\s│┃|]+", "", text)  # a cell may be folded over lines, never cut
    for figure in ("DD", "ElenaQuispeHuanca", "160.00", "L1(brand_model_name0.62)",
                   "2026-10-20to2026-11-03"):  # fmt: skip
        assert figure in flat


@pytest.mark.parametrize("args", [["--days", "0"], ["--limit", "-1"], ["--offset", "x"]])
def test_bad_options_exit_2(db_url: str, args: list[str]) -> None:
    assert runner.invoke(app, ["--db", db_url, "activity", *args]).exit_code == 2
