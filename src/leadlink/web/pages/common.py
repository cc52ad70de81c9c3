"""What every dashboard page shares: templates, the language, the one response that is HTML
or JSON, flash messages, the error page and the form writer check.

A page computes its data dict once, with the services the CLI uses, and ``respond`` returns
that dict as JSON (``/<page>.json`` or ``?format=json``) or renders it: the same query serves
both, so the dashboard shows exactly what the JSON (and the CLI's ``--json``) says. Charts and
labels are derived from the dict at render time only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from leadlink.errors import LeadlinkError
from leadlink.pipeline.operations.tokens import Principal
from leadlink.web import i18n, session
from leadlink.web.deps import (
    CookieCsrfDep,
    EngineDep,
    NotAuthenticated,
    NowDep,
    current_principal,
    require_operator,
)
from leadlink.web.errors import status_for
from leadlink.web.i18n import Translator
from leadlink.web.pages.tables import Tables, csv_response

TEMPLATES = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
i18n.install(TEMPLATES.env)

# (path, message key, testid): the navigation, in order.
NAV = (
    ("/", "nav.overview", "nav-overview"),
    ("/backlog", "nav.backlog", "nav-backlog"),
    ("/gap", "nav.gap", "nav-gap"),
    ("/jobs", "nav.jobs", "nav-jobs"),
    ("/claims", "nav.claims", "nav-claims"),
    ("/activity", "nav.activity", "nav-activity"),
    ("/review", "nav.review", "nav-review"),
    ("/alerts", "nav.alerts", "nav-alerts"),
    ("/model", "nav.model", "nav-model"),
)

View = Callable[[Translator, dict[str, Any]], Mapping[str, Any]]


def wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or request.query_params.get("format") == "json"


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv"


def csv_url(request: Request, table: str) -> str:
    """This page's table ``table`` as CSV, with the page's current filters, sort and page."""
    path = request.url.path.removesuffix(".json")
    query = _query_without(request, "lang", "format", "table")
    return local_url(path, {**query, "format": "csv", "table": table})


def json_response(data: Any, status_code: int = 200) -> Response:
    # default=str like the CLI's --json (dates as YYYY-MM-DD): the two outputs compare equal.
    body = json.dumps(data, default=str, sort_keys=True, ensure_ascii=False)
    return Response(body, status_code=status_code, media_type="application/json")


def translator(request: Request) -> Translator:
    return Translator(i18n.language(request))


def local_url(path: str, params: Mapping[str, Any] | None = None) -> str:
    """A path on this site with query parameters (lists repeat the key); Nones left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(key, str(v)) for v in values if v is not None and v != ""]
    return path + (f"?{urlencode(pairs)}" if pairs else "")


def _query_without(request: Request, *drop: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key not in drop:
            out.setdefault(key, []).append(value)
    return out


def json_url(request: Request, json_path: str) -> str:
    return local_url(json_path, _query_without(request, "lang", "format"))


def switch_url(request: Request, lang: str) -> str:
    """This page in another language (the choice is then kept in the session)."""
    return local_url(request.url.path, {**_query_without(request, "lang"), "lang": lang})


def flash(request: Request, kind: str, text: str) -> None:
    """A message for the next page shown (after a redirect): kind ``ok`` or ``error``."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], {"kind": kind, "text": text}]


def _pop_flash(request: Request) -> list[dict[str, str]]:
    found = request.session.pop("flash", None)
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    principal: Principal | None,
    status_code: int = 200,
    json_path: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    t = translator(request)
    base: dict[str, Any] = {
        "t": t,
        "principal": principal,
        "csrf": session.csrf_token(request),
        "flashes": _pop_flash(request),
        "nav": NAV,
        "path": request.url.path,
        # The header's search box keeps the query on its results page.
        "search_q": request.query_params.get("q") if request.url.path == "/search" else None,
        "languages": [(code, name, switch_url(request, code)) for code, name in t.others()],
        "json_url": json_url(request, json_path) if json_path else None,
        "url": local_url,
        "csv_url": lambda table: csv_url(request, table),
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code, headers=headers
    )


def respond(
    request: Request,
    principal: Principal,
    template: str,
    build: Callable[[], dict[str, Any]],
    *,
    json_path: str,
    view: View | None = None,
    tables: Tables | None = None,
) -> Response:
    """Compute the page's data once; answer it as JSON, as one of its ``tables`` in CSV
    (``?format=csv&table=NAME``, web/pages/tables.py) or render it with ``view``'s extras.

    A LeadlinkError (a bad filter, an unknown person) is the app's JSON error for JSON, an
    error page with the same status for HTML and CSV; an unknown table is a 404 page.
    """
    if wants_csv(request):
        name = request.query_params.get("table", "")
        if name not in (tables or {}):
            known = ", ".join(tables or {}) or "none"
            return error_page(request, principal, 404,
                              f"unknown table {name!r}; this page's tables: {known}")  # fmt: skip
    try:
        data = build()
    except LeadlinkError as exc:
        if wants_json(request):
            raise
        return error_page(request, principal, status_for(exc), translator(request).error(exc))
    if wants_json(request):
        return json_response(data)
    if wants_csv(request) and tables is not None:
        page = json_path.partition("?")[0].rsplit("/", 1)[-1].removesuffix(".json")
        name = request.query_params["table"]
        return csv_response(page, name, data, tables[name])
    extras = dict(view(translator(request), data)) if view is not None else {}
    return render(request, template, {"data": data, **extras}, principal=principal,
                  json_path=json_path)  # fmt: skip


def error_page(
    request: Request, principal: Principal | None, status_code: int, detail: str
) -> Response:
    return render(request, "error.html", {"status": status_code, "detail": detail},
                  principal=principal, status_code=status_code)  # fmt: skip


def svg(markup: str) -> Markup:
    """A chart from leadlink.web.charts: its text is escaped there, so it is safe to inline."""
    return Markup(markup)  # web/charts.py escapes every text it writes


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"  # browsers read "/\evil.example" as "//evil.example"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def form_writer(
    request: Request, engine: EngineDep, now: NowDep, csrf: CookieCsrfDep
) -> Principal | str:
    """OperatorDep for dashboard forms: the operator, or why not in the page's language
    (rendered as a 403 page, not the API's JSON). Not logged in stays the app's 401/redirect;
    CSRF is checked by ``current_principal`` for a cookie session exactly as for the API. A
    plain ``def`` like it (the thread pool)."""
    t = translator(request)
    try:
        principal = current_principal(request, engine, now, csrf)
    except NotAuthenticated:
        raise
    except HTTPException as exc:
        if exc.status_code == 403:  # the one 403 current_principal raises: the CSRF token
            return t("error.csrf")
        raise
    if not principal.can_write:
        return t("error.operator_only", name=principal.name)
    return require_operator(principal)


FormWriterDep = Annotated[Principal | str, Depends(form_writer)]
