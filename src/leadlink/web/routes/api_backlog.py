"""GET /api/backlog: the KPI-red backlog by what can still be claimed (`leadlink backlog
--json`; definitions in docs/recovery.md, "Backlog segments")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from leadlink.pipeline.money.segments import Segment, backlog_segments
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal
from leadlink.web.routes.api_common import Item, PageDep, SummaryTable

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api", tags=["backlog"], dependencies=[Depends(current_principal)])

# store.backlog_view.SORTS (a test holds them equal): what ix_backlog_lead_day serves.
BacklogSort = Literal["-lead_date", "lead_date"]


class SegmentSummary(BaseModel):
    """One segment over the whole backlog: its leads, the soles at stake, the nearest deadline
    still ahead (None when none is) and, for ``lost``, the leads per loss reason."""

    leads: int
    at_stake: float
    next_deadline: str | None
    by_reason: dict[str, int]


class BacklogLead(Item):
    """A KPI-red lead: its segment, why it is lost (``loss_reason``, lost only), the engine's
    reason, its candidate person and that person's trips inside the lead's window, the soles
    at stake, the deadline and the days left until it (negative once passed)."""

    lead_id: str
    lead_date: str | None
    segment: Segment
    loss_reason: str | None
    reason: str | None
    candidate: str | None
    candidate_trips: int
    at_stake: float
    deadline: str | None
    days_left: int | None


class BacklogPage(BaseModel):
    """``segments`` and ``kpi_red`` cover the whole backlog (the filter does not change them);
    ``items`` is one page of the filtered leads in working order, ``total`` how many match."""

    as_of: str
    kpi_red: int
    at_stake: float
    segments: dict[Segment, SegmentSummary]
    items: list[BacklogLead]
    total: int
    limit: int
    offset: int
    summary_table: SummaryTable | None


@router.get(
    "/backlog",
    response_model=BacklogPage,
    summary="The KPI-red backlog: recoverable, waiting, lost, with soles and deadlines",
)
def get_backlog(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    segment: Annotated[
        list[Segment] | None, Query(description="Only leads of these segments (repeatable).")
    ] = None,
    loss_reason: Annotated[
        list[str] | None, Query(description="Only lost leads lost for these reasons.")
    ] = None,
    sort: Annotated[
        BacklogSort | None, Query(description="By lead date (`-` newest first); none: work order.")
    ] = None,
) -> BacklogPage:
    """Recoverable leads first (nearest deadline, then most money), then waiting (nearest
    deadline), then lost (newest first); or by lead date when ``sort`` says so (ties by lead
    id)."""
    data = backlog_segments(engine, settings, now=now, segments=segment or (),
                            limit=page.limit, offset=page.offset, sort=sort,
                            losses=loss_reason or ())  # fmt: skip
    return BacklogPage.model_validate({**data, "items": data["leads"]})
