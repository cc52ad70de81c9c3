"""The review queue: accept / reject forms, each candidate's explanation side by side (a
person's page, which shows the same explanations, is in pages/persons.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from leadlink.errors import LeadlinkError
from leadlink.pipeline.operations.tokens import Principal
from leadlink.pipeline.resolution import model as model_service
from leadlink.pipeline.resolution import review as review_service
from leadlink.web.deps import EngineDep, NowDep, PageDep, SettingsDep, ViewerDep, paged
from leadlink.web.i18n import Translator
from leadlink.web.pages.common import (
    FormWriterDep,
    error_page,
    flash,
    respond,
    safe_next,
    translator,
)

router = APIRouter(include_in_schema=False)

# Evidence fields the rules compare, in the order a reviewer reads them.
FIELDS = ("phone_eq", "id_eq", "plate_eq", "brand_model_eq", "driver_id_eq", "name_sim", "days")


# What each compared field needs on the record's side (review.summary's keys): without it the
# field was not compared, which is not a disagreement.
NEEDS = {"phone_eq": "phone", "id_eq": "document", "plate_eq": "plate",
         "brand_model_eq": "car", "driver_id_eq": "driver_id"}  # fmt: skip
MISSING = "missing"


def explanation(
    evidence: dict[str, Any] | None,
    prior: float | None = None,
    record: dict[str, Any] | None = None,
    others: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a pair's evidence says, ready for a table: the compared fields (agreements as
    booleans, the name similarity, the days between dates) and the model's match weights
    with their bar widths (% of the largest weight).

    A field that disagrees (False) while ``record`` (the record's summary) has no value for it,
    or none of ``others`` (the summaries of the candidate's records) has one, was not compared:
    it reads ``missing``, not a red "no" (a lead carries no DNI and no driver id at all).

    With the model's ``prior`` (the probability that two random records match), the weights
    read as Splink's waterfall: the prior's match weight, each comparison's, their total and
    the probability it means. A proposal the guard held back shows a lower score than that
    probability: ``capped`` says so (the score is the cap, under the accept band).
    """
    evidence = evidence or {}
    fields = evidence.get("fields") or {}
    rows = [{"field": f, "value": _shown(f, fields[f], record, others)}
            for f in FIELDS if f in fields]  # fmt: skip
    waterfall = evidence.get("waterfall") or {}
    top = max((abs(float(v.get("weight") or 0)) for v in waterfall.values()), default=0.0)
    weights = [
        {"field": name, "level": v.get("level"), "weight": float(v.get("weight") or 0),
         "width": round(100 * abs(float(v.get("weight") or 0)) / top, 1) if top else 0.0}
        for name, v in waterfall.items()
    ]  # fmt: skip
    out = {"fields": rows, "weights": weights, "accepted_by": evidence.get("accepted_by"),
           "merged_from": evidence.get("merged_from")}  # fmt: skip
    if weights and prior is not None and 0.0 < prior < 1.0:
        start = math.log2(prior / (1.0 - prior))
        total = start + sum(w["weight"] for w in weights)
        probability = 1.0 / (1.0 + 2.0 ** -total)
        score = evidence.get("score")
        out["sum"] = {
            "prior": round(start, 2), "total": round(total, 2),
            "probability": round(probability, 4), "score": score,
            # The weights are rounded to 2 decimals: a gap beyond that is the guard's cap.
            "capped": score is not None and probability - float(score) > 0.005,
        }  # fmt: skip
    return out


def _shown(
    field: str, value: Any, record: dict[str, Any] | None, others: list[dict[str, Any]] | None
) -> Any:
    need = NEEDS.get(field)
    if value is not False or need is None:
        return value
    if record is not None and not record.get(need):
        return MISSING
    if others and not any(o.get(need) for o in others):
        return MISSING
    return value


def _all_shown(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The candidate's record summaries, when the item shows all of them (a value only an
    unshown record has must not read as missing)."""
    person = item.get("person") or {}
    shown = person.get("shown") or []
    return shown if shown and person.get("records") == len(shown) else None


def model_prior(engine: Engine) -> float | None:
    """The stored model's prior (what its waterfalls start from); None without a model."""
    stored = model_service.current(engine)
    value = stored.settings.get("probability_two_random_records_match") if stored else None
    return float(value) if value is not None else None


def grouped(items: list[dict[str, Any]], prior: float | None = None) -> list[dict[str, Any]]:
    """Items of one record together (a MULTIPLE_CANDIDATES record has one per candidate), in
    the queue's order: the record once, its candidates side by side."""
    groups: dict[int, dict[str, Any]] = {}
    for item in items:
        group = groups.setdefault(item["record"]["id"], {"record": item["record"], "items": []})
        evidence = item.get("evidence") or {}
        group["items"].append({**item,
                               "explanation": explanation(
                                   evidence, prior, item["record"], _all_shown(item)),
                               "reason": evidence.get("reason"),
                               "considered": evidence.get("candidates") or []})  # fmt: skip
    return list(groups.values())


@router.get("/review")
@router.get("/review.json")
def review(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    status: Annotated[str, Query(description="open, accepted, rejected, superseded or all")] = (
        "open"
    ),
    view: Annotated[str, Query(description="full (default) or compact: one row per item")] = (
        "full"
    ),
) -> Response:
    def build() -> dict[str, Any]:
        return review_service.list_items(engine, settings, status=status, limit=page.limit,
                                         offset=page.offset, now=now)  # fmt: skip

    def extras(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        groups = grouped(data["items"], model_prior(engine))
        return {"groups": groups, "compact": view == "compact", "rows": compact_rows(groups),
                "statuses": ("open", "accepted", "rejected", "superseded", "all"),
                "page": paged([], data["total"], page)}  # fmt: skip

    return respond(request, principal, "review.html", build, json_path="/review.json",
                   view=extras)  # fmt: skip


def compact_rows(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The compact view's rows: every item of the page, explained, one row each (in the
    groups' order, which is the queue's: a record's candidates stay next to each other)."""
    return [item for group in groups for item in group["items"]]


def _decide(
    request: Request,
    writer: Principal | str,
    action: str,
    item_id: int,
    note: str | None,
    back: str | None,
    call: Callable[..., dict[str, Any]],
) -> Response:
    t = translator(request)
    if isinstance(writer, str):  # a viewer, or no CSRF token: refused, as a page
        return error_page(request, None, 403, writer)
    try:
        result = call(actor=writer.name, note=(note or "").strip() or None)
    except LeadlinkError as exc:  # already decided, unknown item: say so on the queue
        flash(request, "error", t("review.failed", id=item_id, error=t.error(exc)))
    else:
        if action == "accept":
            link = result["link"]
            flash(request, "ok", t("review.accepted", id=item_id, record=link["record"],
                                   person=link["person_key"]))  # fmt: skip
        else:
            flash(request, "ok", t("review.rejected", id=item_id))
    # Back to the queue page the form was on (its filters and offset); only the queue's own.
    target = safe_next(back)
    return RedirectResponse(target if target.startswith("/review") else "/review", 303)


@router.post("/review/{item_id}/accept")
def accept(
    request: Request,
    item_id: int,
    writer: FormWriterDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    note: Annotated[str | None, Form()] = None,
    back: Annotated[str | None, Form()] = None,
) -> Response:
    def call(**kw: Any) -> dict[str, Any]:
        return review_service.accept(engine, settings, item_id, now=now, **kw)

    return _decide(request, writer, "accept", item_id, note, back, call)


@router.post("/review/{item_id}/reject")
def reject(
    request: Request,
    item_id: int,
    writer: FormWriterDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    note: Annotated[str | None, Form()] = None,
    back: Annotated[str | None, Form()] = None,
) -> Response:
    def call(**kw: Any) -> dict[str, Any]:
        return review_service.reject(engine, settings, item_id, now=now, **kw)

    return _decide(request, writer, "reject", item_id, note, back, call)
