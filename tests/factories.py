"""Factories: source rows as dicts, written to real CSV files and ingested for real."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.ingest.files import IngestResult, ingest_file
from leadlink.sources import SOURCES

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)
_files = itertools.count()


def lead(lead_id: str, **fields: str) -> dict[str, str]:
    return {"lead_id": lead_id, "created_at": "2026-10-01 10:00:00", **fields}


def driver(driver_id: str, **fields: str) -> dict[str, str]:
    return {"driver_id": driver_id, "hire_date": "2026-10-05", "work_status": "working", **fields}


def scouting(**fields: str) -> dict[str, str]:
    return {"scout_id": "S01", "registration_date": "2026-10-03", **fields}


def migration(driver_id: str, **fields: str) -> dict[str, str]:
    return {"driver_id": driver_id, "hire_date": "2026-10-05", "scout_id": "S02", **fields}


def write_csv(path: Path, source: str, rows: list[dict[str, Any]]) -> Path:
    columns = list(SOURCES[source].columns)
    extra = sorted({k for r in rows for k in r} - set(columns))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns + extra)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns + extra})
    return path


def load(engine: Engine, tmp_path: Path, source: str, rows: list[dict[str, Any]]) -> IngestResult:
    path = write_csv(tmp_path / f"{source}-{next(_files)}.csv", source, rows)
    return ingest_file(engine, source, path, now=NOW)
