"""Which finished recovery items go back to work, and which are settled: the queue's re-arming.

``rearm`` puts a finished item back to pending when its lead might now resolve: a matched item
whose lead is KPI red again, an unmatched one whose lead changed or that a new or changed
record sharing one of its blocking keys could now match (``registry_news``). ``settle_linked``
marks finished items whose lead something else linked meanwhile as matched. Kept apart from
``store.recovery`` (the queue's claim, outcomes and daily metrics) so each stays small.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from leadlink.store import keys
from leadlink.store.backlog import kpi_red_ids
from leadlink.store.models import Link, RecoveryQueue, SourceRecord
from leadlink.store.recovery import MATCHED, PARKED, PENDING, UNMATCHED


def rearm(session: Session, now: dt.datetime, grace_days: int) -> int:
    """Put finished items whose lead is KPI red and might now resolve back to pending.

    A matched item whose link was since deactivated is back in the backlog; an unmatched item
    is retried when the lead itself was updated, or when a record that shares a blocking key
    with it (``store/keys.py``: the only records the engine could ever propose for it) was
    linked or changed after its last attempt: a new driver re-checks the leads it could
    match, not the whole backlog (``registry_news``). Parked items stay parked: they need a
    person to look at them.
    """
    backlog = kpi_red_ids(now, grace_days)
    lead_updated = exists().where(
        SourceRecord.id == RecoveryQueue.record_id,
        SourceRecord.updated_at > RecoveryQueue.updated_at,
    )
    stmt = (
        update(RecoveryQueue)
        .where(
            RecoveryQueue.record_id.in_(backlog),
            or_(
                RecoveryQueue.status == MATCHED,
                and_(
                    RecoveryQueue.status == UNMATCHED,
                    or_(
                        lead_updated,
                        registry_news(RecoveryQueue.record_id, RecoveryQueue.updated_at),
                    ),
                ),  # fmt: skip
            ),
        )
        .values(status=PENDING, failures=0, next_attempt_at=now, last_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def settle_linked(session: Session, now: dt.datetime, reason: str) -> int:
    """Finished items whose lead has an active link by now (a review accepted, a rematch, a
    post linked it): their work is done, so they count as matched, not as unmatched backlog
    that no longer exists. Items in flight (pending) are left to ``recover``, which records
    them as matched with an attempt."""
    linked = exists().where(Link.record_id == RecoveryQueue.record_id, Link.active)
    stmt = (
        update(RecoveryQueue)
        .where(RecoveryQueue.status.in_([UNMATCHED, PARKED]), linked)
        .values(status=MATCHED, last_reason=reason, last_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def new_candidate_since(record_id: Any, since: Any) -> ColumnElement[bool]:
    """A record sharing a blocking key with ``record_id`` was linked, or changed, after
    ``since`` (one indexed key join: the record's keys, the records holding them)."""
    own, other = aliased(keys.record_key), aliased(keys.record_key)
    peer, peer_link = aliased(SourceRecord), aliased(Link)
    return (
        exists()
        .where(
            own.c.record_id == record_id,
            other.c.key == own.c.key,
            other.c.record_id != own.c.record_id,
            peer.id == other.c.record_id,
            peer.source != "leads",
            peer_link.record_id == peer.id,
            peer_link.active,
            or_(peer_link.created_at > since, peer.updated_at > since),
        )
        .correlate_except(own, other, peer, peer_link)
    )


def registry_news(record_id: Any, since: Any) -> ColumnElement[bool]:
    """Something happened since ``since`` that could give the record a candidate: for a keyed
    record (``match`` derived its keys), a record sharing a key was linked or changed; for one
    never keyed (decided only by ``recover``, which keys nothing), any link created since."""
    keyed = exists().where(keys.record_term.c.record_id == record_id)
    last_link = select(func.max(Link.created_at)).scalar_subquery()
    return or_(
        and_(keyed, new_candidate_since(record_id, since)), and_(~keyed, since < last_link)
    )
