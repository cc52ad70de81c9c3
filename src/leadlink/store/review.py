"""The SQL of the review queue: propose review-band pairs, list them, decide them, audit.

A pair (record, candidate person) is proposed once: ``review_item`` has one row per pair
ever proposed, so a rejected (or accepted) pair is never opened again, and proposing the same
pairs twice adds nothing (INSERT ... ON CONFLICT DO NOTHING, in the dialect of the engine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadlink.store import origins
from leadlink.store.models import (
    AuditLog,
    Link,
    Origin,
    Person,
    ReviewItem,
    SourceRecord,
    Unmatched,
)

STATUSES = ("open", "accepted", "rejected", "superseded")
ACCEPT_RULE = "review_accept"
# IN lists are cut to this size: well under SQLite's and psycopg's bound-parameter limits.
BATCH = 500


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _insert_ignoring_duplicates(session: Session) -> Insert:
    """INSERT INTO review_item ... ON CONFLICT (record_id, person_key) DO NOTHING."""
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(ReviewItem)
        return pg.on_conflict_do_nothing(index_elements=["record_id", "person_key"])
    lite = sqlite.insert(ReviewItem)
    return lite.on_conflict_do_nothing(index_elements=["record_id", "person_key"])


def event_dates(session: Session, record_ids: Sequence[int]) -> dict[int, dt.date | None]:
    out: dict[int, dt.date | None] = {}
    for ids in _chunks(sorted(set(record_ids))):
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.event_date).where(SourceRecord.id.in_(ids))
        )
        out.update({r[0]: r[1] for r in rows})
    return out


def propose(
    session: Session,
    items: Sequence[dict[str, Any]],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> None:
    """Open one item per new pair; pairs seen before (any status) are left as they are.

    ``items``: dicts with record_id, person_key, rule, score, evidence (dict), deadline.
    """
    if not items:
        return
    rows = [{**item, "status": "open", "run_id": run_id, "created_at": now} for item in items]
    session.execute(_insert_ignoring_duplicates(session), rows)


def supersede(
    session: Session,
    record_ids: Collection[int],
    *,
    now: dt.datetime,
    keep: Collection[tuple[int, str]] = (),
) -> int:
    """Close the open items of these records (they got linked, or the engine no longer
    proposes the pair), except the pairs in ``keep``. Returns how many were closed."""
    if not record_ids:
        return 0
    keep_set = set(keep)
    stale: list[int] = []
    for ids in _chunks(sorted(record_ids)):
        rows = session.execute(
            select(ReviewItem.id, ReviewItem.record_id, ReviewItem.person_key).where(
                ReviewItem.record_id.in_(ids), _still_open()
            )
        )
        stale.extend(r[0] for r in rows if (r[1], r[2]) not in keep_set)
    for ids in _chunks(stale):
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id.in_(ids), _still_open())
            .values(status="superseded", decided_at=now)
        )
    return len(stale)


def _still_open() -> Any:
    """``status = 'open'`` for looking items up by their ids or their record's.

    Wrapped on purpose: written plainly, SQLite (no statistics) reads every open item through
    the status index for each batch of ids, quadratic in the open items (113 s of a match of
    1 M leads with 168 k proposals); wrapped, it uses the ids' own index. Same rows.
    """
    return func.coalesce(ReviewItem.status, "") == "open"


# --------------------------------------------------------------------------- reading


def _order() -> tuple[Any, ...]:
    # Decided items (and ``all``): nearest claim deadline first, undated last; then the
    # strongest proposal; then age. The open queue has its own order (store.review_stake).
    return (ReviewItem.deadline.is_(None), ReviewItem.deadline, ReviewItem.score.desc(),
            ReviewItem.id)  # fmt: skip


def count(session: Session, status: str) -> int:
    """How many items have ``status`` (one range of the status index)."""
    return int(session.scalar(select(func.count()).where(ReviewItem.status == status)) or 0)


def list_page(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[int, list[tuple[ReviewItem, SourceRecord]]]:
    """(total matching ``status``, one page of (item, its record)); status None = all."""
    where = [] if status is None else [ReviewItem.status == status]
    total = session.scalar(select(func.count()).select_from(ReviewItem).where(*where)) or 0
    rows = session.execute(
        select(ReviewItem, SourceRecord)
        .join(SourceRecord, SourceRecord.id == ReviewItem.record_id)
        .where(*where)
        .order_by(*_order())
        .limit(limit)
        .offset(offset)
    )
    return int(total), [(r[0], r[1]) for r in rows]


def person_records(
    session: Session, person_keys: Collection[str]
) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """person_key -> its actively linked records (source, source_pk, data), in one query."""
    out: dict[str, list[tuple[str, str, dict[str, Any]]]] = {k: [] for k in person_keys}
    if not person_keys:
        return out
    rows = session.execute(
        select(Link.person_key, SourceRecord.source, SourceRecord.source_pk, SourceRecord.data)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.active, Link.person_key.in_(sorted(person_keys)))
        .order_by(Link.person_key, SourceRecord.source, SourceRecord.source_pk)
    )
    for key, source, pk, data in rows:
        out[key].append((source, pk, data))
    return out


def item_for_update(session: Session, item_id: int) -> tuple[ReviewItem, SourceRecord] | None:
    """The item and its record, row-locked on PostgreSQL so two reviewers cannot both decide
    it (SQLite serialises writers on its own)."""
    row = session.execute(
        select(ReviewItem, SourceRecord)
        .join(SourceRecord, SourceRecord.id == ReviewItem.record_id)
        .where(ReviewItem.id == item_id)
        .with_for_update()
    ).first()
    return None if row is None else (row[0], row[1])


def active_link(session: Session, record_id: int) -> Link | None:
    return session.scalar(select(Link).where(Link.record_id == record_id, Link.active))


def surviving_person(session: Session, person_key: str) -> str | None:
    """The key a person resolves to today (merges retire keys into survivors); None if the
    person does not exist."""
    seen: set[str] = set()
    key: str | None = person_key
    while key is not None and key not in seen:
        seen.add(key)
        person = session.get(Person, key)
        if person is None:
            return None
        if person.retired_into is None:
            return key
        key = person.retired_into
    return None


# --------------------------------------------------------------------------- deciding


def close(
    session: Session,
    item: ReviewItem,
    *,
    status: str,
    actor: str | None,
    note: str | None,
    now: dt.datetime,
) -> None:
    item.status = status
    item.decided_at = now
    item.decided_by = actor
    item.note = note
    session.flush()


def write_accepted_link(
    session: Session,
    item: ReviewItem,
    *,
    person_key: str,
    evidence: dict[str, Any],
    actor: str,
    now: dt.datetime,
) -> tuple[int, int | None]:
    """Link the item's record to the person, with its origin (for origin sources) and the
    origin's journal entry; drop its unmatched row. Returns (link id, origin id or None)."""
    link = Link(record_id=item.record_id, person_key=person_key, rule=ACCEPT_RULE,
                score=item.score, confidence="medium", evidence=evidence, run_id=None,
                active=True, created_at=now)  # fmt: skip
    session.add(link)
    session.flush()
    link_id = link.id
    session.execute(delete(Unmatched).where(Unmatched.record_id == item.record_id))
    # The origin of the record, decided by a person: added if the person lacks it, never swapped.
    origins.add_for_links(session, Link.id == link_id, decided_by="manual",
                          status="resolved_manual", run_id=None, now=now)  # fmt: skip
    origins.journal_new(session, Origin.link_id == link_id, event="created",
                        detail={"by": "review", "review_item": item.id, "actor": actor},
                        run_id=None, now=now)  # fmt: skip
    origin_id = session.scalar(select(Origin.id).where(Origin.link_id == link_id))
    return link_id, origin_id


def supersede_others(session: Session, item: ReviewItem, now: dt.datetime) -> int:
    """Close the other open items of the item's record: it now has its person."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.record_id == item.record_id, ReviewItem.id != item.id,
               ReviewItem.status == "open")
        .values(status="superseded", decided_at=now)
    )  # fmt: skip
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- invariants

EXAMPLES = 20


def invariant_violations(session: Session) -> list[tuple[int, list[str]]]:
    """(count, examples) per review invariant: no open item on a linked record; an accepted
    item has its review_accept link; every accept/reject is audited; statuses are known."""
    linked = exists().where(and_(Link.record_id == ReviewItem.record_id, Link.active))
    # A person's accept writes a review_accept link; a model's (`match --rematch`) is the
    # model's own link, rule 'model'.
    accepted_rule = or_(Link.rule == ACCEPT_RULE,
                        and_(Link.rule == "model", ~by_a_person()))  # fmt: skip
    accepted_link = exists().where(
        and_(Link.record_id == ReviewItem.record_id, accepted_rule,
             Link.person_key == ReviewItem.person_key)
    )  # fmt: skip
    target = literal("review_item:") + cast(ReviewItem.id, String)
    audited = exists().where(
        and_(AuditLog.target == target, AuditLog.action.in_(["review_accept", "review_reject"]))
    )
    queries = {
        "open item on a linked record": select(ReviewItem.id, ReviewItem.record_id).where(
            ReviewItem.status == "open", linked
        ),
        "accepted item without its review_accept link": select(
            ReviewItem.id, ReviewItem.record_id
        ).where(ReviewItem.status == "accepted", ~accepted_link),
        "decided item without audit_log row": select(ReviewItem.id, ReviewItem.status).where(
            ReviewItem.status.in_(["accepted", "rejected"]), ~audited
        ),
        "unknown status": select(ReviewItem.id, ReviewItem.status).where(
            ~ReviewItem.status.in_(STATUSES)
        ),
    }
    out: list[tuple[int, list[str]]] = []
    for what, query in queries.items():
        n = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        examples = [
            f"{what}: review_item {r[0]} ({r[1]})"
            for r in session.execute(query.order_by(ReviewItem.id).limit(EXAMPLES))
        ]
        out.append((int(n), examples))
    return out


# --------------------------------------------------------------------------- labels

# decided_by of the items `match --rematch` settles with a model (pipeline/resolution/settle.py).
MODEL_ACTOR_PREFIX = "model:"


def by_a_person() -> ColumnElement[bool]:
    """The item was decided by a person (the model's own decisions are never its labels)."""
    return or_(ReviewItem.decided_by.is_(None),
               ~ReviewItem.decided_by.like(f"{MODEL_ACTOR_PREFIX}%"))  # fmt: skip


def label_rows(session: Session) -> list[tuple[int, int, int | None, bool]]:
    """The items people accepted or rejected, each with every active record of its person
    (its survivor's, if merged) other than its own, in one query: (item id, record id,
    candidate record id or None when the person has no other record, accepted)."""
    person = func.coalesce(Person.retired_into, ReviewItem.person_key)
    rows = session.execute(
        select(ReviewItem.id, ReviewItem.record_id, Link.record_id, ReviewItem.status)
        .join(Person, Person.person_key == ReviewItem.person_key)
        .outerjoin(Link, and_(Link.person_key == person, Link.active,
                              Link.record_id != ReviewItem.record_id))
        .where(ReviewItem.status.in_(["accepted", "rejected"]), by_a_person())
        .order_by(ReviewItem.id, Link.record_id)
    )  # fmt: skip
    return [(r[0], r[1], r[2], r[3] == "accepted") for r in rows]


def records_by_id(session: Session, ids: Collection[int]) -> list[tuple[int, str, dict[str, Any]]]:
    """(id, source, data) of these records, by id."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for part in _chunks(sorted(set(ids))):
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.source, SourceRecord.data)
            .where(SourceRecord.id.in_(part)).order_by(SourceRecord.id)
        )  # fmt: skip
        out.extend((r[0], r[1], r[2]) for r in rows)
    return out
