"""What the read API's routers share: the page model of every list, the query parameter types
whose validation gives a 422 naming the parameter, and the page -> store window conversion."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from leadlink.store.listing import Window
from leadlink.web.deps import Page as PageParams

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
    return Query(description=description, max_length=max_length)


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
