"""The served OpenAPI schema, completed: every status an operation can answer is documented,
with the body it carries.

FastAPI documents what a route declares (its answer, ``responses=``, and a 422 when it takes
parameters). What the app adds around the routes it cannot see, so this completes each
operation from what its route depends on, the one source of truth:

- it authenticates (``current_principal``): 401, with ``WWW-Authenticate`` (``app.py``);
- it needs an operator (``require_operator``): 403 (a viewer's token, or a dashboard write
  without its CSRF token);
- it reads the store (``get_engine``): 503, the database unreachable (``DatabaseError``,
  ``web/errors.py``);
- it takes a body: 413 (larger than the body cap) and 408 (sent too slowly), answered by
  ``web/security.py`` before any route runs;
- its 422 has two shapes: FastAPI's validation error (``detail`` a list, each naming its
  field in ``loc``) or a ``BadInputError`` / ``UsageError`` (``detail`` a string, ``column``
  naming the field).

Every error body without a declared schema is ``Error``: ``{"detail": "..."}`` (plus
``error``, the exception's class, for a ``LeadlinkError``). 404 and 409 are the routes' own to
declare (only a route knows it looks something up). A 500 is never documented: it is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from leadlink.web.deps import current_principal, get_engine, require_operator

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong."},
        "error": {"type": "string", "description": "The LeadlinkError class, if one."},
    },
    "additionalProperties": True,
}
UNAUTHORIZED = {
    "description": "No token, or an unknown or revoked one (or no dashboard session).",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
}
FORBIDDEN = {"description": "A viewer's token (this needs an operator), or a dashboard write "
             "without its CSRF token."}  # fmt: skip
UNAVAILABLE = {"description": "The database is unreachable or failing: retry later."}
TOO_LARGE = {"description": "The body is larger than the cap (`LEADLINK_MAX_BODY_BYTES`)."}
TIMEOUT = {"description": "The body was not sent in time (`LEADLINK_BODY_TIMEOUT_SECONDS`)."}
INVALID_ANYOF = [{"$ref": "#/components/schemas/HTTPValidationError"}, ERROR_REF]


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` answer the completed schema (built once, cached like FastAPI's)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(app, base())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, route in _api_routes(app):
        if not route.include_in_schema:
            continue
        calls = set(_calls(route.dependant))
        for method in route.methods or ():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is not None:
                _complete(operation, calls, takes_body=route.body_field is not None)
    return schema


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Each API route with the path the schema knows it by. Newer FastAPI keeps an included
    router as one lazy entry of ``app.routes`` (its routes and prefix resolved on use); its
    ``iter_route_contexts`` walks them as the schema generator does."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: included routes are copied into app.routes, flat
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route
        return
    for context in contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield context.path_format or route.path_format, route


def _complete(operation: dict[str, Any], calls: set[Callable[..., Any]], takes_body: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    added: dict[str, dict[str, Any]] = {}
    if current_principal in calls:
        added["401"] = UNAUTHORIZED
    if require_operator in calls:
        added["403"] = FORBIDDEN
    if takes_body:
        added.update({"408": TIMEOUT, "413": TOO_LARGE})
    if get_engine in calls:
        added["503"] = UNAVAILABLE
    for status, response in added.items():
        responses.setdefault(status, dict(response))
    for status, response in responses.items():
        if status == "422":
            content = response.setdefault("content", {}).setdefault("application/json", {})
            content["schema"] = {"anyOf": INVALID_ANYOF}
        elif status[0] in "45" and not response.get("content", {}).get("application/json", {}).get(
            "schema"
        ):
            response["content"] = {"application/json": {"schema": ERROR_REF}}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable the route depends on, directly or through another dependency."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
