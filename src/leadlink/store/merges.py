"""The SQL of merging two persons: one survives, the other is retired into it.

A merge never deletes a row. The retired person's active links are deactivated and an
equivalent active link to the survivor is inserted for each (the old row stays, inactive, for
history); its origins, review items, claims, payments and quarantine rows are repointed to the
survivor, each origin journaled; where the survivor already holds the same slot (origin of the
same record, review item of the same record, claim of the same milestone) one row is kept and
the other stays on the retired key, marked as no longer in force. Every statement is set-based
(UPDATE ... WHERE, INSERT ... SELECT, executemany) and runs in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Result, and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session, aliased

from leadlink.errors import NotFoundError, UsageError
from leadlink.store import audit
from leadlink.store.models import (
    Claim,
    Link,
    Origin,
    OriginHistory,
    Payment,
    Person,
    Quarantine,
    ReviewItem,
)
from leadlink.store.person_keys import live_key

# An origin of the retired person for a record whose origin the survivor already holds: the
# survivor's is kept, this one stays on the retired key (never deleted), discarded (one of the
# origin statuses of store.origins), and journaled.
ORIGIN_DUPLICATE_STATUS = "discarded"
# Claims still in force (a claim in these states on a retired key would be billed twice).
OPEN_CLAIM_STATUSES = ("expected", "generated")
# Which of two claims of one milestone survives a merge: the one furthest along.
CLAIM_RANK = {"paid": 4, "generated": 3, "expected": 2, "expired": 1, "rejected": 0}
LIMIT = 20
IN_CHUNK = 500


def persons(session: Session, keys: Sequence[str], *, lock: bool = False) -> dict[str, Person]:
    """The person rows, locked FOR UPDATE on PostgreSQL when asked (two merges of one person
    must not interleave); SQLite serialises writers anyway."""
    query = select(Person).where(Person.person_key.in_(list(keys))).order_by(Person.person_key)
    if lock:
        query = query.with_for_update()
    return {p.person_key: p for p in session.scalars(query)}


def older_first(a: Person, b: Person) -> tuple[Person, Person]:
    """(survivor, retired): the older person survives; a tie goes to the smaller key."""
    return (a, b) if (a.created_at, a.person_key) <= (b.created_at, b.person_key) else (b, a)


def merge(
    session: Session,
    survivor: str,
    retired: str,
    *,
    run_id: int | None,
    now: dt.datetime,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Retire ``retired`` into ``survivor``; return what moved. Merging again is a no-op.

    Both keys must be persons and the survivor live (callers resolve chains with
    ``live_keys``; automatic merges let the older survive with ``older_first``, an operator
    chooses). The audit row's ``journal`` names every row moved, for ``store.unmerge``.
    """
    if survivor == retired:
        raise UsageError("cannot merge person {key} into itself", code="merge_into_itself",
                         key=survivor)
    rows = persons(session, [survivor, retired], lock=True)
    for key in (survivor, retired):
        if key not in rows:
            raise NotFoundError("no person {key}", code="person_unknown", key=key)
    keep, gone = rows[survivor], rows[retired]
    if keep.retired_into is not None:
        raise UsageError("{key} is retired (into {into}): it cannot survive",
                         code="merge_survivor_retired", key=survivor, into=keep.retired_into)
    result: dict[str, Any] = {"survivor": survivor, "retired": retired}
    if gone.retired_into is not None:
        if live_key(session, retired) == survivor:
            return {**result, "status": "already_merged"}
        raise UsageError("{key} is already retired into {into}", code="merge_already_retired",
                         key=retired, into=gone.retired_into)
    detail = {"from": retired, "to": survivor}
    result["status"] = "merged"
    # Every row the merge moves or marks, by id, so that `persons unmerge` can put it back.
    journal: dict[str, Any] = {}
    result["links_moved"] = _move_links(session, survivor, retired, journal,
                                        run_id=run_id, now=now)  # fmt: skip
    result.update(_move_origins(session, survivor, retired, detail, journal,
                                run_id=run_id, now=now))  # fmt: skip
    result.update(_move_review_items(session, survivor, retired, journal, now=now))
    result.update(_move_claims(session, survivor, retired, journal, now=now))
    result["payments_moved"] = _repoint(session, Payment, retired, survivor, journal)
    result["quarantine_moved"] = _repoint(session, Quarantine, retired, survivor, journal)
    # Chains stay one hop long: whoever was retired into the retired key now points further.
    journal["chain"] = list(session.scalars(
        select(Person.person_key).where(Person.retired_into == retired).order_by(Person.person_key)
    ))  # fmt: skip
    result["chain_repointed"] = len(journal["chain"])
    session.execute(
        update(Person).where(Person.retired_into == retired).values(retired_into=survivor)
    )
    session.execute(
        update(Person).where(Person.person_key == retired).values(retired_into=survivor)
    )
    result["audit_id"] = audit.record(
        session, actor=actor, action="merge", target=retired, now=now,
        detail={**result, "reason": reason, "run_id": run_id, "journal": journal},
    )
    return result


def _move_links(
    session: Session,
    survivor: str,
    retired: str,
    journal: dict[str, Any],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """Deactivate the retired person's active links; insert the same links to the survivor.

    A new row (not an UPDATE of person_key) so the record's history keeps who it was linked
    to, by which run; the new evidence names the merge and the link it replaces.
    """
    old = session.execute(
        select(Link.id, Link.record_id, Link.rule, Link.score, Link.confidence, Link.evidence)
        .where(Link.person_key == retired, Link.active)
        .order_by(Link.id)
    ).all()
    journal["links"] = [r[0] for r in old]  # the rows deactivated; the new ones name them
    return relink(session, old, survivor, {"merged_from": retired}, run_id=run_id, now=now)


def relink(
    session: Session,
    old: Sequence[Any],
    person_key: str,
    provenance: dict[str, str],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """Deactivate the links ``old`` (rows of id, record_id, rule, score, confidence,
    evidence) and insert the same links to ``person_key``, their evidence naming what moved
    them (``provenance``) and the link each replaces: merge and split alike."""
    if not old:
        return 0
    ids = [r[0] for r in old]
    for start in range(0, len(ids), IN_CHUNK):
        session.execute(
            update(Link).where(Link.id.in_(ids[start : start + IN_CHUNK])).values(active=False)
        )
    session.execute(
        insert(Link),
        [
            {"record_id": rid, "person_key": person_key, "rule": rule, "score": score,
             "confidence": conf, "run_id": run_id, "active": True, "created_at": now,
             "evidence": {**(evidence or {}), **provenance, "previous_link": lid}}
            for lid, rid, rule, score, conf, evidence in old
        ],
    )  # fmt: skip
    return len(old)


def _move_origins(
    session: Session,
    survivor: str,
    retired: str,
    detail: dict[str, str],
    journal: dict[str, Any],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> dict[str, int]:
    """Origins follow the person; each move is journaled. None is ever deleted."""
    theirs = aliased(Origin)
    survivor_has = exists().where(
        and_(theirs.person_key == survivor, theirs.record_id == Origin.record_id)
    )
    movable = list(session.scalars(
        select(Origin.id).where(Origin.person_key == retired, ~survivor_has).order_by(Origin.id)
    ))  # fmt: skip
    duplicate_rows = session.execute(
        select(Origin.id, Origin.status).where(Origin.person_key == retired, survivor_has,
                                               Origin.status != ORIGIN_DUPLICATE_STATUS)
        .order_by(Origin.id)
    ).all()  # fmt: skip
    duplicate = [r[0] for r in duplicate_rows]
    journal["origins"] = movable
    journal["origins_discarded"] = [[r[0], r[1]] for r in duplicate_rows]  # with their status
    if movable:
        # The origin now hangs on the record's new active link (same record, survivor).
        new_link = (
            select(Link.id)
            .where(Link.record_id == Origin.record_id, Link.person_key == survivor, Link.active)
            .scalar_subquery()
        )
        session.execute(
            update(Origin)
            .where(Origin.id.in_(movable))
            .values(person_key=survivor, link_id=func.coalesce(new_link, Origin.link_id))
        )
        journal_origins(session, movable, detail, run_id=run_id, now=now)
    if duplicate:
        session.execute(
            update(Origin).where(Origin.id.in_(duplicate)).values(status=ORIGIN_DUPLICATE_STATUS)
        )
        journal_origins(session, duplicate, {**detail, "kept": "survivor's origin of this record"},
                 run_id=run_id, now=now)  # fmt: skip
    return {"origins_moved": len(movable), "origins_duplicate": len(duplicate)}


def journal_origins(
    session: Session,
    origin_ids: list[int],
    detail: dict[str, str],
    *,
    run_id: int | None,
    now: dt.datetime,
    event: str = "merged",
) -> None:
    """One origin_history row per origin: ``event`` (merged, unmerged) with its detail."""
    session.execute(
        insert(OriginHistory).from_select(
            ["origin_id", "event", "detail", "run_id", "at"],
            select(Origin.id, literal(event), literal(detail, OriginHistory.detail.type),
                   literal(run_id, Origin.run_id.type), literal(now, OriginHistory.at.type))
            .where(Origin.id.in_(origin_ids)),
        )
    )  # fmt: skip


def _move_review_items(
    session: Session, survivor: str, retired: str, journal: dict[str, Any], *, now: dt.datetime
) -> dict[str, int]:
    """Review items follow the person, unless the survivor already has one for that record:
    then the survivor's is kept and the retired one, if still open, is superseded."""
    theirs = aliased(ReviewItem)
    survivor_has = exists().where(
        and_(theirs.person_key == survivor, theirs.record_id == ReviewItem.record_id)
    )
    journal["review_items"] = list(session.scalars(
        select(ReviewItem.id).where(ReviewItem.person_key == retired, ~survivor_has)
        .order_by(ReviewItem.id)
    ))  # fmt: skip
    moved = rowcount(session.execute(
        update(ReviewItem)
        .where(ReviewItem.person_key == retired, ~survivor_has)
        .values(person_key=survivor)
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    journal["review_items_superseded"] = list(session.scalars(
        select(ReviewItem.id).where(ReviewItem.person_key == retired, ReviewItem.status == "open")
        .order_by(ReviewItem.id)
    ))  # fmt: skip
    superseded = rowcount(session.execute(
        update(ReviewItem)
        .where(ReviewItem.person_key == retired, ReviewItem.status == "open")
        .values(status="superseded", decided_at=now, decided_by="merge",
                note=f"merged into {survivor}; its own item for this record is kept")
    ))  # fmt: skip
    return {"review_items_moved": moved, "review_items_superseded": superseded}


def _move_claims(
    session: Session, survivor: str, retired: str, journal: dict[str, Any], *, now: dt.datetime
) -> dict[str, Any]:
    """One claim per (person, milestone): where both persons hold the milestone, the claim
    furthest along (then the earlier lead date, then the smaller id) is the survivor's and the
    other stays on the retired key, rejected as a duplicate (a paid one stays paid: money
    received is a fact, and it is reported as a double payment)."""
    claims = session.scalars(
        select(Claim).where(Claim.person_key.in_([survivor, retired])).order_by(Claim.id)
    ).all()
    by_milestone: dict[str, dict[str, Claim]] = {}
    for c in claims:
        by_milestone.setdefault(c.milestone, {})[c.person_key] = c
    # Each claim as it was: (id, person, status); the ones the merge leaves alone drop out.
    before = {c.id: (c.person_key, c.status) for c in claims}
    moved = rejected = 0
    double_paid: list[str] = []
    for milestone, pair in sorted(by_milestone.items()):
        mine = pair.get(retired)
        if mine is None:
            continue
        kept = pair.get(survivor)
        if kept is None:
            moved += _set_claim(session, mine.id, person_key=survivor, updated_at=now)
            continue
        win, lose = sorted(
            (kept, mine), key=lambda c: (-CLAIM_RANK.get(c.status, -1), c.lead_date, c.id)
        )
        if win is mine:
            # Swap the two rows' persons. (person, milestone) is unique and checked row by
            # row, so the loser steps aside under a temporary milestone first.
            _set_claim(session, lose.id, milestone=f"~{milestone}"[:4], updated_at=now)
            moved += _set_claim(session, win.id, person_key=survivor, updated_at=now)
            _set_claim(session, lose.id, person_key=retired, milestone=milestone)
        if lose.status == "paid":
            double_paid.append(milestone)
        elif lose.status in OPEN_CLAIM_STATUSES:
            rejected += _set_claim(session, lose.id, status="rejected", updated_at=now)
    after = {r[0]: (r[1], r[2]) for r in session.execute(
        select(Claim.id, Claim.person_key, Claim.status).where(Claim.id.in_(list(before)))
    )}  # fmt: skip
    journal["claims"] = [[cid, *was] for cid, was in sorted(before.items()) if after[cid] != was]
    return {"claims_moved": moved, "claims_rejected": rejected, "claims_double_paid": double_paid}


def _set_claim(session: Session, claim_id: int, **values: Any) -> int:
    return rowcount(session.execute(update(Claim).where(Claim.id == claim_id).values(**values)))


def _repoint(
    session: Session,
    table: type[Payment] | type[Quarantine],
    old: str,
    new: str,
    journal: dict[str, Any],
) -> int:
    ids = list(session.scalars(select(table.id).where(table.person_key == old).order_by(table.id)))
    journal[table.__tablename__] = ids
    return rowcount(
        session.execute(update(table).where(table.person_key == old).values(person_key=new))
    )


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE touched (the DBAPI cursor's count; Result's type does not expose it)."""
    return int(cast(CursorResult[Any], result).rowcount)
