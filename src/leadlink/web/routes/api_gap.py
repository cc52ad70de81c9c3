"""GET /api/gap (gap analysis, `leadlink gap --json`) and GET /api/funnel (the lead funnel)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.money.funnel import funnel
from leadlink.pipeline.money.gap import gap_report
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal
from leadlink.web.routes.api_common import PageDep

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api", tags=["gap"], dependencies=[Depends(current_principal)])

GapReason = Literal["resolved", "no_identity", "no_origin", "inconsistent_origin"]
Risk = Literal["high", "medium", "low"]
# store.gap.SORTS, spelled out for the OpenAPI schema (a test holds them equal).
GapSort = Literal["lead_date", "-lead_date", "lead_id", "-lead_id"]


@router.get("/gap", summary="Gap analysis: why each lead is (not) attributed, and the risk")
def get_gap(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    reason: Annotated[
        list[GapReason] | None, Query(description="Only these gap reasons (repeatable).")
    ] = None,
    risk: Annotated[list[Risk] | None, Query(description="Only these risks (repeatable).")] = None,
    sort: Annotated[
        GapSort | None, Query(description="By lead date or lead id (`-`: descending); none: "
                              "high risk first, then oldest.")
    ] = None,
) -> dict[str, Any]:
    """``leadlink gap --json`` with the same filters: ``summary`` covers every lead (filters
    do not change it); ``leads`` is one page of the filtered leads (high risk first, then
    oldest, or ``sort``), ``total`` how many match the filters, plus ``limit`` and ``offset``."""
    reasons, risks = reason or [], risk or []
    report = gap_report(engine, settings, now=now, reasons=reasons, risks=risks,
                        limit=page.limit, offset=page.offset, sort=sort)  # fmt: skip
    # The summary counts every (reason, risk) pair: the filtered total is a sum of its cells.
    total = sum(
        n
        for gap_reason, by_risk in report["summary"]["by_risk"].items()
        for level, n in by_risk.items()
        if (not reasons or gap_reason in reasons) and (not risks or level in risks)
    )
    return {
        "summary": report["summary"],
        "leads": report["leads"],
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.get("/funnel", summary="The lead funnel: leads, persons and soles per stage")
def get_funnel(engine: EngineDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    """Every lead in the first stage that holds: NO_IDENTITY, NO_DRIVER, NO_TRIPS_14D,
    TRIPS_NO_CLAIM, OK: ``{"as_of", "leads", "stages": {STAGE: {"leads", "persons",
    "amount"}}, "quarantined", "summary_table"}`` (the stage counts are `leadlink claims
    --json`'s ``funnel``). The stages are read from a summary table (docs/summaries.md):
    ``summary_table`` says when it was computed, and ``lagging: true`` that a job changing its
    inputs is running, or failed or died, since then."""
    return funnel(engine, settings, now=now)
