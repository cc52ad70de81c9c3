"""GET /api/recovery/...: the recovery loop's runs and attempts, its daily metrics, its queue."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.money.recovery import JOB_KIND, queue_status
from leadlink.store import listing_ops
from leadlink.web.deps import EngineDep, NowDep, current_principal, paged
from leadlink.web.routes.api_common import Item, Page, PageDep, id_query, text_filter, window

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(
    prefix="/api/recovery", tags=["recovery"], dependencies=[Depends(current_principal)]
)

RunStatus = Literal["ok", "failed", "running", "aborted"]
Outcome = Literal["matched", "unmatched", "failed"]


class RunItem(Item):
    """A `recover` job run: its ``counts`` (``leadlink recover --json``: processed, matched,
    unmatched, failed, parked, backlog before/after...) and the ``attempts`` recorded for it by
    outcome (processed = matched + unmatched + failed)."""

    id: int
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    counts: dict[str, Any]
    error: str | None
    attempts: dict[str, int]


class AttemptItem(Item):
    """One attempt at a queue item: ``matched`` (``person_key``), ``unmatched`` (``reason``)
    or ``failed`` (``error``)."""

    id: int
    run_id: int | None
    lead_id: str
    attempt: int
    outcome: str
    reason: str | None
    error: str | None
    person_key: str | None
    at: str


class DayItem(Item):
    """A day of recovery_daily, as in ``leadlink impact --json``'s ``days``."""

    day: str
    backlog_before: int
    backlog_after: int
    delta: int
    matched_out: int
    new_in: int
    processed: int
    failed: int
    top_fail_reason: str | None
    success: bool


@router.get("/runs", response_model=Page[RunItem], summary="Recovery runs, newest first")
def list_runs(
    engine: EngineDep,
    page: PageDep,
    status: Annotated[RunStatus | None, Query(description="Run status.")] = None,
) -> dict[str, object]:
    total, rows = listing_ops.job_runs(engine, window(page), kind=JOB_KIND, status=status)
    return paged(list(rows), total, page)


@router.get(
    "/attempts", response_model=Page[AttemptItem], summary="Recovery attempts, newest first"
)
def list_attempts(
    engine: EngineDep,
    page: PageDep,
    run_id: Annotated[int | None, id_query("Only this recover run.")] = None,
    outcome: Annotated[Outcome | None, Query(description="Attempt outcome.")] = None,
    lead_id: Annotated[str | None, text_filter("Only this lead.")] = None,
) -> dict[str, object]:
    filters = listing_ops.AttemptFilter(run_id=run_id, outcome=outcome, lead_id=lead_id)
    total, rows = listing_ops.recovery_attempts(engine, filters, window(page))
    return paged(list(rows), total, page)


@router.get("/daily", response_model=Page[DayItem], summary="Daily recovery metrics")
def list_daily(
    engine: EngineDep,
    page: PageDep,
    date_from: Annotated[dt.date | None, Query(description="First day (inclusive).")] = None,
    date_to: Annotated[dt.date | None, Query(description="Last day (inclusive).")] = None,
) -> dict[str, object]:
    """The KPI-red backlog before and after each day's runs, matched out, new in: oldest
    first, the rows the backlog chart draws."""
    total, rows = listing_ops.recovery_daily(engine, window(page), since=date_from, until=date_to)
    return paged(list(rows), total, page)


@router.get("/queue", summary="The recovery queue: items per status, due now, parked")
def get_queue(engine: EngineDep, now: NowDep) -> dict[str, Any]:
    """``leadlink queue status --json``: ``{"counts": {pending, matched, unmatched, parked,
    due}, "parked": [{lead_id, attempts, last_error}]}``."""
    return queue_status(engine, now=now)
