"""API tokens: only their SHA-256 is stored; the token itself is shown once at creation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadlink.store.models import ApiToken


def add(session: Session, *, name: str, role: str, token_hash: str, now: dt.datetime) -> ApiToken:
    token = ApiToken(name=name, role=role, token_hash=token_hash, created_at=now)
    session.add(token)
    session.flush()
    return token


def by_name(session: Session, name: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.name == name)).one_or_none()


def by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def active_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    return session.scalars(stmt).one_or_none()


def all_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(session: Session, token_id: int, now: dt.datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now))


def touch(session: Session, token_id: int, now: dt.datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
