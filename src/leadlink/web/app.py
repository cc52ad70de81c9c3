"""The app factory: settings and engine in ``app.state``, middleware, error translation, routes.

One exception root (``LeadlinkError``) becomes an HTTP status by one table (``web/errors.py``).
The body cap and the security headers (``web/security.py``) wrap the whole stack, Starlette's
own error middleware included: they act before anything reads a body or checks a token, and
every response, a 500 too, carries the headers.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from leadlink import __version__
from leadlink.errors import BadInputError, LeadlinkError
from leadlink.settings import Settings, load_settings
from leadlink.store.db import make_engine
from leadlink.web import observability
from leadlink.web.deps import NotAuthenticated, ViewerDep
from leadlink.web.errors import status_for, validation_error
from leadlink.web.pages.common import error_page, translator
from leadlink.web.routes import ROUTERS
from leadlink.web.routes.api_common import known_query_only
from leadlink.web.security import BodyLimit, SecurityHeaders
from leadlink.web.throttle import LoginThrottle

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("leadlink.web")


class _Console(FastAPI):
    """FastAPI with the outer guards around its whole middleware stack (``add_middleware``
    can only add layers inside Starlette's error middleware)."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        inner = BodyLimit(super().build_middleware_stack(), max_bytes=settings.max_body_bytes,
                          timeout=settings.body_timeout_seconds)  # fmt: skip
        return SecurityHeaders(inner)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = _Console(
        title="leadlink",
        version=__version__,
        description="Who is behind every lead, and what it is worth: the operations console.",
        # The schema needs a token like everything but /healthz (see _docs). No Swagger page:
        # its assets come from a CDN, and the console must work with no internet.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.db)
    app.state.login_throttle = LoginThrottle(settings.login_rate_limit)  # per server process
    if settings.secret_key is None:
        log.warning("LEADLINK_SECRET_KEY is not set: dashboard sessions end when the server stops")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key or secrets.token_urlsafe(32),
        session_cookie="leadlink_session",
        max_age=int(settings.session_max_age_hours * 3600),
        same_site="lax",
        https_only=settings.session_https_only,
    )
    metrics = observability.Metrics(app.state.engine, settings)
    observability.install(app, metrics)
    observability.routes(app, metrics)
    _errors(app)
    _docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        # The API refuses a query parameter it does not know; pages ignore one (?lang, ?format).
        strict = [Depends(known_query_only)] if router.prefix.startswith("/api") else []
        app.include_router(router, dependencies=strict)
    return app


def _docs(app: FastAPI) -> None:
    from leadlink.web.openapi import install  # every status the API answers (web/openapi.py)

    install(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: ViewerDep) -> JSONResponse:
        return JSONResponse(app.openapi())


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/metrics", "/healthz")) or path.endswith(".json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # A page asked with a bad parameter (a hand-edited ?limit=) gets the error page in its
        # language, naming the parameters; API callers keep FastAPI's 422 body.
        if not _wants_html(request):
            return await validation_error(request, exc)
        names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        t = translator(request)
        return error_page(request, None, 422, t("error.invalid_parameters", names=", ".join(names)))

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_html(request) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=401, headers=exc.headers)

    @app.exception_handler(LeadlinkError)
    async def leadlink_error(request: Request, exc: LeadlinkError) -> Response:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s", exc, extra={
                "request_id": getattr(request.state, "request_id", None)})  # fmt: skip
        body: dict[str, object] = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, BadInputError):
            body.update({"file": exc.file, "line": exc.line, "column": exc.column})
        return JSONResponse(body, status_code=status)
