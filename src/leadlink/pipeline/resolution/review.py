"""The review queue: review-band pairs wait for a person, who accepts or rejects them.

``queue_decisions`` is called by ``persist.write_decisions`` inside the caller's transaction,
so an item is proposed (or closed) together with the verdict that produced it. ``list_items``,
``accept`` and ``reject`` are the services behind ``leadlink review`` and the API; each
decision is one transaction that also writes its ``audit_log`` row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, Phrase, Term, UsageError
from leadlink.matching import Reason
from leadlink.matching.decision import Decision
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.pipeline.resolution.settle import settle
from leadlink.settings import Settings
from leadlink.store import audit, origins, review_model, review_stake
from leadlink.store import review as review_store
from leadlink.store.db import transaction
from leadlink.store.models import ReviewItem, SourceRecord
from leadlink.store.review_model import by_model

LINKED = ("link", "found")
# How many of a candidate person's records `review list` shows.
PERSON_RECORDS_SHOWN = 5


# --------------------------------------------------------------------------- proposing


def queue_decisions(
    session: Session,
    decided: Sequence[Decision],
    *,
    run_id: int | None,
    now: dt.datetime,
    window_days: int,
    settle_by: str | None = None,
) -> None:
    """Turn one chunk of decisions into review items, in the caller's transaction.

    ``settle_by`` (a model's actor, `match --rematch`): open items the verdicts now decide
    are settled by that model first (pipeline/resolution/settle.py).

    A review-band verdict proposes its best candidate; MULTIPLE_CANDIDATES also proposes every
    candidate scoring at least the runner-up (the engine could not tell them apart, a person
    can). Open items of records decided otherwise now (linked, or the pair no longer
    proposed) are superseded. An ERROR verdict says nothing about the pairs: its items stay.
    An item's deadline is its record's date plus ``window_days`` (the caller's claim window).
    """
    proposals = [p for d in decided for p in _proposals(d)]
    dates = review_store.event_dates(session, [p["record_id"] for p in proposals])
    for p in proposals:
        day = dates.get(p["record_id"])
        p["deadline"] = None if day is None else day + dt.timedelta(days=window_days)
    review_store.propose(session, proposals, run_id=run_id, now=now)
    if settle_by is not None:
        settle(session, decided, actor=settle_by, now=now)
    judged = [d["rid"] for d in decided if d.get("reason") != Reason.ERROR.value]
    keep = {(p["record_id"], p["person_key"]) for p in proposals}
    review_store.supersede(session, judged, now=now, keep=keep)


def _proposals(d: Decision) -> list[dict[str, Any]]:
    if d["decision"] in LINKED or d.get("band") != "review" or not d.get("person_key"):
        return []
    score = d["score"]  # a review band is a score's band: never None there
    if score is None:
        raise ValueError(f"the review-band decision of record {d['rid']} has no score")
    evidence = _as_json(d.get("evidence"), {})
    candidates = _as_json(d.get("candidates"), [])
    context = {"reason": d.get("reason"), "candidates": candidates}
    out = [{"record_id": d["rid"], "person_key": d["person_key"], "rule": d["rule"],
            "score": float(score), "evidence": {**evidence, **context}}]  # fmt: skip
    if d.get("reason") == Reason.MULTIPLE_CANDIDATES.value and len(candidates) > 1:
        runner_up = float(candidates[1]["score"])
        for c in candidates[1:]:
            if float(c["score"]) >= runner_up and c["person_key"] != d["person_key"]:
                pair = {"rule": c["rule"], "score": c["score"], "candidate": c.get("cid")}
                out.append({"record_id": d["rid"], "person_key": c["person_key"],
                            "rule": c["rule"], "score": float(c["score"]),
                            "evidence": {**pair, **context}})  # fmt: skip
    return out


def _as_json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    return json.loads(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- reading


def list_items(
    engine: Engine,
    settings: Settings,
    *,
    status: str = "open",
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One page of the queue: ``{"items": [...], "total": n, "at_stake": soles, ...}``.

    Open items come by money at stake (most first), then claim deadline (nearest first), then
    id (docs/review.md); ``at_stake`` is what the whole open queue holds and ``staked`` how
    many open items hold any, whatever ``status`` is shown; ``summary_table`` says when the
    figures were computed and whether a job may have changed them since. ``status`` is one
    of open, accepted, rejected, superseded (in deadline order), or ``all``.
    """
    if status != "all" and status not in review_store.STATUSES:
        known = ", ".join(review_store.STATUSES)
        raise UsageError("unknown status {status!r}; one of: all, {known}",
                         code="review_status_unknown", status=status, known=known)
    if limit < 1 or offset < 0:
        raise UsageError("limit must be at least 1 and offset at least 0", code="page_bounds")
    moment = now or dt.datetime.now(dt.UTC)
    today, cut = moment.date(), stake_cut(settings, moment.date())
    summaries.ensure(engine, settings, moment, views=("review",))
    with transaction(engine) as session:
        staked, at_stake = review_stake.total(session, cut)
        if status == "open":
            total = review_store.count(session, "open")
            page = review_stake.open_page(session, cut, staked, limit, offset)
        else:
            total, page = review_store.list_page(
                session, status=None if status == "all" else status, limit=limit, offset=offset
            )
        persons = review_store.person_records(session, {item.person_key for item, _ in page})
        fresh = summaries.freshness(session).get("review")
    items = []
    for item, record in page:
        row = item_dict(item, record, today, cut)
        records = persons.get(item.person_key, [])
        row["person"] = {
            "person_key": item.person_key,
            "records": len(records),
            "shown": [
                {"source": s, "source_pk": pk, **summary(data)}
                for s, pk, data in records[:PERSON_RECORDS_SHOWN]
            ],
        }
        items.append(row)
    return {"items": items, "total": total, "status": status, "limit": limit, "offset": offset,
            "at_stake": at_stake, "staked": staked, "summary_table": fresh}  # fmt: skip


def stake_cut(settings: Settings, today: dt.date) -> dt.date:
    """Items whose deadline is on or before this day hold nothing: their lead's claims would
    be expired (deadline + expiry)."""
    return today - dt.timedelta(days=settings.claim_expiry_days)


def summary(data: dict[str, Any]) -> dict[str, str | None]:
    """Name, phone, plate, car, identity document and driver id of a record, whatever its
    source calls them (None where it has none: the review page tells a value that is missing
    from one that disagrees)."""

    def pick(*keys: str) -> str | None:
        values = [str(data.get(k) or "").strip() for k in keys]
        text = " ".join(v for v in values if v)
        return text or None

    return {
        "name": pick("first_name", "middle_name", "last_name") or pick("driver_name"),
        "phone": pick("phone") or pick("driver_phone"),
        "plate": pick("plate"),
        "car": pick("car_brand", "car_model"),
        "document": pick("document") or pick("license") or pick("driver_license"),
        "driver_id": pick("driver_id"),
    }


def item_dict(
    item: ReviewItem, record: SourceRecord, today: dt.date, cut: dt.date
) -> dict[str, Any]:
    """An item as every surface shows it; ``at_stake`` (``review_stake.shown``) is None once
    decided. ``cut``: ``stake_cut``."""
    return {
        "id": item.id,
        "status": item.status,
        "record": {"id": record.id, "source": record.source, "source_pk": record.source_pk,
                   "event_date": _iso(record.event_date), **summary(record.data)},
        "person_key": item.person_key,
        "rule": item.rule,
        "score": item.score,
        "deadline": _iso(item.deadline),
        "days_left": None if item.deadline is None else (item.deadline - today).days,
        "at_stake": review_stake.shown(item, cut),
        "evidence": item.evidence,
        "created_at": _iso(item.created_at),
        "decided_at": _iso(item.decided_at),
        "decided_by": item.decided_by,
        "note": item.note,
    }  # fmt: skip


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------- deciding


def _open_item(
    session: Session, item_id: int, *, undoes: str | None = None
) -> tuple[ReviewItem, SourceRecord]:
    """The item, open; or, with ``undoes``, one a model closed with that status (a person may
    undo what a model decided, pipeline/resolution/settle.py)."""
    found = review_store.item_for_update(session, item_id)
    if found is None:
        raise NotFoundError("no review item {id}", code="review_item_unknown", id=item_id)
    item, record = found
    undoable = undoes is not None and item.status == undoes and by_model(item.decided_by)
    if item.status != "open" and not undoable:
        when = f"{item.decided_at:%Y-%m-%d %H:%M}" if item.decided_at else "?"
        raise UsageError("review item {id} is already {status} (by {by}, at {when})",
                         code="review_item_decided", id=item_id,
                         status=Term("item_status", item.status),
                         by=item.decided_by or "?", when=when)
    return item, record


def _need_actor(actor: str) -> str:
    actor = actor.strip()
    if not actor:
        raise UsageError("a decision needs who made it (--by NAME)", code="decision_needs_actor")
    if by_model(actor):  # reserved: a model's decisions are not labels, a person's are
        raise UsageError("a decision needs who made it (--by NAME)", code="decision_needs_actor")
    return actor


def accept(
    engine: Engine,
    settings: Settings,
    item_id: int,
    *,
    actor: str,
    note: str | None = None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Link the item's record to its person, with origin and audit, in one transaction.

    If the record got an active link since the item was proposed, the item is closed as
    superseded (and audited) and a UsageError names the link it lost to.
    """
    actor = _need_actor(actor)
    stale: Phrase | None = None
    result: dict[str, Any] = {}
    with transaction(engine) as session:
        item, record = _open_item(session, item_id, undoes="rejected")
        detail: dict[str, Any] = {"record": f"{record.source}/{record.source_pk}",
                                  "record_id": record.id, "person_key": item.person_key,
                                  "rule": item.rule, "score": item.score, "note": note}  # fmt: skip
        if item.status != "open":
            detail["undid"] = item.decided_by
        existing = review_store.active_link(session, record.id)
        person_key = review_store.surviving_person(session, item.person_key)
        if existing is not None or person_key is None:
            stale = (
                Phrase("record {record} is already linked to person {person} (rule {rule})",
                       code="review_stale_linked", record=detail["record"],
                       person=existing.person_key, rule=existing.rule)
                if existing is not None
                else Phrase("person {person} no longer exists", code="review_stale_gone",
                            person=item.person_key)
            )  # fmt: skip
            review_store.close(session, item, status="superseded", actor=actor, note=note, now=now)
            audit.record(session, actor=actor, action="review_stale",
                        target=f"review_item:{item.id}", detail={**detail, "why": str(stale)},
                        now=now)  # fmt: skip
        else:
            evidence = {**item.evidence, "accepted_by": actor, "review_item": item.id}
            if person_key != item.person_key:
                evidence["proposed_person"] = item.person_key
            link_id, origin_id = review_store.write_accepted_link(
                session, item, person_key=person_key, evidence=evidence, actor=actor, now=now
            )
            review_store.close(session, item, status="accepted", actor=actor, note=note, now=now)
            superseded = review_store.supersede_others(session, item, now)
            detail.update(person_key=person_key, link_id=link_id, origin_id=origin_id,
                          superseded=superseded)  # fmt: skip
            summaries.touch(session, settings, now, leads={record.id},
                            persons={person_key, item.person_key})  # fmt: skip
            audit.record(session, actor=actor, action="review_accept",
                        target=f"review_item:{item.id}", detail=detail, now=now)  # fmt: skip
            result = {
                "item": item_dict(item, record, now.date(), stake_cut(settings, now.date())),
                "link": {"id": link_id, "record": detail["record"], "person_key": person_key,
                         "rule": review_store.ACCEPT_RULE, "score": item.score,
                         "confidence": "medium"},
                "origin_id": origin_id,
                "superseded": superseded,
            }  # fmt: skip
    if stale is not None:
        raise UsageError("review item {id} cannot be accepted: {why}; it is now marked "
                         "superseded", code="review_item_stale", id=item_id,
                         why=stale)  # fmt: skip
    return result


def reject(
    engine: Engine,
    settings: Settings,
    item_id: int,
    *,
    actor: str,
    note: str | None = None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Mark the pair rejected for good (it is never proposed again), audited.

    The record keeps its unmatched row and reason: it is still waiting for its person.
    """
    actor = _need_actor(actor)
    with transaction(engine) as session:
        item, record = _open_item(session, item_id, undoes="accepted")
        detail: dict[str, Any] = {"record": f"{record.source}/{record.source_pk}",
                                  "record_id": record.id, "person_key": item.person_key,
                                  "rule": item.rule, "score": item.score, "note": note}  # fmt: skip
        if item.status == "accepted":  # the model linked it: the link is taken back
            detail.update(undid=item.decided_by, **_undo_model_link(session, item, actor, now))
        review_store.close(session, item, status="rejected", actor=actor, note=note, now=now)
        audit.record(session, actor=actor, action="review_reject",
                    target=f"review_item:{item.id}", detail=detail, now=now)  # fmt: skip
        summaries.touch(session, settings, now, leads={record.id}, persons={item.person_key})
        return {"item": item_dict(item, record, now.date(), stake_cut(settings, now.date()))}


def _undo_model_link(
    session: Session, item: ReviewItem, actor: str, now: dt.datetime
) -> dict[str, Any]:
    """Deactivate the link a model's accept made; the origin it gave the person is discarded
    (journaled and audited as a person's origin decision)."""
    undone = review_model.undo_accept(session, item, now=now)
    origin = undone["origin"]
    if origin is not None:
        origins.decide(session, origin, status="discarded", actor=actor,
                       note=f"review item {item.id}: the pair is not a match", now=now)  # fmt: skip
    return {"link_id": undone["link_id"], "origin_id": None if origin is None else origin.id}


# --------------------------------------------------------------------------- invariant


def check_review(engine: Engine, _: Settings) -> CheckResult:
    """`check review`: no open item on a linked record, every accepted item has its
    review_accept link, every accept/reject has its audit_log row, statuses are known."""

    with transaction(engine) as session:
        parts = review_store.invariant_violations(session)
    total = sum(n for n, _ in parts)
    examples = [e for _, ex in parts for e in ex][: review_store.EXAMPLES]
    return CheckResult("review", total == 0,
                       "review items consistent with links, decisions audited",
                       total, examples)  # fmt: skip
