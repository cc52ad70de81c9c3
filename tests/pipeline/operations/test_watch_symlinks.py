"""The watched folder never follows a symbolic link (issue 15): not to read a file, not to write
an error file, not to move files into done/ or failed/. Real links on a real folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, lead, write_csv
from tests.pipeline.ops_world import SETTINGS, rows

from leadlink.pipeline.operations.worker import Job, Outcome, Worker, ingest_job, watched_files


def _old(path: Path) -> Path:
    """Make a file (not a link's target) look settled, written a minute ago."""
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)
    return path


def _ingest(engine: Engine, inbox: Path) -> Outcome:
    return Worker(engine, SETTINGS, watch=inbox, clock=lambda: NOW).run_job(
        Job("ingest", ingest_job)
    )


def _lead_pks(engine: Engine) -> list[str]:
    found = rows(engine, "SELECT source_pk FROM source_record WHERE source = 'leads' ORDER BY 1")
    return [r[0] for r in found]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder the worker can read and write but that is not the inbox."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_a_symlink_in_the_inbox_is_not_ingested_and_is_reported(
    engine: Engine, inbox: Path, outside: Path
) -> None:
    secret = _old(write_csv(outside / "private.csv", "leads", [lead("SECRET-1")]))
    before = secret.read_bytes()
    link = inbox / "leads_planted.csv"
    link.symlink_to(secret)
    _old(link)
    _old(write_csv(inbox / "leads_real.csv", "leads", [lead("L1")]))

    outcome = _ingest(engine, inbox)

    assert _lead_pks(engine) == ["L1"]  # the real file went in, the linked one did not
    assert outcome.status == "failed"
    assert outcome.counts["symlinks"] == 1 and outcome.counts["ingested"] == 1
    assert outcome.error and "leads_planted.csv: a symbolic link, not ingested" in outcome.error
    assert link.is_symlink() and os.readlink(link) == str(secret)  # left where it was
    assert secret.read_bytes() == before and sorted(p.name for p in outside.iterdir()) == [
        "private.csv"
    ]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["leads_real.csv"]
    assert not (inbox / "failed").exists()
    assert watched_files(inbox, 5).symlinks == [link]  # and it stays reported next cycle


def test_a_symlink_planted_where_the_error_file_goes_is_not_written_through(
    engine: Engine, inbox: Path, outside: Path
) -> None:
    victim = outside / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    failed = inbox / "failed"
    failed.mkdir()
    planted = failed / "leads_bad.csv.error.txt"
    planted.symlink_to(victim)
    dangling = failed / "leads_bad.csv"  # a dangling link at the moved file's own name
    dangling.symlink_to(outside / "nothing-here.csv")
    _old(write_csv(inbox / "leads_bad.csv", "leads", [lead("L2", created_at="not a date")]))

    outcome = _ingest(engine, inbox)

    assert outcome.status == "failed" and outcome.counts["failed"] == 1
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert planted.is_symlink() and dangling.is_symlink()
    assert not (outside / "nothing-here.csv").exists()
    # The refused file and its error went under a fresh name beside the planted links.
    moved = [p for p in failed.iterdir() if not p.is_symlink()]
    names = sorted(p.name for p in moved)
    assert len(names) == 2 and names[0].startswith("leads_bad.") and names[0].endswith(".csv")
    assert names[1] == names[0] + ".error.txt"
    assert "created_at" in (failed / names[1]).read_text(encoding="utf-8")
    assert not (inbox / "leads_bad.csv").exists()


@pytest.mark.parametrize("which", ["done", "failed"])
def test_done_or_failed_being_a_symlink_fails_the_job_and_moves_nothing(
    engine: Engine, inbox: Path, outside: Path, which: str
) -> None:
    (inbox / which).symlink_to(outside, target_is_directory=True)
    good = _old(write_csv(inbox / "leads_1.csv", "leads", [lead("L1")]))
    bad = _old(write_csv(inbox / "leads_bad.csv", "leads", [lead("L2", created_at="nope")]))

    outcome = _ingest(engine, inbox)

    assert outcome.status == "failed"
    assert outcome.error and f"{inbox / which} is a symbolic link" in outcome.error
    assert list(outside.iterdir()) == []  # nothing moved (nor written) through the link
    assert good.exists() and bad.exists()
    assert _lead_pks(engine) == []  # refused before any file was ingested
    recorded = rows(engine, "SELECT status, error FROM job_run WHERE kind = 'ingest'")
    assert recorded[0][0] == "failed" and "is a symbolic link" in recorded[0][1]
