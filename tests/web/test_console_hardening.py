"""Issue 15 items 3 and 4 against the app on real SQLite and PostgreSQL: server-side sessions
(a saved cookie dies with logout, revocation or expiry), the login CSRF token, failed-login
throttling, the Secure cookie, and the security headers on every kind of response.

Each test failed before the hardening: the cookie alone was the session (a copy kept working
for 12 h), /login took any cross-site POST, logins were never throttled, the cookie was not
Secure by default and no response carried the headers."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, login, page

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.settings import Settings
from leadlink.store.models import WebSession
from leadlink.web import create_app
from leadlink.web.security import CSP

COOKIE = "leadlink_session"


def _sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(WebSession)).scalar_one())


# -- sessions -------------------------------------------------------------------------------


def test_a_cookie_saved_before_logout_is_refused_after_it(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "vera"))
    saved = client.cookies.get(COOKIE)
    assert saved and client.get("/overview.json").status_code == 200
    html = page(client, "/")
    out = client.post("/logout", data={"csrf_token": csrf(html)}, headers=HTML,
                      follow_redirects=False)  # fmt: skip
    assert out.status_code == 303
    # The attacker (or a shared computer) presents the copy: the server-side row is ended.
    client.cookies.clear()
    client.cookies.set(COOKIE, saved)
    assert client.get("/overview.json").status_code == 401
    with engine.connect() as conn:
        ended = conn.execute(select(WebSession.ended_at)).scalars().all()
    assert len(ended) == 1 and ended[0] is not None


def test_revoking_a_token_ends_its_saved_sessions(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "rita"))
    saved = client.cookies.get(COOKIE)
    tokens.revoke(engine, "rita", now=utcnow())
    client.cookies.clear()
    client.cookies.set(COOKIE, str(saved))
    assert client.get("/overview.json").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(WebSession.ended_at)).scalar_one() is not None


def test_an_expired_session_row_is_refused_even_with_a_valid_signature(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "eva"))
    assert client.get("/overview.json").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert client.get("/overview.json").status_code == 401


def test_a_tampered_cookie_is_no_session(client: TestClient, make_token: TokenMaker) -> None:
    login(client, make_token("viewer", "tomas"))
    value = str(client.cookies.get(COOKIE))
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert client.get("/overview.json").status_code == 401


def test_the_session_cookie_is_secure_httponly_and_lax_by_default(
    db_url: str, engine: Engine, make_token: TokenMaker
) -> None:
    settings = Settings(db=db_url, secret_key="test-secret-key-0123456789")
    assert settings.session_https_only is True
    with TestClient(create_app(settings, engine), base_url="https://testserver") as client:
        got = login(client, make_token("viewer", "sara"))
        assert got.status_code == 303
        cookie = next(v for k, v in got.headers.multi_items()
                      if k == "set-cookie" and v.startswith(COOKIE))  # fmt: skip
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"secure", "httponly", "samesite=lax"} <= flags
        assert client.get("/overview.json").status_code == 200


# -- login CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [None, "", "forged-token-from-another-site"])
def test_login_without_the_pre_session_token_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine, sent: str | None
) -> None:
    """Another site's form posting the attacker's token would log the victim in as him."""
    token = make_token("operator", "mallory")
    client.get("/login", headers=HTML)  # the victim has a pre-session cookie of her own
    data = {"token": token} | ({} if sent is None else {"csrf_token": sent})
    got = client.post("/login", data=data, headers=HTML, follow_redirects=False)
    assert got.status_code == 403
    assert _sessions(engine) == 0
    assert client.get("/overview.json").status_code == 401


def test_a_cross_site_login_with_no_cookie_at_all_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    got = client.post("/login", data={"token": make_token("operator", "m2"), "csrf_token": "x"},
                      headers=HTML, follow_redirects=False)  # fmt: skip
    assert got.status_code == 403 and _sessions(engine) == 0


# -- failed-login throttling ----------------------------------------------------------------


def test_the_sixth_failed_login_in_a_minute_is_429_and_success_is_not_counted(
    db_url: str, engine: Engine, make_token: TokenMaker
) -> None:
    settings = Settings(db=db_url, secret_key="test-secret-key-0123456789",
                        session_https_only=False, login_rate_limit="5/minute")  # fmt: skip
    good = make_token("viewer", "good")
    with TestClient(create_app(settings, engine)) as client:
        for _ in range(3):
            assert login(client, good).status_code == 303  # successes: not counted
        for _ in range(5):
            assert login(client, "ll_wrong").status_code == 401
        throttled = login(client, "ll_wrong")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        # Even the right token waits: guessing must not go on through the window.
        assert login(client, good).status_code == 429


def test_a_bad_rate_limit_setting_is_a_clear_config_error(db_url: str, engine: Engine) -> None:
    from leadlink.errors import ConfigError

    settings = Settings(db=db_url, login_rate_limit="lots")
    with pytest.raises(ConfigError, match="LEADLINK_LOGIN_RATE_LIMIT"):
        create_app(settings, engine)


# -- security headers -----------------------------------------------------------------------


@pytest.fixture
def https_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/login", HTML, 200),  # a page
        ("/api/persons", {}, 401),  # an API route without a token
        ("/api/persons/nobody", "viewer", 404),
        ("/api/persons", "viewer", 200),  # JSON full of names and phones
        ("/nowhere", {}, 404),
        ("/static/leadlink.css", {}, 200),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, viewer: dict[str, str], path: str, headers: object, status: int
) -> None:
    sent = viewer if headers == "viewer" else headers
    assert isinstance(sent, dict)
    got = client.get(path, headers=sent, follow_redirects=False)
    assert got.status_code == status, got.text[:300]
    assert got.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    assert got.headers["x-frame-options"] == "DENY"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["referrer-policy"] == "no-referrer"
    if path.startswith("/static/"):
        assert "no-store" not in got.headers.get("cache-control", "")
    else:
        assert got.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in got.headers  # plain http: HSTS means nothing


def test_a_refused_body_and_https_answers_carry_them_too(
    https_client: TestClient, operator: dict[str, str], web_settings: Settings
) -> None:
    big = b"x" * (web_settings.max_body_bytes + 1)
    got = https_client.post("/api/leads", headers={**operator, "content-type": "application/json"},
                            content=big)  # fmt: skip
    assert got.status_code == 413
    assert got.headers["x-frame-options"] == "DENY"
    assert got.headers["strict-transport-security"].startswith("max-age=")
