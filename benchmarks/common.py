"""Helpers more than one benchmark uses: a throwaway PostgreSQL server, truth pairs, quality.

`throwaway_postgres` does in Python what scripts/test.sh does in shell: `initdb` a cluster in a
temporary directory (as the `postgres` system user when we are root: initdb refuses root),
start it on a free port with durability off (`fsync=off`, `synchronous_commit=off`,
`full_page_writes=off`: a benchmark database is disposable), yield its URL, stop and delete it.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=200"
)


class PostgresUnavailable(Exception):
    """No PostgreSQL binaries on this machine, or the server did not start."""


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise PostgresUnavailable(
            "no /usr/lib/postgresql/*/bin: install the postgresql package, or pass --pg-url"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new PostgreSQL cluster for the duration of the block; yields a server URL."""
    pgbin = postgres_bin()
    workdir = Path(tempfile.mkdtemp(prefix="leadlink-benchpg."))
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres")
    data, log = workdir / "data", workdir / "server.log"
    try:
        subprocess.run(
            _as_postgres([str(pgbin / "initdb"), "-D", str(data), "-A", "trust", "-U",
                          "postgres", "-E", "UTF8", "--no-locale"]),
            check=True, capture_output=True,
        )  # fmt: skip
        started = subprocess.run(
            _as_postgres([str(pgbin / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                          f"-p {port} -k {workdir} {SERVER_OPTIONS}", "start"]),
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        if started.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
            raise PostgresUnavailable(f"pg_ctl start failed:\n{tail}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(pgbin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)


def lead_driver_truth(truth_csv: Path) -> set[tuple[str, str]]:
    """(lead_id, driver_id) pairs of the same person, from a synth truth.csv."""
    leads: dict[str, list[str]] = {}
    drivers: dict[str, list[str]] = {}
    with truth_csv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            side = {"leads": leads, "drivers": drivers}.get(row["source"])
            if side is not None:
                side.setdefault(row["entity_id"], []).append(row["source_pk"])
    return {(lead, drv) for eid, ls in leads.items() for lead in ls for drv in drivers.get(eid, [])}


def pair_quality(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, Any]:
    """Pairwise precision / recall / F1 of predicted pairs against true pairs."""
    correct = len(predicted & truth)
    p = correct / len(predicted) if predicted else 1.0
    r = correct / len(truth) if truth else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "predicted": len(predicted),
            "correct": correct, "true": len(truth)}  # fmt: skip
