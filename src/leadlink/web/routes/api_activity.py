"""GET /api/activity: unlinked activity, `leadlink activity --json` (docs/activity.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.money.activity import MAX_DAYS, unlinked_activity
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal
from leadlink.web.routes.api_common import Item, PageDep, SummaryTable

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api", tags=["activity"], dependencies=[Depends(current_principal)])

Anchor = Literal["candidate_lead", "hire_date", "first_trip"]
# store.activity_view.SORTS (a test holds them equal): what its order index serves.
ActivitySort = Literal["-would_claim", "would_claim"]


class CandidateLead(Item):
    """A lead with no active link that names the driver's person: in its unmatched row's
    candidates (``source`` ``unmatched``) or in an open review item (``review``, which also
    carries the engine's ``evidence``)."""

    lead_id: str
    lead_date: str | None
    rule: str
    score: float
    source: Literal["review", "unmatched"]


class ActivityDriver(Item):
    """A driver in unlinked activity: its trips up to today (``first_trip`` is since when), the
    hypothetical claim window ``[window_from, window_to)`` anchored on ``anchor``, the trips in
    and out of it and what those in it would claim (S/), and up to three candidate leads."""

    driver_id: str
    person_key: str
    name: str
    hire_date: str | None
    first_trip: str
    last_trip: str
    trips: int
    window_from: str
    window_to: str
    anchor: Anchor
    trips_in_window: int
    trips_outside_window: int
    would_claim: float
    candidates: list[CandidateLead]


class ActivitySummary(Item):
    drivers: int
    trips: int
    trips_in_window: int
    trips_outside_window: int
    would_claim: float
    with_candidates: int
    since: str | None


class TrendDay(Item):
    """KPI drivers with trips that day and their trips; the day's snapshot if one was taken."""

    day: str
    drivers: int
    trips: int
    snapshot: dict[str, Any] | None


class ActivityTrend(Item):
    days: list[TrendDay]
    current: int


class ActivityReport(Item):
    as_of: str
    claim_window_days: int
    summary: ActivitySummary
    drivers: list[ActivityDriver]
    total: int
    limit: int
    offset: int
    trend: ActivityTrend
    summary_table: SummaryTable | None


@router.get(
    "/activity",
    response_model=ActivityReport,
    summary="Unlinked activity: drivers riding with no lead and no origin, and what they'd claim",
)
def get_activity(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description="Days of trend, today included.")
    ] = 30,
    sort: Annotated[
        ActivitySort, Query(description="Drivers' order by would-claim soles; `-` descending.")
    ] = "-would_claim",
    anchor: Annotated[Anchor | None, Query(description="Only drivers of this anchor.")] = None,
) -> dict[str, Any]:
    """``leadlink activity --json``: ``summary`` covers every driver in the KPI; ``drivers`` is
    one page (most would-claim soles first, then the earliest first trip, then the driver id),
    ``total`` how many there are (of ``anchor`` when given); ``trend`` the last ``days``
    days. ``sort=would_claim`` reverses the order (least money first, ties the other way)."""
    return unlinked_activity(engine, settings, now=now, limit=page.limit, offset=page.offset,
                             days=days, sort=sort, anchor=anchor)  # fmt: skip
