"""The SQL of undoing a merge: the retired person comes back with what the merge moved.

A merge's audit row (``store.merges.merge``) carries a ``journal``: the ids of every row it
moved or marked. Undoing reads the newest merge of the retired key that was not undone yet and
puts back what is still as the merge left it; a row changed since (a record linked elsewhere,
a claim paid, a review item decided) keeps its present state and is counted as kept, never
overwritten. Like a merge, nothing is deleted: the survivor's merged links are deactivated and
equivalent links to the restored person inserted, each naming the link it replaces.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, UsageError
from leadlink.store import audit
from leadlink.store.merges import IN_CHUNK, journal_origins, persons, rowcount
from leadlink.store.models import (
    AuditLog,
    Claim,
    Link,
    Origin,
    Payment,
    Person,
    Quarantine,
    ReviewItem,
)

MERGE, UNMERGE = "merge", "unmerge"  # audit_log actions
UNMERGED = "unmerged"  # origin_history event


def last_merge(session: Session, retired: str) -> AuditLog | None:
    """The newest merge of ``retired`` not undone since (None when there is none)."""
    merged = session.scalars(
        select(AuditLog).where(AuditLog.action == MERGE, AuditLog.target == retired)
        .order_by(AuditLog.id.desc()).limit(1)
    ).first()  # fmt: skip
    if merged is None:
        return None
    undone = session.scalar(
        select(func.count()).where(AuditLog.action == UNMERGE, AuditLog.target == retired,
                                   AuditLog.id > merged.id)
    )  # fmt: skip
    return None if undone else merged


def undoable(session: Session, retired: str, *, lock: bool = False) -> tuple[str, AuditLog]:
    """(survivor, the merge's audit row) when the merge of ``retired`` can be undone; else a
    NotFoundError or UsageError saying why (so a refusal writes nothing, not even a job run)."""
    rows = persons(session, [retired], lock=lock)
    if retired not in rows:
        raise NotFoundError("no person {key}", code="person_unknown", key=retired)
    survivor = rows[retired].retired_into
    if survivor is None:
        raise UsageError("{key} is not merged into anyone: nothing to undo",
                         code="unmerge_not_merged", key=retired)
    merged = last_merge(session, retired)
    if merged is None or "journal" not in (merged.detail or {}) \
            or merged.detail.get("survivor") != survivor:
        raise UsageError("the merge of {key} into {into} has no journal (it predates undo, or "
                         "was written by hand): it cannot be undone", code="unmerge_no_journal",
                         key=retired, into=survivor)  # fmt: skip
    keep = persons(session, [survivor], lock=lock).get(survivor)
    if keep is None or keep.retired_into is not None:
        raise UsageError("{key} was itself merged into {into} since: undo that merge first",
                         code="unmerge_survivor_merged", key=survivor,
                         into=keep and keep.retired_into)  # fmt: skip
    return survivor, merged


def unmerge(
    session: Session, retired: str, *, run_id: int | None, now: dt.datetime, actor: str,
    reason: str,
) -> dict[str, Any]:  # fmt: skip
    """Bring ``retired`` back from the person it was merged into; return what moved back."""
    survivor, merged = undoable(session, retired, lock=True)
    journal = merged.detail["journal"]
    result: dict[str, Any] = {"status": "unmerged", "restored": retired, "survivor": survivor,
                              "merge_audit_id": merged.id}  # fmt: skip
    result.update(_links_back(session, journal["links"], survivor, retired, run_id, now))
    result.update(_origins_back(session, journal, survivor, retired, run_id, now))
    result.update(_review_back(session, journal, survivor, retired))
    result.update(_claims_back(session, journal["claims"], now))
    for table in (Payment, Quarantine):
        result[f"{table.__tablename__}_restored"] = _back(
            session, table, journal[table.__tablename__], survivor, retired
        )
    chain = journal["chain"]
    result["chain_restored"] = rowcount(session.execute(
        update(Person).where(Person.person_key.in_(chain), Person.retired_into == survivor)
        .values(retired_into=retired)
    )) if chain else 0  # fmt: skip
    session.execute(update(Person).where(Person.person_key == retired).values(retired_into=None))
    result["audit_id"] = audit.record(
        session, actor=actor, action=UNMERGE, target=retired, now=now,
        detail={**result, "reason": reason, "run_id": run_id},
    )
    return result


def _links_back(
    session: Session, old_ids: list[int], survivor: str, retired: str, run_id: int | None,
    now: dt.datetime,
) -> dict[str, int]:  # fmt: skip
    """For each link the merge replaced, if the survivor's link it made is still the record's
    active one: deactivate it and insert the old link again (a new row naming both)."""
    restored = kept = 0
    for start in range(0, len(old_ids), IN_CHUNK):
        part = old_ids[start : start + IN_CHUNK]
        old = {r[0]: r for r in session.execute(
            select(Link.id, Link.record_id, Link.rule, Link.score, Link.confidence,
                   Link.evidence).where(Link.id.in_(part))
        )}  # fmt: skip
        merged = session.execute(
            select(Link.id, Link.record_id, Link.evidence)
            .where(Link.record_id.in_([r[1] for r in old.values()]), Link.active,
                   Link.person_key == survivor)
        ).all()  # fmt: skip
        by_old = {(ev or {}).get("previous_link"): (lid, rid) for lid, rid, ev in merged}
        back = [(old[i], by_old[i][0]) for i in part if i in old and i in by_old]
        kept += len(part) - len(back)
        if not back:
            continue
        session.execute(update(Link).where(Link.id.in_([new for _, new in back]))
                        .values(active=False))  # fmt: skip
        session.execute(insert(Link), [
            {"record_id": o[1], "person_key": retired, "rule": o[2], "score": o[3],
             "confidence": o[4], "run_id": run_id, "active": True, "created_at": now,
             "evidence": {**(o[5] or {}), "unmerged_from": survivor, "previous_link": new}}
            for o, new in back
        ])  # fmt: skip
        restored += len(back)
    return {"links_restored": restored, "links_kept": kept}


def _origins_back(
    session: Session, journal: dict[str, Any], survivor: str, retired: str,
    run_id: int | None, now: dt.datetime,
) -> dict[str, int]:  # fmt: skip
    detail = {"from": survivor, "to": retired, "undo": "merge"}
    moved = list(session.scalars(
        select(Origin.id).where(Origin.id.in_(journal["origins"]), Origin.person_key == survivor)
    )) if journal["origins"] else []  # fmt: skip
    if moved:
        own_link = (
            select(Link.id)
            .where(Link.record_id == Origin.record_id, Link.person_key == retired, Link.active)
            .scalar_subquery()
        )
        link_id = func.coalesce(own_link, Origin.link_id)
        session.execute(update(Origin).where(Origin.id.in_(moved))
                        .values(person_key=retired, link_id=link_id))  # fmt: skip
        journal_origins(session, moved, detail, run_id=run_id, now=now, event=UNMERGED)
    revived = [
        origin_id
        for origin_id, status in journal["origins_discarded"]
        if rowcount(session.execute(
            update(Origin).where(Origin.id == origin_id, Origin.person_key == retired,
                                 Origin.status == "discarded").values(status=status)
        ))  # fmt: skip
    ]
    if revived:
        journal_origins(session, revived, detail, run_id=run_id, now=now, event=UNMERGED)
    return {"origins_restored": len(moved), "origins_revived": len(revived)}


def _review_back(
    session: Session, journal: dict[str, Any], survivor: str, retired: str
) -> dict[str, int]:
    moved = _back(session, ReviewItem, journal["review_items"], survivor, retired)
    reopened = rowcount(session.execute(
        update(ReviewItem)
        .where(ReviewItem.id.in_(journal["review_items_superseded"]),
               ReviewItem.status == "superseded", ReviewItem.decided_by == "merge")
        .values(status="open", decided_at=None, decided_by=None, note=None)
    )) if journal["review_items_superseded"] else 0  # fmt: skip
    return {"review_items_restored": moved, "review_items_reopened": reopened}


def _claims_back(session: Session, before: list[list[Any]], now: dt.datetime) -> dict[str, int]:
    """Claims back to the person and status they had before the merge. One claim per
    (person, milestone) holds at every step: the claims step aside under a temporary
    milestone, move, and take their milestone back. A claim whose status moved on since the
    merge (paid, expired) keeps it: only its person goes back."""
    if not before:
        return {"claims_restored": 0}
    ids = [c[0] for c in before]
    current = {r[0]: (r[1], r[2]) for r in session.execute(
        select(Claim.id, Claim.milestone, Claim.status).where(Claim.id.in_(ids))
    )}  # fmt: skip
    present = [c for c in before if c[0] in current]
    # A temporary milestone of its own per claim (at most 6 claims: 3 milestones x 2 persons).
    for n, (cid, _person, _status) in enumerate(present):
        session.execute(update(Claim).where(Claim.id == cid).values(milestone=f"~{n}"))
    for cid, person, status in present:
        values: dict[str, Any] = {"person_key": person, "updated_at": now}
        if current[cid][1] == "rejected" and status != "rejected":
            values["status"] = status  # the merge's own rejection of a duplicate
        session.execute(update(Claim).where(Claim.id == cid).values(**values))
    for cid, _person, _status in present:
        session.execute(update(Claim).where(Claim.id == cid).values(milestone=current[cid][0]))
    return {"claims_restored": len(present)}


def _back(session: Session, table: Any, ids: list[int], survivor: str, retired: str) -> int:
    if not ids:
        return 0
    return rowcount(session.execute(
        update(table).where(and_(table.id.in_(ids), table.person_key == survivor))
        .values(person_key=retired).execution_options(synchronize_session=False)
    ))  # fmt: skip
