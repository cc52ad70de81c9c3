"""What routes depend on, injected with ``Annotated``: engine, settings, clock, the caller
(by bearer token or dashboard session) with its role, and pagination."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import Engine

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.pipeline.operations.tokens import Principal
from leadlink.settings import Settings
from leadlink.web import session


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[dt.datetime, Depends(utcnow)]


class NotAuthenticated(HTTPException):
    """No valid token: 401 for the API, a redirect to /login for dashboard pages (app.py)."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def cookie_write_csrf(request: Request) -> str | None:
    """The CSRF token sent with a write the dashboard session authenticates (None for a
    bearer call, a safe method or no session). Async only to await the form body: it touches
    no database, so the authentication that checks it can run in the thread pool."""
    if (
        request.method in session.SAFE_METHODS
        or request.headers.get("authorization") is not None
        or session.session_id(request) is None
    ):
        return None
    return await session.sent_csrf(request)


CookieCsrfDep = Annotated[str | None, Depends(cookie_write_csrf)]


def current_principal(
    request: Request, engine: EngineDep, now: NowDep, csrf: CookieCsrfDep
) -> Principal:
    """The caller: a bearer token, else the dashboard session (its ``web_session`` row); a
    cookie-authenticated write must carry the session's CSRF token. A plain ``def``, run in
    the thread pool: the token's ``last_used_at`` (a session's ``last_seen_at``) write may
    wait for SQLite's write lock (another process writing), and must not stop the event
    loop, and every other request, while it waits."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("Authorization must be 'Bearer <token>'")
        principal = tokens.authenticate(engine, value.strip(), now=now)
        if principal is None:
            raise NotAuthenticated("unknown or revoked token")
        request.state.actor = principal.name
        return principal
    # The server-side session, not the cookie alone: ended (logout, revoked token), expired or
    # unknown is no session, whatever copy of the cookie is presented.
    session_id = session.session_id(request)
    principal = tokens.session_principal(engine, session_id, now=now) if session_id else None
    if principal is None:
        session.end(request)
        raise NotAuthenticated("a token is required (Authorization: Bearer <token>, or log in)")
    if request.method not in session.SAFE_METHODS and not session.csrf_matches(request, csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    request.state.actor = principal.name
    return principal


def require_operator(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.can_write:
        raise HTTPException(403, f"token {principal.name!r} is a viewer: this needs an operator")
    return principal


ViewerDep = Annotated[Principal, Depends(current_principal)]
OperatorDep = Annotated[Principal, Depends(require_operator)]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Rows per page.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Rows to skip.")] = 0,
    page: Annotated[
        int | None, Query(ge=1, le=2**31, description="Page number, 1 the first; wins over offset.")
    ] = None,
) -> Page:
    # ``page`` is the pager's "go to page" form (a GET form, no JavaScript): it cannot compute
    # an offset, so the page number is turned into one here.
    return Page(limit, offset if page is None else (page - 1) * limit)


PageDep = Annotated[Page, Depends(page_params)]


def paged(items: list[object], total: int, page: Page) -> dict[str, object]:
    """The one shape of every list response."""
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
