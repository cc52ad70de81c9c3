"""The SQL of review items a model settles (`match --rematch`) and of a person undoing that.

Kept apart from store/review.py (a person's queue): these decisions are made set-based, a
chunk of records at a time, in the transaction `match` writes the chunk's links in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import Link, Origin, ReviewItem, Unmatched
from leadlink.store.review import BATCH, MODEL_ACTOR_PREFIX


def by_model(decided_by: str | None) -> bool:
    return bool(decided_by and decided_by.startswith(MODEL_ACTOR_PREFIX))


def open_items_of(
    session: Session, record_ids: Collection[int]
) -> list[tuple[int, int, str, str, float]]:
    """Open items of these records: (id, record id, person key, rule, score), by id."""
    ids = sorted(set(record_ids))
    out: list[tuple[int, int, str, str, float]] = []
    for start in range(0, len(ids), BATCH):
        rows = session.execute(
            select(ReviewItem.id, ReviewItem.record_id, ReviewItem.person_key, ReviewItem.rule,
                   ReviewItem.score)
            .where(ReviewItem.record_id.in_(ids[start : start + BATCH]),
                   ReviewItem.status == "open")
            .order_by(ReviewItem.id)
        )  # fmt: skip
        out.extend((r[0], r[1], r[2], r[3], r[4]) for r in rows)
    return out


def settle(
    session: Session, item_ids: list[int], *, status: str, actor: str, note: str,
    now: dt.datetime,
) -> int:  # fmt: skip
    """Close these open items as ``status`` decided by ``actor`` (a model); how many closed."""
    done = 0
    for start in range(0, len(item_ids), BATCH):
        result = session.execute(
            update(ReviewItem)
            .where(ReviewItem.id.in_(item_ids[start : start + BATCH]),
                   ReviewItem.status == "open")
            .values(status=status, decided_by=actor, decided_at=now, note=note)
        )  # fmt: skip
        done += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return done


def undo_accept(session: Session, item: ReviewItem, *, now: dt.datetime) -> dict[str, Any]:
    """Take back the link a model made when it accepted ``item``: the link is deactivated
    (kept, so the record's history shows it), the record is unmatched again with the reason
    it was proposed for, and the origin that link gave the person is returned for the caller
    to discard. Returns the link's id (None if it is gone) and that origin."""
    link = session.scalar(
        select(Link).where(Link.record_id == item.record_id, Link.active,
                           Link.person_key == item.person_key)
    )  # fmt: skip
    if link is None:
        return {"link_id": None, "origin": None}
    session.execute(update(Link).where(Link.id == link.id).values(active=False))
    evidence = item.evidence or {}
    session.execute(delete(Unmatched).where(Unmatched.record_id == item.record_id))
    session.execute(insert(Unmatched).values(
        record_id=item.record_id, reason=evidence.get("reason") or "WEAK_MATCH_ONLY",
        message="a person rejected the pair the model had accepted",
        candidates=evidence.get("candidates") or [], band="review", run_id=None,
        updated_at=now,
    ))  # fmt: skip
    origin = session.scalar(
        select(Origin).where(Origin.link_id == link.id, Origin.person_key == item.person_key)
    )
    return {"link_id": link.id, "origin": origin}
