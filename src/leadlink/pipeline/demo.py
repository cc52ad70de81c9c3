"""`leadlink demo`: generate, ingest, match and evaluate in one go."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink.console import ProgressFn
from leadlink.pipeline.ingest import ingest_file
from leadlink.pipeline.inspect import evaluate
from leadlink.pipeline.resolve import match
from leadlink.settings import Settings
from leadlink.sources import SOURCES
from leadlink.store.db import migrate


def run_demo(
    engine: Engine,
    settings: Settings,
    data_dir: Path,
    *,
    leads: int,
    seed: int,
    now: dt.datetime,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    from leadlink.synth import generate

    migrate(engine)
    rows = generate(data_dir, leads=leads, seed=seed)
    ingested = {}
    for source in SOURCES:
        result = ingest_file(engine, source, data_dir / f"{source}.csv", progress=progress, now=now)
        ingested[source] = result.as_dict()
    matched = match(engine, settings, now=now, progress=progress)
    return {
        "database": engine.url.render_as_string(hide_password=True),
        "data_dir": str(data_dir),
        "generated": rows,
        "ingest": ingested,
        "match": matched.as_dict(),
        "evaluate": evaluate(engine, data_dir / "truth.csv"),
    }
