"""The audit log: who did what, to what, when. Written in the transaction of the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from leadlink.store.models import AuditLog


def record(
    session: Session, *, actor: str, action: str, target: str | None, detail: dict[str, Any],
    now: dt.datetime,
) -> int:  # fmt: skip
    """Write the row; its id (a merge or split names it in its result, for the undo)."""
    return session.execute(
        insert(AuditLog)
        .values(at=now, actor=actor, action=action, target=target, detail=detail)
        .returning(AuditLog.id)
    ).scalar_one()


def record_many(session: Session, rows: list[dict[str, Any]], *, now: dt.datetime) -> None:
    """Many rows (each with actor, action, target, detail) in one insert: a change made to
    many rows at once (the model settling review items) is audited row by row, set-based."""
    if rows:
        session.execute(insert(AuditLog), [{**row, "at": now} for row in rows])
