"""API tokens and roles: create (shown once), list, revoke, and authenticate a presented token.

A token is ``ll_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored, so a
leaked database does not leak working tokens. Roles: ``viewer`` reads; ``operator`` also
reviews, runs jobs and posts leads. Creating and revoking are audited.

Dashboard sessions live here too: a login makes a ``web_session`` row keyed by the SHA-256 of
a random session id (the id travels in the signed cookie); every request by cookie looks the
row up, so logout, expiry and revoking the token end the session on the server, whatever
copy of the cookie is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import NotFoundError, UsageError
from leadlink.store import audit
from leadlink.store import sessions as sessions_store
from leadlink.store import tokens as tokens_store
from leadlink.store.db import transaction

ROLES = ("viewer", "operator")
PREFIX = "ll_"
# last_used_at / last_seen_at are kept to the minute: one write per minute, not per request.
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name (the audit actor) and role."""

    token_id: int
    name: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role == "operator"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    engine: Engine, *, role: str, name: str | None, now: dt.datetime, actor: str = "cli"
) -> tuple[str, dict[str, Any]]:
    """A new token: (the token, shown once; its listing row)."""
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as session:
        name = name or f"{role}-{secrets.token_hex(3)}"
        if tokens_store.by_name(session, name) is not None:
            raise UsageError(f"a token named {name!r} already exists (names are unique)")
        row = tokens_store.add(session, name=name, role=role, token_hash=hash_token(token), now=now)
        audit.record(session, actor=actor, action="token_create", target=f"token:{name}",
                     detail={"role": role}, now=now)  # fmt: skip
        listed = _listing(row)
    return token, listed


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return [_listing(t) for t in tokens_store.all_tokens(session)]


def revoke(engine: Engine, name: str, *, now: dt.datetime, actor: str = "cli") -> dict[str, Any]:
    with transaction(engine) as session:
        row = tokens_store.by_name(session, name)
        if row is None:
            raise NotFoundError(f"no token named {name!r} (see `leadlink token list`)")
        if row.revoked_at is None:
            tokens_store.revoke(session, row.id, now)
            ended = sessions_store.end_all_for_token(session, row.id, now)
            audit.record(session, actor=actor, action="token_revoke", target=f"token:{name}",
                         detail={"sessions_ended": ended}, now=now)  # fmt: skip
            row.revoked_at = now
        return _listing(row)


def authenticate(engine: Engine, token: str, *, now: dt.datetime) -> Principal | None:
    """The principal of an active token, or None (unknown or revoked). Records last use."""
    if not token.startswith(PREFIX):
        return None
    with transaction(engine) as session:
        row = tokens_store.active_by_hash(session, hash_token(token))
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
            tokens_store.touch(session, row.id, now)
        return Principal(row.id, row.name, row.role)


def principal_by_id(engine: Engine, token_id: int) -> Principal | None:
    """The principal of a still-active token id (a dashboard session holds the id)."""
    with transaction(engine) as session:
        row = tokens_store.by_id(session, token_id)
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.id, row.name, row.role)


def start_session(
    engine: Engine, principal: Principal, *, now: dt.datetime, max_age: dt.timedelta
) -> str:
    """A new dashboard session for ``principal``: the random session id for the cookie (only
    its hash is stored). It expires ``max_age`` after the login, however active it is."""
    session_id = secrets.token_urlsafe(32)
    with transaction(engine) as session:
        sessions_store.create(session, id_hash=hash_token(session_id), token_id=principal.token_id,
                              now=now, expires_at=now + max_age)  # fmt: skip
    return session_id


def session_principal(engine: Engine, session_id: str, *, now: dt.datetime) -> Principal | None:
    """Who a session cookie's id is, or None: unknown, ended, expired, or its token revoked.
    One lookup by primary key; ``last_seen_at`` is written at most once a minute."""
    with transaction(engine) as session:
        row = sessions_store.active(session, hash_token(session_id), now)
        if row is None:
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            sessions_store.touch(session, row.id_hash, now)
        return Principal(row.token_id, row.name, row.role)


def end_session(engine: Engine, session_id: str, *, now: dt.datetime) -> bool:
    """Logout: the session's row is ended, so any copy of its cookie is refused from now on."""
    with transaction(engine) as session:
        return sessions_store.end(session, hash_token(session_id), now)


def _listing(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
