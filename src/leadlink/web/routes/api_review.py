"""GET /api/review and /api/review/{id}: the review queue, each pair with every candidate of its
record side by side. (Accept and reject are POSTs in ``api_writes``.)"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine

from leadlink.errors import NotFoundError
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.explain import explain, rule_label
from leadlink.store import listing_ops
from leadlink.web.deps import EngineDep, NowDep, SettingsDep, current_principal
from leadlink.web.routes.api_common import (
    Item,
    Page,
    PageDep,
    SummaryTable,
    id_path,
    not_found,
)

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api/review", tags=["review"], dependencies=[Depends(current_principal)])

ReviewStatus = Literal["open", "accepted", "rejected", "superseded", "all"]


class ReviewEntry(Item):
    """A proposed pair (``leadlink review list --json``'s item): the ``record``, the proposed
    ``person`` (key, number of records, a few shown), ``rule``, ``score``, ``evidence``,
    ``deadline`` (the lead's claim deadline) and ``days_left``, ``at_stake`` (soles the lead
    could still claim if linked to this person; None once decided); plus ``candidates``: every
    pair proposed for the same record (this one included), best first, each with its rule's
    label, its evidence (what agreed, model match weights) and its person's records."""

    id: int
    status: str
    record: dict[str, Any]
    person_key: str
    rule: str
    score: float
    deadline: str | None
    days_left: int | None
    at_stake: float | None
    evidence: dict[str, Any]
    candidates: list[dict[str, Any]]


class ReviewPage(Page[ReviewEntry]):
    """``at_stake``: soles the whole open queue holds, ``staked``: open items holding any;
    ``summary_table``: when the figures were computed (``lagging``: they may be behind)."""

    status: ReviewStatus
    at_stake: float
    staked: int
    summary_table: SummaryTable | None


@router.get("", response_model=ReviewPage,
            summary="The review queue, most money at stake first")  # fmt: skip
def list_review(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    status: Annotated[ReviewStatus, Query(description="Item status, or `all`.")] = "open",
) -> dict[str, Any]:
    found = review.list_items(
        engine, settings, status=status, limit=page.limit, offset=page.offset, now=now
    )
    _with_candidates(engine, found["items"])
    return found


@router.get(
    "/{item_id}",
    summary="One review item, its candidates and its record explained",
    responses=not_found("review item"),
)
def get_review_item(
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    item_id: Annotated[int, id_path("Review item id.")],
) -> dict[str, Any]:
    """The item as in the list, plus ``explanation``: what ``leadlink explain`` says of its
    record (unmatched reason, candidates, every review item). 404 if unknown."""
    found = listing_ops.review_item(engine, item_id)
    if found is None:
        raise NotFoundError(f"no review item {item_id}")
    item, record = found
    out = review.item_dict(item, record, now.date(), review.stake_cut(settings, now.date()))
    _with_candidates(engine, [out])
    out["explanation"] = explain(engine, record.source, record.source_pk)
    return out


def _with_candidates(engine: Engine, items: list[dict[str, Any]]) -> None:
    """Give each item every pair proposed for its record, with each candidate's records."""
    by_record = listing_ops.review_candidates(engine, [i["record"]["id"] for i in items])
    for item in items:  # two items of one record share its candidates: copy, never mutate
        item["candidates"] = [_candidate(c) for c in by_record[item["record"]["id"]]]


def _candidate(pair: dict[str, Any]) -> dict[str, Any]:
    shown = pair["records"][: review.PERSON_RECORDS_SHOWN]
    return {
        **{k: v for k, v in pair.items() if k != "records"},
        "rule_label": rule_label(pair["rule"]),
        "records": [
            {"source": r["source"], "source_pk": r["source_pk"], **review.summary(r["data"])}
            for r in shown
        ],
    }
