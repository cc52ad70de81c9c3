"""Trained probabilistic models: stored whole (Splink's JSON), versioned, the newest in use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadlink.store.models import MatchModel


def save(
    session: Session,
    *,
    version: str,
    sha256: str,
    settings: dict[str, Any],
    trained_on: dict[str, Any],
    now: dt.datetime,
) -> int:
    row = MatchModel(version=version, sha256=sha256, settings=settings, trained_on=trained_on,
                     created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def latest(session: Session, version: str) -> MatchModel | None:
    """The newest model of this format version (older formats are not applied)."""
    return session.scalar(
        select(MatchModel)
        .where(MatchModel.version == version)
        .order_by(MatchModel.id.desc())
        .limit(1)
    )


def by_id(session: Session, model_id: int) -> MatchModel | None:
    return session.get(MatchModel, model_id)


def listing(session: Session, limit: int = 20) -> list[MatchModel]:
    return list(session.scalars(select(MatchModel).order_by(MatchModel.id.desc()).limit(limit)))
