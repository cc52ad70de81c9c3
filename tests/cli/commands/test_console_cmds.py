"""`leadlink token create|list|revoke` end to end: printed once, never listed, exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.store.db import make_engine

runner = CliRunner()


def run(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def test_create_prints_the_token_once_and_list_never_shows_it(db_url: str) -> None:
    out = run(db_url, "token", "create", "--role", "operator", "--name", "ana")
    token = next(line for line in out.splitlines() if line.startswith("ll_"))
    engine = make_engine(db_url)
    principal = tokens.authenticate(engine, token, now=utcnow())
    assert principal is not None and principal.role == "operator"
    listed = json.loads(run(db_url, "token", "list", "--json"))
    assert [(t["name"], t["role"], t["revoked_at"]) for t in listed] == [("ana", "operator", None)]
    assert token not in run(db_url, "token", "list")
    engine.dispose()


def test_create_json_and_revoke(db_url: str) -> None:
    created = json.loads(run(db_url, "token", "create", "--role", "viewer", "--json"))
    assert created["role"] == "viewer" and created["token"].startswith("ll_")
    assert created["name"].startswith("viewer-")
    revoked = json.loads(run(db_url, "token", "revoke", created["name"], "--json"))
    assert revoked["revoked_at"] is not None
    engine = make_engine(db_url)
    assert tokens.authenticate(engine, created["token"], now=utcnow()) is None
    engine.dispose()


def test_bad_calls_exit_2_with_a_message(db_url: str) -> None:
    assert "unknown role" in run(db_url, "token", "create", "--role", "root", code=2)
    run(db_url, "token", "create", "--role", "viewer", "--name", "ana")
    assert "already exists" in run(
        db_url, "token", "create", "--role", "viewer", "--name", "ana", code=2
    )
    assert "no token named" in run(db_url, "token", "revoke", "bob", code=2)
