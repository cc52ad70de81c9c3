"""GET /api/persons and /api/persons/{person_key}: find persons, and see one whole."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.pipeline.money.person import MAX_TRIPS_SHOWN, TRIPS_SHOWN, person_view
from leadlink.pipeline.resolution.explain import rule_label
from leadlink.pipeline.resolution.review import summary
from leadlink.store import listing
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal, paged
from leadlink.web.routes.api_common import (
    DocumentParam,
    Item,
    Page,
    PageDep,
    PhoneParam,
    key_path,
    not_found,
    text_filter,
    window,
)

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(
    prefix="/api/persons", tags=["persons"], dependencies=[Depends(current_principal)]
)

PersonSort = Literal["person_key", "-created_at", "created_at"]


class PersonItem(Item):
    """A live person (retired keys are not listed: they resolve to their survivor).

    ``name``, ``phone``, ``document`` come from the person's first driver record (else its
    first record); ``sources`` counts its actively linked records per source.
    """

    person_key: str
    created_at: str
    records: int
    sources: dict[str, int]
    name: str | None
    phone: str | None
    document: str | None


@router.get("", response_model=Page[PersonItem], summary="Persons, searched and paged")
def list_persons(
    engine: EngineDep,
    page: PageDep,
    key: Annotated[str | None, text_filter("Person key prefix.", 36)] = None,
    name: Annotated[
        str | None, text_filter("Words of a name on any of the person's records.")
    ] = None,
    phone: PhoneParam = None,
    document: DocumentParam = None,
    sort: Annotated[PersonSort, Query(description="Order; `-` is descending.")] = "person_key",
) -> dict[str, object]:
    filters = listing.PersonFilter(key=key, name=name, phone=phone, document=document)
    total, rows = listing.persons(engine, filters, window(page), sort)
    for r in rows:
        shown = _display(r.pop("record_list"))
        r.update(name=shown["name"], phone=shown["phone"], document=shown["document"])
    return paged(list(rows), total, page)


def _display(records: list[dict[str, Any]]) -> dict[str, str | None]:
    if not records:
        return {"name": None, "phone": None, "document": None}
    first = next((r for r in records if r["source"] == "drivers"), records[0])
    data = first["data"]
    document = data.get("document") or data.get("license") or data.get("driver_license")
    return {**summary(data), "document": document or None}


@router.get(
    "/{person_key}",
    summary="One person: every record, link, origin and explanation",
    responses=not_found("person"),
)
def get_person(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    person_key: Annotated[str, key_path("A person key (a retired one too).", 36)],
    trips_limit: Annotated[
        int, Query(ge=1, le=MAX_TRIPS_SHOWN, description="Trip days listed (newest first).")
    ] = TRIPS_SHOWN,
    trips_offset: Annotated[int, Query(ge=0, description="Trip days skipped.")] = 0,
) -> dict[str, Any]:
    """The person (``leadlink persons show KEY --json``) with, per active record, its fields,
    its link and why it is linked; every link ever (``links``, active or not, merged ones
    included), every origin with its history; its money: ``claims`` (milestone order, with
    their window's close and expiry) and ``claim_totals`` (what ``leadlink claims --person KEY
    --json`` totals), ``trips`` (``summary``, and one page of trip days in ``items``) and the
    ``payments`` of its claims.

    A retired key (merged into another person) answers its survivor: ``was_retired`` is true,
    ``requested`` is the key asked for and ``person_key`` the survivor's. 404 if unknown.
    """
    shown = person_view(engine, settings, person_key, now=now, trips_limit=trips_limit,
                        trips_offset=trips_offset)  # NotFoundError -> 404  # fmt: skip
    live = shown["person_key"]
    merged_from = {(r["source"], r["source_pk"]): r["merged_from"] for r in shown["records"]}
    records = []
    for r in listing.linked_records(engine, live):
        link = r["link"]
        evidence = link.pop("evidence")  # shown once, in the explanation
        link["merged_from"] = merged_from.get((r["source"], r["source_pk"]))
        records.append({
            **r,
            "explanation": {
                "status": "linked", "rule": link["rule"], "rule_label": rule_label(link["rule"]),
                "score": link["score"], "confidence": link["confidence"],
                "evidence": evidence,
            },
        })  # fmt: skip
    note = f"{person_key} was retired into {live}" if shown["was_retired"] else None
    return {**shown, "note": note, "records": records}
