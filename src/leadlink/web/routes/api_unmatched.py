"""GET /api/unmatched: the records the engine could not link, by reason, age, risk and source."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.matching.reasons import Reason
from leadlink.store import listing
from leadlink.store.gap import GapCutoffs
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal, paged
from leadlink.web.routes.api_common import AgeDays, Item, Page, PageDep, window

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(
    prefix="/api/unmatched", tags=["unmatched"], dependencies=[Depends(current_principal)]
)

Risk = Literal["high", "medium", "low"]
IdentitySource = Literal["leads", "scouting", "migrations", "drivers"]
UnmatchedSort = Literal["-age", "age", "-updated_at", "source"]


class UnmatchedItem(Item):
    """A record with no person: why (``reason``, ``message`` for ERROR), the ``band`` of its
    best candidate, the ``candidates`` the engine considered, its age in days since its event
    date, and for leads the gap analysis ``risk`` (high, medium, low; null for other sources).
    """

    record_id: int
    source: str
    source_pk: str
    event_date: str | None
    age_days: int | None
    reason: str
    message: str | None
    band: str
    risk: str | None
    candidates: list[dict[str, object]]
    updated_at: str


@router.get("", response_model=Page[UnmatchedItem], summary="Unmatched records, filtered")
def list_unmatched(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    reason: Annotated[Reason | None, Query(description="Reason code.")] = None,
    min_age_days: AgeDays = None,
    max_age_days: AgeDays = None,
    risk: Annotated[
        Risk | None,
        Query(description="Gap analysis risk (leads only; `leadlink gap` defines it)."),
    ] = None,
    source: Annotated[IdentitySource | None, Query(description="Source of the record.")] = None,
    sort: Annotated[
        UnmatchedSort, Query(description="`-age`: oldest first; `age`: newest first.")
    ] = "-age",
) -> dict[str, object]:
    filters = listing.UnmatchedFilter(
        reason=reason.value if reason is not None else None,
        source=source,
        risk=risk,
        min_age_days=min_age_days,
        max_age_days=max_age_days,
    )
    cutoffs = GapCutoffs.at(now, settings.gap_medium_days, settings.gap_high_days)
    total, rows = listing.unmatched(engine, filters, cutoffs, now.date(), window(page), sort)
    return paged(list(rows), total, page)
