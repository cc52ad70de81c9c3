"""Dashboard login (paste a token) and logout.

The session cookie holds the token's id, never the token (``web/session.py``); every request
re-checks the token, so revoking it ends its sessions at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from leadlink.pipeline.operations import tokens
from leadlink.web import session
from leadlink.web.deps import EngineDep, NowDep
from leadlink.web.pages.common import error_page, flash, render, safe_next, translator

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(
    request: Request, next_: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return render(request, "login.html", {"next": safe_next(next_), "error": None},
                  principal=None)  # fmt: skip


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    now: NowDep,
    token: Annotated[str, Form()] = "",
    next_: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    target = safe_next(next_)
    principal = tokens.authenticate(engine, token.strip(), now=now) if token.strip() else None
    t = translator(request)
    if principal is None:
        return render(request, "login.html", {"next": target, "error": t("login.bad_token")},
                      principal=None, status_code=401)  # fmt: skip
    session.start(request, principal)  # a fresh session: nothing of a previous one survives
    request.session["lang"] = t.lang  # ... except the language the person chose
    flash(request, "ok", t("login.welcome", name=principal.name))
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Ends the session. With a live session the form must carry its CSRF token (so another
    site cannot log people out); a session that is already gone just goes to the login."""
    t = translator(request)
    if session.token_id(request) is not None and not await session.csrf_ok(request):
        return error_page(request, None, 403, t("error.csrf"))
    session.end(request)
    request.session["lang"] = t.lang
    flash(request, "ok", t("login.logged_out"))
    return RedirectResponse("/login", status_code=303)
