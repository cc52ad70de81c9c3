"""POST /api/leads: one lead ingested and decided at once by the online path (operators)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from leadlink.pipeline.resolution.lead_post import LeadExists, LeadPoster
from leadlink.web.deps import NowDep, OperatorDep

router = APIRouter(prefix="/api", tags=["leads"])
_creating = threading.Lock()


class LeadIn(BaseModel):
    """A `leads` row as JSON: the CSV's columns (absent ones are empty; extra ones are kept).
    Dates take every format a file may use (ISO, DD/MM/YYYY, YYYYMMDD)."""

    # The columns of sources.SOURCES["leads"], written out so the schema documents each one;
    # tests/web/test_api_lead_post.py holds them equal (the not-null ones required).

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    lead_id: str = Field(description="The lead's id (the record's key).")
    created_at: str = Field(description="When the lead came in.")
    external_id: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    plate: str | None = None
    car_brand: str | None = None
    car_model: str | None = None
    car_color: str | None = None
    status: str | None = None
    park_name: str | None = None
    city: str | None = None


def poster_of(app: FastAPI) -> LeadPoster:
    """The app's one LeadPoster (its matcher loads on the first post)."""
    with _creating:
        poster: LeadPoster | None = getattr(app.state, "lead_poster", None)
        if poster is None:
            poster = app.state.lead_poster = LeadPoster(app.state.engine, app.state.settings)
    return poster


@router.post(
    "/leads",
    status_code=201,
    responses={
        200: {"description": "The same lead was posted before: its stored decision."},
        409: {"description": "The lead id exists with other data, or is not decided yet."},
        422: {"description": "A field is invalid: the answer names it (`column` or `loc`)."},
    },
)
def post_lead(
    lead: LeadIn, principal: OperatorDep, now: NowDep, request: Request, response: Response
) -> dict[str, Any]:
    """Store the lead and decide it now: `decision` link (with `person_key`) or unmatched
    (with `reason`; `band` review also opens `review_items`), with rule, score, candidates
    and evidence, as `leadlink match` would decide it. Audited as `lead_post`."""
    try:
        posted = poster_of(request.app).post(lead.model_dump(), actor=principal.name, now=now)
    except LeadExists as exc:
        raise HTTPException(409, str(exc)) from None
    if not posted.created:
        response.status_code = 200
    return {**posted.decision, "created": posted.created}
