"""Dashboard sessions, server side (table ``web_session``).

The browser's signed cookie carries a random session id; only its SHA-256 (``id_hash``) is
stored, so a leaked database holds no working cookie. A session counts while its row is not
ended, not expired and its token not revoked: logout and ``token revoke`` set ``ended_at``,
and a saved copy of the cookie is refused from then on. The per-request check is one lookup
by primary key joined to the token row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.models import ApiToken, WebSession


@dataclass(frozen=True)
class ActiveSession:
    """A live session and who it is: its token's id, name and role."""

    id_hash: str
    token_id: int
    name: str
    role: str
    last_seen_at: dt.datetime
    expires_at: dt.datetime


_ACTIVE_COLUMNS = (WebSession.id_hash, WebSession.token_id, ApiToken.name, ApiToken.role,
                   WebSession.last_seen_at, WebSession.expires_at)  # fmt: skip


def create(
    session: Session, *, id_hash: str, token_id: int, now: dt.datetime, expires_at: dt.datetime
) -> None:
    session.execute(insert(WebSession).values(
        id_hash=id_hash, token_id=token_id, created_at=now, last_seen_at=now,
        expires_at=expires_at, ended_at=None))  # fmt: skip


def active(session: Session, id_hash: str, now: dt.datetime) -> ActiveSession | None:
    """The session if it is not ended, not expired and its token is not revoked."""
    stmt = (
        select(*_ACTIVE_COLUMNS)
        .join(ApiToken, ApiToken.id == WebSession.token_id)
        .where(
            WebSession.id_hash == id_hash,
            WebSession.ended_at.is_(None),
            WebSession.expires_at > now,
            ApiToken.revoked_at.is_(None),
        )
    )
    row = session.execute(stmt).one_or_none()
    return ActiveSession(*row) if row is not None else None


def touch(session: Session, id_hash: str, now: dt.datetime) -> None:
    session.execute(update(WebSession).where(WebSession.id_hash == id_hash)
                    .values(last_seen_at=now))  # fmt: skip


def end(session: Session, id_hash: str, now: dt.datetime) -> bool:
    """End one session; False if it was already ended (or never existed)."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.id_hash == id_hash, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_all_for_token(session: Session, token_id: int, now: dt.datetime) -> int:
    """End every open session of a token (it was revoked); how many were open."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.token_id == token_id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
