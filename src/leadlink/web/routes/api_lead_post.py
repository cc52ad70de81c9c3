"""POST /api/leads: one lead ingested and decided at once by the online path (operators)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from leadlink.pipeline.resolution.lead_post import LeadExists, LeadPoster
from leadlink.web.deps import NowDep, OperatorDep
from leadlink.web.routes.api_common import JsonBodyRoute, no_surrogates

router = APIRouter(prefix="/api", tags=["leads"], route_class=JsonBodyRoute)
_creating = threading.Lock()


# Sane sizes of a lead (a CSV row may be bigger: 1 MiB a value): a longer value, more extra
# fields, or a longer extra name is a 422 naming it, so a post stays a few kilobytes.
MAX_TEXT = 200  # names, ids, park: a record key is at most 200 characters too
MAX_SHORT = 40  # phone, plate, date, status
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_NAME = 64
MAX_EXTRA_VALUE = 1000


def _extra_value(value: Any) -> Any:
    no_surrogates(value)
    if isinstance(value, str) and len(value) > MAX_EXTRA_VALUE:
        raise ValueError(f"an extra field holds at most {MAX_EXTRA_VALUE} characters")
    return value  # a non-scalar is refused by validate_lead, naming the field


def _text(max_length: int, description: str | None = None) -> Any:
    return Field(default=None, max_length=max_length, description=description)


Text = Annotated[str, AfterValidator(no_surrogates)]


class LeadIn(BaseModel):
    """A `leads` row as JSON: the CSV's columns (absent ones are empty; the partner's own
    columns go under `extra`, any other field is a 422).
    Dates take every format a file may use (ISO, DD/MM/YYYY, YYYYMMDD). Values are valid
    Unicode and bounded: 200 characters for names and ids, 40 for phone, plate, dates and
    status; at most 50 extra fields, each named in at most 64 characters and holding at most
    1000."""

    # The columns of sources.SOURCES["leads"], written out so the schema documents each one;
    # tests/web/test_api_lead_post.py holds them equal (the not-null ones required).

    # A field the schema does not name is a 422 (a misspelt "phnoe" was kept as an extra
    # column and the lead went in without its phone); extra columns go under "extra".
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    lead_id: Text = Field(max_length=MAX_TEXT, description="The lead's id (the record's key).")
    created_at: Text = Field(max_length=MAX_SHORT, description="When the lead came in.")
    external_id: Text | None = _text(MAX_TEXT)
    first_name: Text | None = _text(MAX_TEXT)
    middle_name: Text | None = _text(MAX_TEXT)
    last_name: Text | None = _text(MAX_TEXT)
    phone: Text | None = _text(MAX_SHORT)
    plate: Text | None = _text(MAX_SHORT)
    car_brand: Text | None = _text(MAX_TEXT)
    car_model: Text | None = _text(MAX_TEXT)
    car_color: Text | None = _text(MAX_TEXT)
    status: Text | None = _text(MAX_SHORT)
    park_name: Text | None = _text(MAX_TEXT)
    city: Text | None = _text(MAX_TEXT)
    extra: dict[str, Annotated[Any, AfterValidator(_extra_value)]] | None = Field(
        default=None,
        description="Columns of the partner's own, kept with the lead as ingest keeps a file's "
        "extra columns (text or numbers; not one of the fields above).",
    )

    def as_row(self) -> dict[str, Any]:
        """The lead as a `leads` row: its columns, then its extra ones."""
        return {**self.model_dump(exclude={"extra"}), **(self.extra or {})}

    @model_validator(mode="after")
    def _bounded_extras(self) -> LeadIn:
        extra = self.extra or {}
        if taken := sorted(set(extra) & set(type(self).model_fields)):
            raise ValueError(f"extra holds {', '.join(taken)}: a field of the lead itself")
        if len(extra) > MAX_EXTRA_FIELDS:
            raise ValueError(f"at most {MAX_EXTRA_FIELDS} extra fields ({len(extra)} sent)")
        for name in extra:
            no_surrogates(name)
            if len(name) > MAX_EXTRA_NAME:
                raise ValueError(f"an extra field's name is at most {MAX_EXTRA_NAME} characters")
        return self


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
        posted = poster_of(request.app).post(lead.as_row(), actor=principal.name, now=now)
    except LeadExists as exc:
        raise HTTPException(409, str(exc)) from None
    if not posted.created:
        response.status_code = 200
    return {**posted.decision, "created": posted.created}
