"""GET /api/jobs (each job kind's freshness) and GET /api/jobs/runs (the job_run history).

(``POST /api/jobs/{kind}``, starting a job, is an operator's write in ``api_writes``.)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.operations.freshness import job_freshness
from leadlink.store import listing_ops
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal, paged
from leadlink.web.routes.api_common import Item, Page, PageDep, text_filter, window

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api/jobs", tags=["jobs"], dependencies=[Depends(current_principal)])

RunStatus = Literal["ok", "failed", "running", "aborted"]


class RunItem(Item):
    """A job_run: what ran, how it ended, how long it took, what it counted."""

    id: int
    kind: str
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    counts: dict[str, Any]
    error: str | None


class KindItem(Item):
    """A job kind's freshness. ``stale``: no successful run finished within
    ``stale_after_hours`` (``LEADLINK_JOB_STALE_HOURS``, 24), or never one; the rule of the
    ``job_stale`` alert. ``status`` is the newest run's (``never`` if none)."""

    kind: str
    status: str
    last_run: RunItem | None
    duration_s: float | None
    last_ok_at: str | None
    stale: bool
    stale_after_hours: float


@router.get("", response_model=Page[KindItem], summary="Every job kind: last run, freshness")
def list_kinds(
    engine: EngineDep, settings: SettingsDep, now: NowDep, page: PageDep
) -> dict[str, object]:
    """The worker's kinds (ingest when a folder is watched) and every kind that ever ran."""
    rows: list[object] = list(job_freshness(engine, settings, now))
    return paged(rows[page.offset : page.offset + page.limit], len(rows), page)


@router.get("/runs", response_model=Page[RunItem], summary="Job run history, newest first")
def list_runs(
    engine: EngineDep,
    page: PageDep,
    kind: Annotated[str | None, text_filter("Job kind, e.g. match, recover.", 30)] = None,
    status: Annotated[RunStatus | None, Query(description="Run status.")] = None,
) -> dict[str, object]:
    total, rows = listing_ops.job_runs(engine, window(page), kind=kind, status=status)
    return paged(list(rows), total, page)
