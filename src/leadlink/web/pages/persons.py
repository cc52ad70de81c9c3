"""A person's page (every record, link and origin, and why each record is linked; its claims,
trips and payments), and the operator's forms on it: merge another person into this one (with
a preview: the merge done and rolled back, its counts and conflicts shown), undo a merge of one
of its retired keys, and split records off to a new person (with a preview too). Each calls
the service behind `leadlink persons merge|unmerge|split`, audited under the operator."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from leadlink.errors import LeadlinkError
from leadlink.pipeline.money.person import person_view
from leadlink.pipeline.resolution import review as review_service
from leadlink.pipeline.resolution.merge import merge_persons, unmerge_persons
from leadlink.pipeline.resolution.split import split_person
from leadlink.web.deps import EngineDep, NowDep, PageDep, SettingsDep, ViewerDep
from leadlink.web.i18n import Translator
from leadlink.web.pages.common import (
    FormWriterDep,
    error_page,
    flash,
    local_url,
    respond,
    translator,
)
from leadlink.web.pages.review import explanation, model_prior

router = APIRouter(include_in_schema=False)
# The counts a preview names, in the order a person reads them.
MERGE_COUNTS = ("links_moved", "origins_moved", "review_items_moved", "claims_moved",
                "claims_rejected", "payments_moved")  # fmt: skip
UNMERGE_COUNTS = ("links_restored", "links_kept", "origins_restored", "review_items_restored",
                  "claims_restored")  # fmt: skip
SPLIT_COUNTS = ("links_moved", "origins_moved", "review_items_moved", "claims_moved",
                "payments_moved", "quarantine_moved")  # fmt: skip


@router.get("/persons/{key}")
def person(
    request: Request,
    key: str,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
) -> Response:
    """``/persons/KEY`` (HTML) and ``/persons/KEY.json``: ``persons show --json`` (its
    ``limit`` and ``offset`` page the trip days) plus, per active record, why it is linked."""
    key = key.removesuffix(".json")

    def build() -> dict[str, Any]:
        return person_view(engine, settings, key, now=now, trips_limit=page.limit,
                           trips_offset=page.offset)  # fmt: skip

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        active = [link for link in data["links"] if link["active"]]
        prior = model_prior(engine)
        why = [{**link, "summary": (summary := review_service.summary(link.get("data") or {})),
                "explanation": explanation(link.get("evidence"), prior, summary)}
               for link in sorted(active, key=lambda k: (k["source"], k["source_pk"]))]  # fmt: skip
        return {"records": why, "past_links": [k for k in data["links"] if not k["active"]]}

    json_path = local_url(f"/persons/{quote(key, safe='')}.json")
    return respond(request, principal, "person.html", build, json_path=json_path, view=view)


@router.post("/persons/{key}/merge")
def merge(
    request: Request,
    key: str,
    writer: FormWriterDep,
    engine: EngineDep,
    now: NowDep,
    retire: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    force: Annotated[bool, Form()] = False,
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """Merge ``retire`` into this person (``action=merge``), or preview it (``preview``)."""
    t = translator(request)
    if isinstance(writer, str):  # a viewer, or no CSRF token: refused, as a page
        return error_page(request, None, 403, writer)
    preview = action != "merge"
    try:
        result = merge_persons(engine, key, retire.strip(), now=now, actor=writer.name,
                               reason=reason.strip() or "dashboard", dry_run=preview,
                               force=force)  # fmt: skip
    except LeadlinkError as exc:  # unknown key, two people on paper: say so on the page
        flash(request, "error", t("merge.failed", error=t.error(exc)))
        return _back(key)
    if result["status"] == "already_merged":
        flash(request, "info", t("merge.already", key=result["survivor"]))
    elif preview:
        flash(request, "info", t("merge.preview", retired=result["retired"],
                                 survivor=result["survivor"], counts=_counts(t, result,
                                                                             MERGE_COUNTS),
                                 conflicts=_conflicts(t, result["conflicts"])))  # fmt: skip
    else:
        flash(request, "ok", t("merge.done", retired=result["retired"],
                               survivor=result["survivor"], audit=result["audit_id"]))  # fmt: skip
    return _back(result["survivor"] or key)


@router.post("/persons/{key}/unmerge")
def unmerge(
    request: Request,
    key: str,
    writer: FormWriterDep,
    engine: EngineDep,
    now: NowDep,
    reason: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """Undo the merge of the retired key ``key`` (``action=unmerge``), or preview it."""
    t = translator(request)
    if isinstance(writer, str):
        return error_page(request, None, 403, writer)
    preview = action != "unmerge"
    try:
        result = unmerge_persons(engine, key, now=now, actor=writer.name,
                                 reason=reason.strip() or "dashboard", dry_run=preview)  # fmt: skip
    except LeadlinkError as exc:
        flash(request, "error", t("merge.unmerge_failed", error=t.error(exc)))
        return _back(key)
    words = {"restored": result["restored"], "survivor": result["survivor"],
             "counts": _counts(t, result, UNMERGE_COUNTS)}  # fmt: skip
    if preview:
        flash(request, "info", t("merge.unmerge_preview", **words))
        return _back(result["survivor"])
    flash(request, "ok", t("merge.unmerged", **words, audit=result["audit_id"]))
    return _back(result["restored"])


@router.post("/persons/{key}/split")
def split(
    request: Request,
    key: str,
    writer: FormWriterDep,
    engine: EngineDep,
    now: NowDep,
    record: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """Split the checked records (``SOURCE:PK``) off to a new person (``action=split``), or
    preview it (``preview``: done and rolled back); after a split, the new person's page."""
    t = translator(request)
    if isinstance(writer, str):
        return error_page(request, None, 403, writer)
    preview = action != "split"
    try:
        result = split_person(engine, key, record or [], now=now, actor=writer.name,
                              reason=reason.strip() or "dashboard", dry_run=preview)  # fmt: skip
    except LeadlinkError as exc:  # no record checked, every record, one not of this person
        flash(request, "error", t("split.failed", error=t.error(exc)))
        return _back(key)
    words = {"key": result["person_key"], "new": result["new_person_key"],
             "records": ", ".join(result["records"]),
             "counts": _counts(t, result, SPLIT_COUNTS)}  # fmt: skip
    if preview:
        flash(request, "info", t("split.preview", **words))
        return _back(result["person_key"])
    flash(request, "ok", t("split.done", **words, audit=result["audit_id"]))
    return _back(result["new_person_key"])


def _back(key: str) -> Response:
    return RedirectResponse(local_url(f"/persons/{quote(key, safe='')}"), 303)


def _counts(t: Translator, result: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{t.code('merge_count', k)}: {t.formatter('num')(result[k])}"
                     for k in keys)  # fmt: skip


def _conflicts(t: Translator, conflicts: list[dict[str, Any]]) -> str:
    if not conflicts:
        return t("merge.no_conflicts")
    return "; ".join(
        t("merge.conflict", field=t.code("conflict", c["field"]), keep=", ".join(c["keep"]),
          retire=", ".join(c["retire"]),
          blocks=t("merge.blocks") if c["blocks"] else t("merge.warns"))
        for c in conflicts
    )  # fmt: skip
