"""GET /api/claims (the claims, filtered) and GET /api/claims/report (`leadlink claims`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.money.claims_report import claim_list, report
from leadlink.store import listing_ops
from leadlink.web.deps import (
    EngineDep,
    NowDep,
    SettingsDep,
    current_principal,
    paged,
)
from leadlink.web.routes.api_common import Item, Page, PageDep, WeekParam, text_filter, window

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api/claims", tags=["claims"], dependencies=[Depends(current_principal)])

Milestone = Literal["M1", "M5", "M25"]
ClaimStatus = Literal["expected", "generated", "paid", "rejected", "expired"]
# listing_ops.CLAIM_SORTS, spelled out for the OpenAPI schema (a test holds them equal).
ClaimSort = Literal["-reached_on", "reached_on", "lead_date", "-lead_date", "-amount", "amount",
                    "person_key"]  # fmt: skip


class ClaimItem(Item):
    """A claim: one per (person, milestone). ``payment`` is the payment_id of the payment
    reconciled to it; ``age_days`` counts days since its claim window closed (null while the
    window is open), as in ``leadlink claims --rows --json``."""

    id: int
    person_key: str
    milestone: Milestone
    lead_id: str
    lead_date: str
    reached_on: str | None
    amount: float
    status: ClaimStatus
    payment: str | None
    age_days: int | None


@router.get("", response_model=Page[ClaimItem], summary="Claims by milestone, status and week")
def list_claims(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    milestone: Annotated[Milestone | None, Query(description="Milestone.")] = None,
    status: Annotated[ClaimStatus | None, Query(description="Claim status.")] = None,
    week: WeekParam = None,
    person_key: Annotated[str | None, text_filter("Only this person's claims.", 36)] = None,
    sort: Annotated[ClaimSort, Query(description="Order; `-` is descending.")] = "-reached_on",
) -> dict[str, object]:
    """``week`` selects the claims whose milestone was reached in that ISO week (Monday to
    Sunday)."""
    filters = listing_ops.ClaimFilter(
        milestone=milestone, status=status, week_start=week, person_key=person_key
    )
    total, rows = claim_list(engine, settings, filters, window(page), now=now, sort=sort)
    return paged(list(rows), total, page)


@router.get("/report", summary="The claims report: money by status, milestone and aging")
def get_report(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    milestone: Annotated[Milestone | None, Query(description="Milestone.")] = None,
    status: Annotated[ClaimStatus | None, Query(description="Claim status.")] = None,
) -> dict[str, Any]:
    """What ``leadlink claims --json`` reports (without recomputing claims: a GET writes
    nothing): ``claims`` (total, by_status, by_milestone, amounts in soles, aging of
    outstanding claims), ``payments`` (reconciliation), ``funnel`` and ``quarantined``."""
    return report(engine, settings, now=now, milestone=milestone, status=status)
