"""The header's search box and its results (``/search?q=``), and a lead's page
(``/leads/LEAD_ID``): both HTML or JSON from the same dict, like every page.

The results are ``search.search``'s (= ``GET /api/search``); a lead's page is
``lead_page.lead_page``'s: ``GET /api/leads/{lead_id}`` (``explain leads LEAD_ID``) with its
review items and its backlog segment."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from leadlink.errors import NotFoundError
from leadlink.pipeline.money.lead_page import lead_page
from leadlink.pipeline.resolution import review as review_service
from leadlink.pipeline.resolution.search import MAX_LENGTH, MIN_LENGTH, search
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, ViewerDep
from leadlink.web.i18n import Translator
from leadlink.web.pages.common import error_page, local_url, respond, translator, wants_json
from leadlink.web.pages.review import explanation, model_prior
from leadlink.web.pages.tables import TableSpec

router = APIRouter(include_in_schema=False)

# The results as CSV (web/pages/tables.py): GET /api/search's items.
TABLES = {
    "results": TableSpec(("items",), ("source", "source_pk", "name", "phone", "plate", "date",
                                      "status", "person_key", "rule", "reason", "band",
                                      "matched_on", "via")),
}  # fmt: skip


@router.get("/search")
@router.get("/search.json")
def search_page(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    q: Annotated[str | None, Query(max_length=MAX_LENGTH, description="What to find.")] = None,
) -> Response:
    if len((q or "").strip()) < MIN_LENGTH and not wants_json(request):
        t = translator(request)
        return error_page(request, principal, 422, t("search.too_short", n=MIN_LENGTH))

    def build() -> dict[str, Any]:
        return search(engine, q)  # too short: UsageError -> the API's 422 for JSON

    return respond(request, principal, "search.html", build,
                   json_path=local_url("/search.json", {"q": q}), tables=TABLES)  # fmt: skip


@router.get("/leads/{lead_id:path}")
def lead(
    request: Request,
    lead_id: str,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """``/leads/LEAD_ID`` (HTML) and ``/leads/LEAD_ID.json``; an unknown lead is a 404 page."""
    lead_id = lead_id.removesuffix(".json")

    def build() -> dict[str, Any]:
        if "\x00" in lead_id:  # no stored id holds one (PostgreSQL text cannot)
            raise NotFoundError("no record {source}/{pk}", code="record_unknown",
                                source="leads", pk=lead_id)
        return lead_page(engine, settings, lead_id, now=now)  # NotFoundError -> 404

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        prior = model_prior(engine)
        about = review_service.summary(data["lead"] or {})
        link = data["explanation"].get("link")
        why = explanation(link["evidence"], prior, about) if link else None
        items = [{**i, "explanation": explanation(i["evidence"], prior, about)}
                 for i in data["review_items"]]  # fmt: skip
        return {"about": about, "why": why, "items": items}

    json_path = local_url(f"/leads/{quote(lead_id, safe='')}.json")
    return respond(request, principal, "lead.html", build, json_path=json_path, view=view)
