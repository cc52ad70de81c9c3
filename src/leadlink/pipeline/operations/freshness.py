"""Job freshness, once for the API (GET /api/jobs) and the dashboard (/jobs).

A kind is stale when no run of it succeeded within ``job_stale_hours`` (or none ever did):
the rule of the ``job_stale`` alert. The worker's kinds are listed even before they ever ran
(ingest only when a folder is watched), so a worker that never started shows up stale.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.operations.alerts import WORKER_KINDS
from leadlink.settings import Settings
from leadlink.store import jobs


def run_dict(run: Any) -> dict[str, Any]:
    """A job_run (row or ``latest_by_kind`` dict) as JSON-ready fields, with its duration."""

    def get(key: str) -> Any:
        return run[key] if isinstance(run, dict) else getattr(run, key)

    done: dt.datetime | None = get("finished_at")
    started: dt.datetime = get("started_at")
    return {
        "id": get("id"), "kind": get("kind"), "status": get("status"),
        "started_at": started.isoformat(), "finished_at": done.isoformat() if done else None,
        "duration_s": round((done - started).total_seconds(), 3) if done else None,
        "counts": get("counts") or {}, "error": get("error"),
    }  # fmt: skip


def job_freshness(engine: Engine, settings: Settings, now: dt.datetime) -> list[dict[str, Any]]:
    """Per kind (the worker's first, in its order): newest run, last success, stale or not."""
    newest = {run["kind"]: run for run in jobs.latest_by_kind(engine)}
    watched = (["ingest"] if settings.watch_dir else []) + list(WORKER_KINDS)
    rows = []
    for kind in [*watched, *sorted(set(newest) - set(watched))]:
        run = newest.get(kind)
        last_ok: dt.datetime | None = run["last_ok_at"] if run else None
        hours = None if last_ok is None else (now - last_ok).total_seconds() / 3600
        last = run_dict(run) if run else None
        rows.append({
            "kind": kind, "status": run["status"] if run else "never", "last_run": last,
            "duration_s": last["duration_s"] if last else None,
            "last_ok_at": last_ok.isoformat() if last_ok else None,
            "hours_since_ok": None if hours is None else round(hours, 2),
            "stale": hours is None or hours > settings.job_stale_hours,
            "stale_after_hours": settings.job_stale_hours, "watched": kind in watched,
        })  # fmt: skip
    return rows
