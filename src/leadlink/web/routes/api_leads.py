"""GET /api/leads and /api/leads/{lead_id}: every lead with its state, and one lead explained.

(``POST /api/leads``, the online match of a new lead, lives in ``api_lead_post``.)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.matching.reasons import Reason
from leadlink.pipeline.resolution.explain import explain_lead
from leadlink.store import listing
from leadlink.web.deps import EngineDep, current_principal, paged
from leadlink.web.routes.api_common import (
    Item,
    Page,
    PageDep,
    key_path,
    not_found,
    text_filter,
    window,
)

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api/leads", tags=["leads"], dependencies=[Depends(current_principal)])

LeadStatus = Literal["linked", "review", "unmatched", "pending"]
LeadSort = Literal["-lead_date", "lead_date", "lead_id", "-lead_id"]


class LeadItem(Item):
    """A lead and its state.

    ``status``: ``linked`` (an active link to a person), ``review`` (not linked, a pair waits
    in the review queue), ``unmatched`` (not linked, nothing to review: see ``reason``),
    ``pending`` (not matched yet). ``decision`` is the online path's word for it (``link``,
    ``unmatched``, ``pending``). For a lead that is not linked, ``rule`` and ``score`` are its
    best candidate's, as ``POST /api/leads`` answers.
    """

    lead_id: str
    lead_date: str | None
    name: str
    phone: str
    status: LeadStatus
    decision: str
    person_key: str | None
    rule: str | None
    score: float | None
    confidence: str | None
    reason: str | None
    band: str | None
    message: str | None


@router.get("", response_model=Page[LeadItem], summary="Leads, filtered and paged")
def list_leads(
    engine: EngineDep,
    page: PageDep,
    status: Annotated[LeadStatus | None, Query(description="The lead's state.")] = None,
    reason: Annotated[Reason | None, Query(description="Unmatched reason code.")] = None,
    lead_date_from: Annotated[dt.date | None, Query(description="Lead date on or after.")] = None,
    lead_date_to: Annotated[dt.date | None, Query(description="Lead date on or before.")] = None,
    q: Annotated[
        str | None, text_filter("Lead id prefix, or words of the lead's name (any order).")
    ] = None,
    sort: Annotated[LeadSort, Query(description="Order; `-` is descending.")] = "-lead_date",
) -> dict[str, object]:
    filters = listing.LeadFilter(
        status=status,
        reason=reason.value if reason is not None else None,
        date_from=lead_date_from,
        date_to=lead_date_to,
        q=q,
    )
    total, rows = listing.leads(engine, filters, window(page), sort)
    for r in rows:
        r.pop("record_id")
    return paged(list(rows), total, page)


@router.get(
    "/{lead_id}",
    summary="One lead: its decision, person, origin and explanation",
    responses=not_found("lead"),
)
def get_lead(
    engine: EngineDep, lead_id: Annotated[str, key_path("The lead's id.")]
) -> dict[str, Any]:
    """``{"lead_id", "person_key", "decision", "rule", "score", "reason"}`` (the shape
    ``POST /api/leads`` answers) plus ``status``, ``band``, ``lead_date``, ``lead`` (the lead's
    fields as ingested), ``person`` (its key and every record linked to it), ``origin`` (the
    origin this lead gave its person, if any), ``origins`` (all of the person's) and
    ``explanation`` (what ``leadlink explain leads LEAD_ID --json`` prints). 404 if unknown.
    """
    return explain_lead(engine, lead_id)  # NotFoundError -> 404
