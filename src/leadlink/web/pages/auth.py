"""Dashboard login (paste a token) and logout.

A login makes a server-side session (``web_session``); the cookie holds its random id, never
the token (``web/session.py``). Every request re-checks the session and its token, so logout
and revoking the token end it at once, for every copy of the cookie. The login form carries
a CSRF token from the anonymous cookie (no login CSRF), and failed logins are throttled per
client address (``web/throttle.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from leadlink.pipeline.operations import tokens
from leadlink.web import session
from leadlink.web.deps import EngineDep, NowDep, SettingsDep
from leadlink.web.pages.common import error_page, flash, render, safe_next, translator
from leadlink.web.throttle import LoginThrottle

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(
    request: Request, next_: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    # render() puts the (anonymous) cookie's CSRF token in the form, making one if needed.
    return render(request, "login.html", {"next": safe_next(next_), "error": None},
                  principal=None)  # fmt: skip


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    token: Annotated[str, Form()] = "",
    next_: Annotated[str | None, Form(alias="next")] = None,
    csrf_token: Annotated[str | None, Form(alias=session.CSRF_FIELD)] = None,
) -> Response:
    target = safe_next(next_)
    t = translator(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = _address(request)
    wait = throttle.retry_after(address)
    if wait is not None:
        return render(request, "login.html",
                      {"next": target, "error": t("login.throttled", seconds=wait)},
                      principal=None, status_code=429,
                      headers={"Retry-After": str(wait)})  # fmt: skip
    if not session.csrf_matches(request, csrf_token):
        # Another site's form would log this browser in as someone else (login CSRF).
        return error_page(request, None, 403, t("error.csrf"))
    principal = tokens.authenticate(engine, token.strip(), now=now) if token.strip() else None
    if principal is None:
        throttle.failed(address)
        return render(request, "login.html", {"next": target, "error": t("login.bad_token")},
                      principal=None, status_code=401)  # fmt: skip
    max_age = dt.timedelta(hours=settings.session_max_age_hours)
    session_id = tokens.start_session(engine, principal, now=now, max_age=max_age)
    session.start(request, session_id)  # a fresh cookie: nothing of the anonymous one survives
    request.session["lang"] = t.lang  # ... except the language the person chose
    flash(request, "ok", t("login.welcome", name=principal.name))
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, engine: EngineDep, now: NowDep) -> Response:
    """Ends the session, on the server too: a saved copy of the cookie is refused from now on.
    With a session the form must carry its CSRF token (so another site cannot log people
    out); a cookie with no session just goes to the login."""
    t = translator(request)
    session_id = session.session_id(request)
    if session_id is not None:
        if not await session.csrf_ok(request):
            return error_page(request, None, 403, t("error.csrf"))
        await run_in_threadpool(tokens.end_session, engine, session_id, now=now)
    session.end(request)
    request.session["lang"] = t.lang
    flash(request, "ok", t("login.logged_out"))
    return RedirectResponse("/login", status_code=303)
