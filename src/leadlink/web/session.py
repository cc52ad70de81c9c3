"""The dashboard's login session and its CSRF token.

The cookie is signed and HttpOnly (Starlette's SessionMiddleware, itsdangerous), Secure by
default (``session_https_only``). It carries a random session id, never the token; the server
keeps the session (``web_session``, see ``pipeline/operations/tokens.py``) and every request
by cookie checks it is neither ended (logout, token revoked) nor expired, so a saved copy of
the cookie dies with the session. The cookie also carries the CSRF token, the language and
flash messages. Every form carries the CSRF token, the login form too (before any session:
an anonymous cookie holds it), so another site can neither write with someone's session nor
log them in as someone else; a write authenticated by the cookie without it is refused (403).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def start(request: Request, session_id: str) -> None:
    """A fresh cookie for a new server-side session: nothing of the anonymous one survives
    (not its CSRF token either: a token planted before login is worthless after)."""
    request.session.clear()
    request.session["sid"] = session_id
    request.session["csrf"] = secrets.token_urlsafe(32)


def end(request: Request) -> None:
    request.session.clear()


def session_id(request: Request) -> str | None:
    value = request.session.get("sid")
    return value if isinstance(value, str) and value else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token (templates put it in every form)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def sent_csrf(request: Request) -> str | None:
    """The CSRF token the request carries: the header, else the form field. Only the body is
    awaited here (no database), and only for a form and when the session has a token to
    compare with."""
    if not isinstance(request.session.get("csrf"), str):
        return None
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent


def csrf_matches(request: Request, sent: str | None) -> bool:
    """``sent`` (from ``sent_csrf``) is the session's CSRF token."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str):
        return False
    return sent is not None and hmac.compare_digest(sent, expected)


async def csrf_ok(request: Request) -> bool:
    """The request carries the session's CSRF token (header, or form field)."""
    return csrf_matches(request, await sent_csrf(request))
