"""The command line on databases it cannot use as asked: a missing SQLite file, a read-only
store or folder, SQLite URI parameters, a server that does not answer. Each ends in one line on
stderr and exit 2 (or 1 for an unreachable server), never a traceback or a leaked password."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from tests.factories import lead, write_csv
from tests.store.read_only_fs import frozen_folder
from typer.testing import CliRunner

from leadlink.cli import app

runner = CliRunner()
SECRET = "s3cret-Pw"  # noqa: S105
LEADLINK = Path(sys.executable).with_name("leadlink")


def run(db_url: str, *args: str, code: int) -> Result:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    # A LeadlinkError ends as typer.Exit; anything else would be a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def records(path: Path, *, mode: str = "mode=ro") -> int:
    # Opened read-only by sqlite3 itself: the check must not change what it checks.
    conn = sqlite3.connect(f"file:{path}?{mode}", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM source_record").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def store(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
def leads_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "leads.csv", "leads", [lead("L1", dni="12345678")])


# 4. A misspelt SQLite path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["review", "list"], ["check"], ["token", "list"], ["ingest", "leads", "LEADS"], ["match"]],
    ids=" ".join,
)
def test_a_missing_file_exits_2_and_is_not_created(
    tmp_path: Path, leads_csv: Path, args: list[str]
) -> None:
    missing = tmp_path / "lead1ink.db"
    argv = [str(leads_csv) if a == "LEADS" else a for a in args]
    line = one_error_line(run(f"sqlite:///{missing}", *argv, code=2))
    assert line == f"error: no database at {missing}: run `leadlink init` first"
    assert not missing.exists()


def test_init_and_demo_create_their_store(tmp_path: Path) -> None:
    made = tmp_path / "made.db"
    run(f"sqlite:///{made}", "init", code=0)
    assert json.loads(run(f"sqlite:///{made}", "review", "list", "--json", code=0).stdout)
    demo = tmp_path / "demo.db"
    data = str(tmp_path / "data")
    run(f"sqlite:///{demo}", "demo", "--leads", "30", "--data-dir", data, "--json", code=0)
    assert records(demo) > 0


# 2 and 5. Read-only stores, SQLite URI parameters -------------------------------------------


def test_ingest_into_a_read_only_store_exits_2_in_one_line_and_writes_nothing(
    store: Path, leads_csv: Path
) -> None:
    # The real executable: what a user sees on stderr, all of it.
    done = subprocess.run(  # noqa: S603
        [str(LEADLINK), "--db", f"sqlite:///{store}?mode=ro", "ingest", "leads", str(leads_csv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: the database {store} is read-only (opened with mode=ro or immutable=1, or its "
        "file or folder cannot be written): nothing was written"
    ]
    assert records(store) == 0


@pytest.mark.parametrize("suffix", ["?mode=ro", "?immutable=1", "?mode=ro&uri=true"])
def test_read_only_urls_read_and_refuse_writes(
    store: Path, leads_csv: Path, tmp_path: Path, suffix: str
) -> None:
    url = f"sqlite:///{store}{suffix}"
    assert json.loads(run(url, "token", "list", "--json", code=0).stdout) == []
    assert "is read-only" in one_error_line(run(url, "ingest", "leads", str(leads_csv), code=2))
    assert "is read-only" in one_error_line(run(url, "token", "create", "--role", "viewer", code=2))
    assert records(store) == 0
    assert [p.name for p in tmp_path.iterdir() if "?" in p.name or "mode" in p.name] == []


# 3. A store in a folder nobody can write ----------------------------------------------------


@pytest.fixture
def frozen_store(store: Path, tmp_path: Path) -> Iterator[Path]:
    with frozen_folder(tmp_path / "frozen", {"store.db": store}) as folder:
        yield folder / "store.db"


def test_a_store_in_a_read_only_folder_is_read_not_written(
    frozen_store: Path, leads_csv: Path
) -> None:
    url = f"sqlite:///{frozen_store}"
    assert json.loads(run(url, "token", "list", "--json", code=0).stdout) == []
    assert json.loads(run(url, "review", "list", "--json", code=0).stdout)["items"] == []
    line = one_error_line(run(url, "ingest", "leads", str(leads_csv), code=2))
    assert line.startswith(f"error: the database {frozen_store} is read-only")
    # immutable=1: the one way to read a WAL store there (see store/db.py).
    assert records(frozen_store, mode="immutable=1") == 0


# 1. Passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["init"], ["review", "list"], ["serve"]], ids=" ".join)
def test_an_unreachable_server_is_named_with_its_password_masked(args: list[str]) -> None:
    # Port 1 on the loopback refuses at once: no server needed.
    url = f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/leadlink"
    result = run(url, *args, code=1)
    line = one_error_line(result)
    assert "postgresql+psycopg://bob:***@127.0.0.1:1/leadlink" in line
    assert SECRET not in result.output


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/leadlink?nosuchoption=1", 1),
        (f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:notaport/leadlink", 2),
        (f"postgresql://bob:{SECRET}@127.0.0.1:1/leadlink", 1),
    ],
)
def test_bad_server_urls_never_print_the_password(url: str, code: int) -> None:
    result = run(url, "init", code=code)
    one_error_line(result)
    assert SECRET not in result.output
