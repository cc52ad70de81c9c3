"""docs/first-hour.md, run as written: its commands, in order, against a partner database on
the suite's PostgreSQL shaped as the page describes (tests/partner_crm.py), into a SQLite
store. Only `serve` and the endless worker are left out (they run until stopped); the worker
is run with `--once` and the page's own sources.toml."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests import partner_crm
from tests.conftest import PG_ADMIN_URL
from tests.test_docs import shell_commands
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.synth import generate

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "first-hour.md").read_text("utf-8")


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh partner database holding a 300-lead synthetic data set."""
    with partner_crm.partner_database("partner_fh") as name:
        url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        generate(tmp_path / "data", leads=300, seed=7)
        partner_crm.load(url.replace("+psycopg", ""), tmp_path / "data")
        yield url


def test_the_first_hour_runs_as_written(partner: str, tmp_path: Path) -> None:
    toml = re.findall(r"^```toml\n(.*?)^```", PAGE, flags=re.S | re.M)
    assert len(toml) == 1
    (tmp_path / "sources.toml").write_text(toml[0], encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'leadlink.db'}"
    runner = CliRunner(env={"PARTNER_DB": partner, "LEADLINK_SECRET_KEY": None})
    ran = []
    for argv in shell_commands(PAGE):
        if argv[0] == "serve" or (argv[0] == "worker" and "--once" not in argv):
            continue  # they run until stopped
        args = [partner if a == "$PARTNER_DB" else a for a in argv]
        args = [str(tmp_path / a) if a == "sources.toml" else a for a in args]
        result = runner.invoke(app, ["--db", store, *args])
        assert result.exit_code == 0, f"leadlink {' '.join(argv)}:\n{result.output}"
        ran.append((argv[:2], result.output))
    outputs = dict((" ".join(cmd), out) for cmd, out in ran)
    # What the page says the runs answer.
    assert re.search(r"inserted\s*│\s*210\b", outputs["ingest drivers"])
    assert "too little to train on" in outputs["match"]
    assert "ingest_db:leads" in outputs["worker --sources"]
    assert len(ran) == len(shell_commands(PAGE)) - 2
