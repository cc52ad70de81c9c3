"""GET /api/search?q=: leads and the persons behind them, by lead id, phone, DNI or other
document, plate or full name (the dashboard's search box; docs/api-read.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BaseModel

from leadlink.pipeline.resolution.search import MAX_LENGTH, MIN_LENGTH, search
from leadlink.web.deps import EngineDep, current_principal
from leadlink.web.routes.api_common import Item, searchable

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(current_principal)])


class SearchItem(Item):
    """A record found: its source and id in it (a lead id, a driver id), name, phone, plate,
    date, state (``linked``, ``review``, ``unmatched`` with ``reason``, ``pending``), person,
    and why it was found: ``matched_on`` (``id``, ``phone``, ``document``, ``plate``, ``name``,
    or ``person``: a lead of a person found, ``via`` the record that found it)."""

    source: str
    source_pk: str
    name: str | None
    phone: str | None
    plate: str | None
    date: str | None
    status: str
    person_key: str | None
    rule: str | None
    reason: str | None
    band: str | None
    matched_on: list[str]
    via: str | None


class SearchResult(BaseModel):
    """``read_as``: what the query was read as, normalised (``phone`` in E.164, ``document``,
    ``plate``, ``name`` readings as ``[given, family1, family2]``); ``items``: leads first,
    newest first, at most 50 (``total`` found, ``truncated`` when a lookup hit its bound);
    ``persons``: the persons of the records the query itself matched."""

    query: str
    read_as: dict[str, Any]
    items: list[SearchItem]
    total: int
    persons: list[str]
    truncated: bool


@router.get("/search", response_model=SearchResult, summary="Find leads and persons")
def search_records(
    engine: EngineDep,
    q: Annotated[
        str,
        Query(
            description="A lead id, phone, DNI or document, plate, or a full name.",
            min_length=MIN_LENGTH,
            max_length=MAX_LENGTH,
        ),
        AfterValidator(searchable),
    ],
) -> dict[str, Any]:
    return search(engine, q)  # fewer than 3 characters once trimmed: UsageError -> 422
