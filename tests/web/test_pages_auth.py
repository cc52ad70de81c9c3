"""Dashboard login and logout with real tokens: the form, bad tokens, revocation, CSRF, and a
``next`` that never leaves the site."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, login, page, text_of

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.web.pages.common import safe_next


def test_login_form_then_the_page_asked_for(client: TestClient, make_token: TokenMaker) -> None:
    first = client.get("/review", params={"status": "all"}, headers=HTML, follow_redirects=False)
    assert first.status_code == 303
    target = first.headers["location"]
    assert target == "/login?next=/review%3Fstatus%3Dall"
    form = page(client, target)
    assert 'name="next" value="/review?status=all"' in form
    assert 'type="password"' in form and "Iniciar sesión" in form
    got = login(client, make_token("operator", "olga"), "/review?status=all")
    assert got.status_code == 303 and got.headers["location"] == "/review?status=all"
    html = page(client, "/review", params={"status": "all"})
    assert text_of(html, "whoami-name") == "olga" and text_of(html, "whoami-role") == "operador"
    assert text_of(html, "flash-ok") == "Hola, olga."
    # The flash is shown once.
    assert 'data-testid="flash-ok"' not in page(client, "/review")


def test_a_bad_token_shows_an_error_and_opens_nothing(client: TestClient) -> None:
    for token in ("ll_not-a-real-token", "", "   "):
        got = login(client, token)
        assert got.status_code == 401
        assert text_of(got.text, "login-error") == "Token desconocido o revocado."
    assert client.get("/overview.json").status_code == 401
    assert page(client, "/", status=303) == ""


def test_logout_ends_the_session_and_needs_the_csrf_token(
    client: TestClient, make_token: TokenMaker
) -> None:
    login(client, make_token("viewer", "vera"))
    html = page(client, "/")
    refused = client.post("/logout", data={}, headers=HTML, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/overview.json").status_code == 200  # still logged in
    out = client.post(
        "/logout", data={"csrf_token": csrf(html)}, headers=HTML, follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "Cerraste sesión." in page(client, "/login")
    assert client.get("/overview.json").status_code == 401
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303
    # A logout with no session left just goes to the login page.
    again = client.post("/logout", data={}, headers=HTML, follow_redirects=False)
    assert again.status_code == 303


def test_a_revoked_tokens_session_is_refused_at_once(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "rita"))
    assert client.get("/overview.json").status_code == 200
    tokens.revoke(engine, "rita", now=utcnow())
    assert client.get("/overview.json").status_code == 401
    got = client.get("/gap", headers=HTML, follow_redirects=False)
    assert got.status_code == 303 and got.headers["location"].startswith("/login")
    # The cookie was cleared with it: nothing left to present.
    assert client.get("/overview.json").status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http:/evil",
        "evil",
        "javascript:alert(1)",
        "/ok\r\nLocation: https://evil.example",
    ],
)
def test_next_never_leaves_the_site(
    client: TestClient, make_token: TokenMaker, target: str
) -> None:
    got = login(client, make_token("viewer"), target)
    assert got.status_code == 303
    assert got.headers["location"] == "/"
    form = page(client, "/login", next=target)
    assert 'name="next" value="/"' in form


def test_safe_next_keeps_local_paths_with_their_query() -> None:
    assert safe_next("/gap?risk=high&reason=no_identity") == "/gap?risk=high&reason=no_identity"
    assert safe_next("/persons/abc") == "/persons/abc"
    assert safe_next(None) == "/"
    assert safe_next("https://evil.example/gap") == "/"


def test_language_choice_survives_login(client: TestClient, make_token: TokenMaker) -> None:
    assert "Log in" in page(client, "/login", lang="en")
    got = login(client, make_token("viewer", "vic"))
    assert got.status_code == 303
    html = page(client, "/")
    assert '<html lang="en">' in html and text_of(html, "flash-ok") == "Welcome, vic."
    assert text_of(html, "whoami-role") == "viewer"
