"""`leadlink demo`: generate, ingest, match, work the backlog, compute claims, evaluate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.progress import ProgressFn
from leadlink.pipeline.resolution.explain import evaluate
from leadlink.pipeline.resolution.resolve import match
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
    # The money loop on top: what match left KPI red goes through the recovery queue (it
    # retries what may resolve later), then claims and payments, and the gap per lead.
    from leadlink.pipeline.money.activity import figure as activity_figure
    from leadlink.pipeline.money.claims import compute_claims
    from leadlink.pipeline.money.gap import gap_report
    from leadlink.pipeline.money.impact import impact
    from leadlink.pipeline.money.recovery import recover
    from leadlink.pipeline.money.recovery import seed as queue_seed

    seeded = queue_seed(engine, settings, now=now)
    recovered = recover(engine, settings, now=now, progress=progress)
    claims = compute_claims(engine, settings, now=now)
    return {
        "database": engine.url.render_as_string(hide_password=True),
        "data_dir": str(data_dir),
        "generated": rows,
        "ingest": ingested,
        "match": matched.as_dict(),
        "queue": seeded.as_dict(),
        "recover": recovered.as_dict(),
        "impact": impact(engine, settings, now=now),
        "claims": claims.as_dict(),
        "gap": gap_report(engine, settings, now=now, limit=0)["summary"],
        # Drivers riding with no lead and no origin: money the partner cannot claim (activity).
        "unlinked_activity": activity_figure(engine, settings, now=now),
        "evaluate": evaluate(engine, data_dir / "truth.csv"),
    }
