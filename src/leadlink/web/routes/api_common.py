"""What the API's routers share: the page model of every list, the query parameter types
whose validation gives a 422 naming the parameter, the page -> store window conversion, and the
edge's guards on what a client sends (integer bounds, lone surrogates, bodies that are not
UTF-8): out-of-range or unencodable input is a 422 naming the field, never a 500 from the
database driver or an encoder deep inside."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from leadlink.store.listing import Window
from leadlink.web.deps import Page as PageParams

# The largest id a path or query parameter takes: what every id column holds on both stores.
# They are INTEGER columns: 32-bit on PostgreSQL (a bigger value is a NumericValueOutOfRange
# there, found by Schemathesis on PostgreSQL) and 64-bit on SQLite (beyond which its driver
# raises OverflowError). Within it an unknown id is a 404; beyond it a 422 naming the field.
MAX_ID = 2**31 - 1
# Rows per page, and rows to skip at most: 2**53 - 1 is the largest integer a JSON client
# (JavaScript's Number) holds exactly, and offset + limit stays far inside 64 bits.
MAX_LIMIT = 500
MAX_OFFSET = 2**53 - 1

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The one shape of every list response (``deps.paged``)."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Item(BaseModel):
    """A list row: the fields below are documented; rows may carry more (kept, not dropped)."""

    model_config = ConfigDict(extra="allow")


class SummaryTable(BaseModel):
    """Where a money view's figures come from (docs/summaries.md): its summary table, computed
    at ``refreshed_at`` for the day ``as_of`` in ``seconds``, ``rows`` rows. ``lagging``: a job
    that changes its inputs is running, or failed or died, since then, so the figures may be
    behind the data until the next job or `leadlink refresh`."""

    refreshed_at: str
    as_of: str
    rows: int
    seconds: float
    lagging: bool


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (at most 2^53 - 1).")
    ] = 0,
) -> PageParams:
    """``deps.page_params`` with an upper bound on ``offset`` (deps.py is shared with the
    dashboard pages; the API's routes take this one)."""
    return PageParams(limit, offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query_only(request: Request) -> None:
    """Refuse a query parameter the route does not take (``?stauts=open`` would otherwise
    answer every row, as if unfiltered): a 422 naming it, in FastAPI's own error shape."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "input": request.query_params[name],
             "msg": f"Unknown query parameter: {route.path} takes "
                    f"{', '.join(sorted(known)) or 'none'}"}
            for name in unknown
        ])  # fmt: skip


def no_surrogates(value: Any) -> Any:
    """Refuse a lone surrogate (``"\\ud800"`` is valid JSON, but no UTF-8 text holds it: it
    would fail later, in the content hash or the database driver). Looks into lists and
    dicts, so it guards a whole body's extra fields too."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"contains a lone surrogate (U+{ord(value[exc.start]):04X}) at character "
                f"{exc.start}: text must be valid Unicode"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            no_surrogates(key)
            no_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            no_surrogates(item)
    return value


def searchable(value: Any) -> Any:
    """A filter or key from the URL: valid Unicode and no NUL character, which no PostgreSQL
    text holds (the driver refused it: a 500 Schemathesis found on PostgreSQL only)."""
    no_surrogates(value)
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"contains a NUL character at character {value.index(chr(0))}")
    return value


def window(page: PageParams) -> Window:
    return Window(page.limit, page.offset)


def _week(value: Any) -> dt.date | None:
    """``2026-W45`` (ISO week) or the Monday it starts on -> that Monday."""
    if value is None or isinstance(value, dt.date):
        return value
    value = str(value)
    found = re.fullmatch(r"([0-9]{4})-W([0-9]{2})", value.strip())
    if found:
        try:
            return dt.date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise ValueError(f"{value!r} is not a week of that year") from None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        raise ValueError("a week is YYYY-Www (ISO week, e.g. 2026-W45) or its Monday YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date") from None
    if day.weekday() != 0:
        raise ValueError(f"{day} is a {day:%A}: a week starts on Monday")
    return day


def _phone(value: str | None) -> str | None:
    """The digits of a phone; the last nine (a Peruvian mobile) when there are more."""
    if value is None:
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) < 4:
        raise ValueError("a phone search needs at least 4 digits")
    return digits[-9:]


def _document(value: str | None) -> str | None:
    """Letters and digits only, upper case (DNI, CE, licence Q+8)."""
    if value is None:
        return None
    kept = re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if not kept:
        raise ValueError("a document search needs letters or digits")
    return kept


def text_filter(description: str, max_length: int = 100) -> Any:
    """A text query parameter: bounded, valid Unicode, no NUL (the validator rides on the
    field's metadata, as ``Annotated[..., AfterValidator]`` would)."""
    info = Query(description=description, max_length=max_length)
    info.metadata.append(AfterValidator(searchable))
    return info


def id_path(description: str) -> Any:
    """An integer id in the path, 1 to :data:`MAX_ID`."""
    return Path(ge=1, le=MAX_ID, description=description)


def id_query(description: str) -> Any:
    """An optional integer id in the query, 1 to :data:`MAX_ID`."""
    return Query(ge=1, le=MAX_ID, description=description)


def key_path(description: str, max_length: int = 200) -> Any:
    """A text key in the path (a lead id, a person key), bounded like a record key."""
    info = Path(description=description, max_length=max_length)
    info.metadata.append(AfterValidator(searchable))
    return info


def _json_typed(content_type: str | None) -> bool:
    """Whether FastAPI would parse the body as JSON (none given, or ``application/*json``)."""
    if not content_type:
        return True
    mime = content_type.partition(";")[0].strip().lower()
    return mime.startswith("application/") and (mime.endswith("/json") or mime.endswith("+json"))


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that looks ``what`` up: 404 when there is none."""
    return {404: {"description": f"No such {what}."}}


class JsonBodyRoute(APIRoute):
    """A route whose JSON body that is not UTF-8 is a 422 like any other unparsable JSON.

    FastAPI answers a JSON syntax error with a 422 (``json_invalid``) but bytes that do not
    decode as UTF-8 with an undocumented 400 ("There was an error parsing the body": its
    ``json.loads`` raises UnicodeDecodeError, not JSONDecodeError). JSON is UTF-8 (RFC 8259
    section 8.1), so invalid UTF-8 is invalid JSON: the same 422, the status the schema
    documents, naming the byte. The body is read here once; FastAPI reuses the cached bytes.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def route(request: Request) -> Response:
            if _json_typed(request.headers.get("content-type")):
                body = await request.body()
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise RequestValidationError([{
                        "type": "json_invalid", "loc": ("body", exc.start),
                        "msg": "JSON decode error",
                        "input": {}, "ctx": {"error": f"not UTF-8: {exc.reason}"},
                    }]) from None  # fmt: skip
            return await handler(request)

        return route


WeekParam = Annotated[
    dt.date | None,
    Query(
        description="ISO week `2026-W45`, or the Monday it starts on (`2026-11-02`).",
        json_schema_extra={"type": "string", "examples": ["2026-W45", "2026-11-02"]},
    ),
    BeforeValidator(_week),
]
PhoneParam = Annotated[
    str | None,
    Query(description="Phone digits (separators and +51 ignored).", max_length=40),
    AfterValidator(_phone),
]
DocumentParam = Annotated[
    str | None,
    Query(description="DNI, CE or licence: letters and digits, exact.", max_length=40),
    AfterValidator(_document),
]
AgeDays = Annotated[int | None, Query(ge=0, le=36500, description="Age in days of the record.")]
