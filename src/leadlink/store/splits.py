"""The SQL of splitting a person: some of its records leave it for a new person.

The inverse of a merge (``store.merges``), written the same way: nothing is deleted. The moved
records' active links are deactivated and an equivalent active link to the new person is
inserted for each (evidence ``split_from`` and ``previous_link``); what hangs on those records
follows them, each row by id in the audit row's ``journal``:

- origins of a moved record (journaled ``split`` in ``origin_history``), on its new link;
- review items of a moved record proposing this person;
- claims anchored on a moved lead (``claim.lead_record_id``): a claim follows the lead it is
  counted from; a claim whose trips came from a driver that moved stays with its lead, and
  the next `leadlink claims` re-derives what the data supports now (an ``expected`` claim
  follows the data; from ``generated`` on a claim's facts are frozen, docs/claims.md);
- payments reconciled to a moved claim;
- quarantine rows of a moved driver.

Every statement is set-based and runs in the caller's transaction. Undo: merge the new key
back into the old one (``store.merges.merge``): every one of these tables is one a merge moves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, UsageError
from leadlink.store import audit
from leadlink.store.merges import journal_origins, persons, relink, rowcount
from leadlink.store.models import (
    Claim,
    Link,
    Origin,
    Payment,
    Person,
    Quarantine,
    ReviewItem,
    SourceRecord,
)

SPLIT = "split"  # audit_log action, job_run kind and origin_history event


def active_records(session: Session, key: str) -> list[dict[str, Any]]:
    """The records actively linked to ``key``: record id, source, source_pk, link id; in
    (source, source_pk) order. One query (a person holds few records)."""
    rows = session.execute(
        select(SourceRecord.id, SourceRecord.source, SourceRecord.source_pk, Link.id)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(Link.person_key == key)
        .order_by(SourceRecord.source, SourceRecord.source_pk)
    )  # fmt: skip
    return [{"record_id": r[0], "source": r[1], "source_pk": r[2], "link_id": r[3]}
            for r in rows]  # fmt: skip


def linked_elsewhere(
    session: Session, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """(source, source_pk) -> the person its active link names (None: stored, not linked);
    records not stored are left out. For the error naming a record not linked to the person."""
    if not wanted:
        return {}
    pairs = {(s, pk) for s, pk in wanted}
    rows = session.execute(
        select(SourceRecord.source, SourceRecord.source_pk, Link.person_key)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(sorted({s for s, _ in pairs})),
               SourceRecord.source_pk.in_(sorted({pk for _, pk in pairs})))
    )  # fmt: skip
    return {(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in pairs}


def split(
    session: Session,
    key: str,
    new_key: str,
    moving: Sequence[dict[str, Any]],
    *,
    run_id: int | None,
    now: dt.datetime,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Move the records ``moving`` (rows of ``active_records(key)``) and what hangs on them
    from the live person ``key`` to the new person ``new_key``; return the counts. The caller
    checked that each is actively linked to ``key`` and that some record stays."""
    rows = persons(session, [key, new_key], lock=True)
    if key not in rows:
        raise NotFoundError("no person {key}", code="person_unknown", key=key)
    if rows[key].retired_into is not None:
        raise UsageError("{key} is retired (into {into}): split its survivor",
                         code="split_retired", key=key, into=rows[key].retired_into)
    if new_key in rows:
        raise UsageError("person {key} exists already", code="person_exists", key=new_key)
    session.add(Person(person_key=new_key, created_at=now, run_id=run_id, retired_into=None))
    session.flush()
    record_ids = [r["record_id"] for r in moving]
    journal: dict[str, Any] = {}
    names = [f"{r['source']}:{r['source_pk']}" for r in moving]
    result: dict[str, Any] = {"status": "split", "person_key": key, "new_person_key": new_key,
                              "records": names}  # fmt: skip
    result["links_moved"] = _move_links(session, key, new_key, moving, journal,
                                        run_id=run_id, now=now)  # fmt: skip
    result["origins_moved"] = _move_origins(session, key, new_key, record_ids, journal,
                                            run_id=run_id, now=now)  # fmt: skip
    result["review_items_moved"] = _move(
        session, ReviewItem, journal, ReviewItem.person_key == key,
        ReviewItem.record_id.in_(record_ids), new_key=new_key,
    )  # fmt: skip
    result["claims_moved"] = _move(
        session, Claim, journal, Claim.person_key == key, Claim.lead_record_id.in_(record_ids),
        new_key=new_key, updated_at=now,
    )  # fmt: skip
    # A payment reconciled to a moved claim goes with it (reconciled is final, docs/claims.md).
    result["payments_moved"] = _move(
        session, Payment, journal, Payment.person_key == key,
        Payment.claim_id.in_(journal[Claim.__tablename__]), new_key=new_key,
    )  # fmt: skip
    result["quarantine_moved"] = _move(
        session, Quarantine, journal, Quarantine.person_key == key,
        Quarantine.record_id.in_(record_ids), new_key=new_key,
    )  # fmt: skip
    result["audit_id"] = audit.record(
        session, actor=actor, action=SPLIT, target=key, now=now,
        detail={**result, "reason": reason, "run_id": run_id, "journal": journal},
    )
    return result


def _move_links(
    session: Session,
    key: str,
    new_key: str,
    moving: Sequence[dict[str, Any]],
    journal: dict[str, Any],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """Deactivate the moved records' links and insert the same links to the new person: a
    new row, so the record's history keeps who it was linked to (as a merge does)."""
    ids = [r["link_id"] for r in moving]
    old = session.execute(
        select(Link.id, Link.record_id, Link.rule, Link.score, Link.confidence, Link.evidence)
        .where(Link.id.in_(ids), Link.person_key == key, Link.active)
        .order_by(Link.id)
    ).all()  # fmt: skip
    journal["links"] = [r[0] for r in old]
    return relink(session, old, new_key, {"split_from": key}, run_id=run_id, now=now)


def _move_origins(
    session: Session,
    key: str,
    new_key: str,
    record_ids: list[int],
    journal: dict[str, Any],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """The moved records' origins follow them, on their new links, each journaled."""
    moved = list(session.scalars(
        select(Origin.id).where(Origin.person_key == key, Origin.record_id.in_(record_ids))
        .order_by(Origin.id)
    ))  # fmt: skip
    journal["origins"] = moved
    if not moved:
        return 0
    new_link = (
        select(Link.id)
        .where(Link.record_id == Origin.record_id, Link.person_key == new_key, Link.active)
        .scalar_subquery()
    )
    link_id = func.coalesce(new_link, Origin.link_id)
    session.execute(update(Origin).where(Origin.id.in_(moved))
                    .values(person_key=new_key, link_id=link_id))  # fmt: skip
    journal_origins(session, moved, {"from": key, "to": new_key}, run_id=run_id, now=now,
                    event=SPLIT)  # fmt: skip
    return len(moved)


def _move(
    session: Session, table: Any, journal: dict[str, Any], *where: Any, new_key: str,
    **values: Any,
) -> int:  # fmt: skip
    """Repoint the rows of ``table`` matching ``where`` to the new person, journaled by id."""
    ids = list(session.scalars(select(table.id).where(*where).order_by(table.id)))
    journal[table.__tablename__] = ids
    if not ids:
        return 0
    return rowcount(session.execute(
        update(table).where(table.id.in_(ids)).values(person_key=new_key, **values)
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
