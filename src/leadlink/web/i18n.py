"""The dashboard's words and formats: Spanish by default, English on request; soles, Peruvian
dates and Lima time.

One dict of messages per language with one key set (a test holds them equal). The language
comes from ``?lang=es|en`` and is kept in the session, so it sticks across pages; without
either it is Spanish. Amounts are ``S/ 1,234.00``; dates ``dd/mm/yyyy``; times are stored as
naive UTC and shown in America/Lima (UTC-5 all year: Peru has no daylight saving time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from jinja2 import Environment

from leadlink.web.messages_en import EN
from leadlink.web.messages_es import ES

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
MESSAGES: dict[str, dict[str, str]] = {"es": ES, "en": EN}
NONE = "—"


def _lima() -> dt.tzinfo:
    try:
        return ZoneInfo("America/Lima")
    except ZoneInfoNotFoundError:  # no tz database on this machine: Peru is UTC-5, no DST
        return dt.timezone(dt.timedelta(hours=-5), "PET")


LIMA = _lima()


def language(request: Request) -> str:
    """``?lang=`` if it names a language (remembered in the session), else the session's,
    else Spanish."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang") if "session" in request.scope else None
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """``t("key", name=...)``: the message in the language, formatted with the arguments.

    ``t.code("stage", "NO_IDENTITY")`` labels a code from the data (a stage, a reason, a
    status); a code without a message is shown as it is, never hidden.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.messages = MESSAGES[self.lang]

    def __call__(self, key: str, **args: Any) -> str:
        text = self.messages[key]
        return text.format(**args) if args else text

    def code(self, group: str, value: object) -> str:
        if value is None:
            return NONE
        return self.messages.get(f"{group}.{value}", str(value))

    @property
    def other(self) -> str:
        """The language the switch link offers."""
        return "en" if self.lang == "es" else "es"


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def format_soles(x: object) -> str:
    """``S/ 1,234.00`` (a minus sign before the symbol for a negative amount)."""
    value = _number(x)
    if value is None:
        return NONE
    sign = "-" if value < 0 else ""
    return f"{sign}S/ {abs(value):,.2f}"


def format_count(x: object) -> str:
    """A whole number with thousands separated by commas, like the amounts."""
    value = _number(x)
    if value is None:
        return NONE
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _as_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and ("T" in value or " " in value.strip()):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def to_lima(utc: dt.datetime) -> dt.datetime:
    """A stored time (naive UTC, or aware) in Lima."""
    aware = utc if utc.tzinfo is not None else utc.replace(tzinfo=dt.UTC)
    return aware.astimezone(LIMA)


def format_date(d: object) -> str:
    """``dd/mm/yyyy``. A date (or ISO date string) is shown as it is; a time is first taken
    to Lima, so a lead stamped 02:00 UTC shows the Lima day it happened."""
    when = _as_datetime(d)
    if when is not None:
        return to_lima(when).strftime("%d/%m/%Y")
    if isinstance(d, dt.date):
        return d.strftime("%d/%m/%Y")
    if isinstance(d, str):
        try:
            return dt.date.fromisoformat(d.strip()).strftime("%d/%m/%Y")
        except ValueError:
            return d
    return NONE


def format_datetime(utc_naive: object) -> str:
    """``dd/mm/yyyy HH:MM`` in Lima time, from a naive UTC datetime (or its ISO string)."""
    when = _as_datetime(utc_naive)
    if when is None:
        return format_date(utc_naive) if isinstance(utc_naive, dt.date | str) else NONE
    return to_lima(when).strftime("%d/%m/%Y %H:%M")


def format_percent(x: object) -> str:
    value = _number(x)
    return NONE if value is None else f"{value:,.1f} %"


def format_score(x: object) -> str:
    value = _number(x)
    return NONE if value is None else f"{value:.2f}"


FILTERS: dict[str, Callable[[object], str]] = {
    "soles": format_soles,
    "num": format_count,
    "date": format_date,
    "datetime": format_datetime,
    "percent": format_percent,
    "score": format_score,
}


def install(env: Environment) -> None:
    """Register the formats as Jinja filters: ``{{ amount|soles }}``, ``{{ day|date }}``."""
    env.filters.update(FILTERS)
