"""The dashboard's login session and its CSRF token.

The session lives in a signed, HttpOnly cookie (Starlette's SessionMiddleware, itsdangerous);
it holds the token's id, never the token, and each request re-checks that the token is still
active, so revoking a token ends its sessions at once. Every form carries the session's CSRF
token; a write authenticated by the cookie without it is refused (403).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from leadlink.pipeline.operations.tokens import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def start(request: Request, principal: Principal) -> None:
    request.session.clear()
    request.session["token_id"] = principal.token_id
    request.session["csrf"] = secrets.token_urlsafe(32)


def end(request: Request) -> None:
    request.session.clear()


def token_id(request: Request) -> int | None:
    value = request.session.get("token_id")
    return value if isinstance(value, int) else None


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
