"""API tokens on real databases: shown once, stored hashed, roles, revocation, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from leadlink.errors import NotFoundError, UsageError
from leadlink.pipeline.operations import tokens
from leadlink.store.db import transaction
from leadlink.store.models import ApiToken, AuditLog

NOW = dt.datetime(2026, 11, 1, 12, 0)


def test_token_is_shown_once_and_only_its_hash_is_stored(engine: Engine) -> None:
    token, row = tokens.create(engine, role="operator", name="ana", now=NOW)
    assert token.startswith("ll_") and len(token) > 40
    assert row == {"name": "ana", "role": "operator", "created_at": NOW.isoformat(),
                   "last_used_at": None, "revoked_at": None}  # fmt: skip
    with transaction(engine) as session:
        stored = session.scalars(select(ApiToken)).one()
        assert stored.token_hash == tokens.hash_token(token) != token
        assert token not in str(session.scalars(select(AuditLog.detail)).all())


def test_authenticate_gives_the_principal_and_records_last_use_per_minute(engine: Engine) -> None:
    token, _ = tokens.create(engine, role="viewer", name="vera", now=NOW)
    principal = tokens.authenticate(engine, token, now=NOW)
    assert principal is not None
    assert (principal.name, principal.role, principal.can_write) == ("vera", "viewer", False)
    tokens.authenticate(engine, token, now=NOW + dt.timedelta(seconds=30))
    assert tokens.list_tokens(engine)[0]["last_used_at"] == NOW.isoformat()
    later = NOW + dt.timedelta(minutes=5)
    tokens.authenticate(engine, token, now=later)
    assert tokens.list_tokens(engine)[0]["last_used_at"] == later.isoformat()


@pytest.mark.parametrize("presented", ["", "ll_", "ll_nope", "not-a-token", "ll_" + "x" * 43])
def test_unknown_tokens_authenticate_nobody(engine: Engine, presented: str) -> None:
    tokens.create(engine, role="operator", name="ana", now=NOW)
    assert tokens.authenticate(engine, presented, now=NOW) is None


def test_revoked_token_and_its_sessions_stop_at_once(engine: Engine) -> None:
    token, _ = tokens.create(engine, role="operator", name="ana", now=NOW)
    principal = tokens.authenticate(engine, token, now=NOW)
    assert principal is not None
    row = tokens.revoke(engine, "ana", now=NOW)
    assert row["revoked_at"] == NOW.isoformat()
    assert tokens.authenticate(engine, token, now=NOW) is None
    assert tokens.principal_by_id(engine, principal.token_id) is None
    # Revoking again changes nothing (and writes no second audit row).
    assert tokens.revoke(engine, "ana", now=NOW + dt.timedelta(days=1))["revoked_at"] == (
        NOW.isoformat()
    )
    with transaction(engine) as session:
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["token_create", "token_revoke"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda e: tokens.create(e, role="admin", name="x", now=NOW), UsageError),
        (lambda e: tokens.create(e, role="viewer", name="ana", now=NOW), UsageError),
        (lambda e: tokens.revoke(e, "nobody", now=NOW), NotFoundError),
    ],
    ids=["unknown-role", "duplicate-name", "revoke-unknown"],
)
def test_bad_token_requests_are_refused_and_write_nothing(
    engine: Engine, call: object, error: type[Exception]
) -> None:
    tokens.create(engine, role="viewer", name="ana", now=NOW)
    with pytest.raises(error):
        call(engine)  # type: ignore[operator]
    assert [t["name"] for t in tokens.list_tokens(engine)] == ["ana"]
