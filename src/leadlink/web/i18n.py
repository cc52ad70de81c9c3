"""The dashboard's words and formats: Spanish by default, and every other language that has a
catalog; soles, dates and numbers in the language's own way, times in Lima.

The words are gettext catalogs (``web/locale/<lang>/LC_MESSAGES/messages.po``, compiled to
``.mo`` by ``make catalogs``), keyed by message id (``nav.overview``), so a translator works
with standard tools and a new language is a new catalog: the languages offered are the
catalogs found. The language comes from ``?lang=`` and is kept in the session, so it sticks
across pages; without either it is Spanish. A message a catalog lacks falls back to Spanish.

Amounts, counts and dates are Babel's, per locale: the language in Peru where CLDR knows it
(``es_PE``: ``S/ 1,234.00``, ``1/11/2026``), else the language alone. Times are stored as
naive UTC and shown in America/Lima (UTC-5 all year: Peru has no daylight saving time).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, get_datetime_format
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from babel.numbers import format_percent as babel_percent
from babel.support import NullTranslations, Translations
from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from leadlink.errors import Phrase, Phrases, Term

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "es"
COUNTRY = "PE"
CURRENCY = "PEN"
NONE = "—"


def languages() -> tuple[str, ...]:
    """The languages with a compiled catalog, Spanish first."""
    return _languages(LOCALE_DIR)


@functools.lru_cache(maxsize=8)
def _languages(directory: Path) -> tuple[str, ...]:
    found = sorted(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (DEFAULT_LANGUAGE, *(code for code in found if code != DEFAULT_LANGUAGE))


def _lima() -> dt.tzinfo:
    try:
        return ZoneInfo("America/Lima")
    except ZoneInfoNotFoundError:  # no tz database on this machine: Peru is UTC-5, no DST
        return dt.timezone(dt.timedelta(hours=-5), "PET")


LIMA = _lima()


def language(request: Request) -> str:
    """``?lang=`` if it names a language (remembered in the session), else the session's,
    else Spanish."""
    offered = languages()
    asked = request.query_params.get("lang")
    if asked in offered:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang") if "session" in request.scope else None
    return kept if kept in offered else DEFAULT_LANGUAGE


@functools.lru_cache(maxsize=32)
def format_locale(lang: str) -> Locale:
    """The Babel locale amounts and dates follow: the language in Peru if CLDR has it."""
    try:
        return Locale.parse(f"{lang}_{COUNTRY}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(lang)


@functools.lru_cache(maxsize=32)
def _catalog(directory: Path, lang: str) -> NullTranslations:
    """The language's catalog over Spanish's (what one lacks the other says), read once."""
    spanish = Translations.load(str(directory), [DEFAULT_LANGUAGE], DOMAIN)
    if lang == DEFAULT_LANGUAGE:
        return spanish
    own = Translations.load(str(directory), [lang], DOMAIN)
    own.add_fallback(spanish)
    return own


class Translator:
    """``t("key", name=...)``: the message in the language, formatted with the arguments.

    ``t.code("stage", "NO_IDENTITY")`` labels a code from the data (a stage, a reason, a
    status); a code without a message is shown as it is, never hidden.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in languages() else DEFAULT_LANGUAGE
        self.catalog = _catalog(LOCALE_DIR, self.lang)
        self.locale = format_locale(self.lang)

    def __call__(self, message: str, /, **args: Any) -> str:
        # Positional-only: a message may take an argument named like the parameter (``key``).
        text = self.catalog.gettext(message)
        return text.format(**args) if args else text

    def code(self, group: str, value: object) -> str:
        if value is None:
            return NONE
        key = f"{group}.{value}"
        text = self.catalog.gettext(key)
        return str(value) if text == key else text

    def error(self, exc: BaseException) -> str:
        """An error in the language: its ``error.<code>`` message filled with its params, else
        its own (English) text. tests/web/test_error_texts.py holds every coded raise to a
        message in each catalog whose fields its params fill, so the fallback is for errors
        the dashboard cannot meet."""
        return self._say(getattr(exc, "code", None), getattr(exc, "params", {}), str(exc))

    def _say(self, code: str | None, params: dict[str, Any], english: str) -> str:
        key = f"error.{code}"
        text = self.catalog.gettext(key) if code else key
        if text == key:
            return english
        said = {name: self._param(value) for name, value in params.items()}
        try:
            return text.format(**said)
        except (KeyError, IndexError, ValueError):
            return english

    def _param(self, value: object) -> object:
        # A param that is words (errors.Phrase, errors.Term) is said in the language too.
        if isinstance(value, Phrase):
            return self._say(value.code, value.params, str(value))
        if isinstance(value, Term):
            return self.code(value.group, value.value)
        if isinstance(value, Phrases):
            return value.sep.join(str(self._param(p)) for p in value.items)
        return value

    @property
    def currency_symbol(self) -> str:
        """The sol's symbol in the language (``S/`` in ``es_PE``), for a chart's axis."""
        return get_currency_symbol(CURRENCY, locale=self.locale)

    def formatter(self, name: str) -> Callable[[object], str]:
        """One of ``FORMATS`` in this language, for code that formats outside a template."""
        fmt = FORMATS[name]
        return lambda value: fmt(value, self.locale)

    def others(self) -> list[tuple[str, str]]:
        """The languages the switch offers, each named in itself: ``[("en", "English")]``."""
        named = []
        for code in languages():
            if code != self.lang:
                t = Translator(code)
                named.append((code, t("lang.name")))
        return named


SPANISH_PERU = format_locale(DEFAULT_LANGUAGE)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=32)
def _currency_pattern(locale: Locale) -> str | None:
    """The locale's currency pattern with CLDR's currency spacing, which Babel does not apply:
    a symbol of letters next to the digits is kept apart by a no-break space (``PEN 540.00``
    in ``en``, as ICU writes it, not ``PEN540.00``). ``None``: the locale's own pattern."""
    symbol = get_currency_symbol(CURRENCY, locale=locale)
    pattern = str(locale.currency_formats["standard"].pattern)
    if symbol[-1:].isalpha() and "¤#" in pattern:
        return pattern.replace("¤#", "¤\N{NO-BREAK SPACE}#")
    if symbol[:1].isalpha() and "0¤" in pattern:
        return pattern.replace("0¤", "0\N{NO-BREAK SPACE}¤")
    return None


def format_soles(x: object, locale: Locale = SPANISH_PERU) -> str:
    """An amount in soles, Babel's way for the locale: ``S/ 1,234.00`` in ``es_PE``."""
    value = _number(x)
    if value is None:
        return NONE
    return format_currency(value, CURRENCY, format=_currency_pattern(locale), locale=locale)


def format_count(x: object, locale: Locale = SPANISH_PERU) -> str:
    """A whole number with the locale's grouping (``12,345``); a fraction to two places."""
    value = _number(x)
    if value is None:
        return NONE
    pattern = "#,##0" if value.is_integer() else "#,##0.00"
    return format_decimal(value, format=pattern, locale=locale)


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


def _as_day(d: object) -> dt.date | None:
    when = _as_datetime(d)
    if when is not None:
        return to_lima(when).date()
    if isinstance(d, dt.date):
        return d
    if isinstance(d, str):
        try:
            return dt.date.fromisoformat(d.strip())
        except ValueError:
            return None
    return None


def format_date(d: object, locale: Locale = SPANISH_PERU, *, year: bool = True) -> str:
    """The locale's numeric date (``1/11/2026`` in ``es_PE``; ``1/11`` without the year). A
    date (or ISO date string) is shown as it is; a time is first taken to Lima, so a lead
    stamped 02:00 UTC shows the Lima day it happened. Text that is no date is shown as is."""
    day = _as_day(d)
    if day is None:
        return d if isinstance(d, str) else NONE
    return format_skeleton("yMd" if year else "Md", day, locale=locale)


def format_datetime(utc_naive: object, locale: Locale = SPANISH_PERU) -> str:
    """The date and the 24-hour time in Lima, joined the locale's way, from a naive UTC
    datetime (or its ISO string)."""
    when = _as_datetime(utc_naive)
    if when is None:
        return format_date(utc_naive, locale) if isinstance(utc_naive, dt.date | str) else NONE
    lima = to_lima(when)
    time = format_skeleton("Hm", lima, locale=locale)
    return str(get_datetime_format("short", locale=locale)).format(time, format_date(lima, locale))


def format_percent(x: object, locale: Locale = SPANISH_PERU) -> str:
    """A percentage given as a number of percent (``12.3`` is ``12.3 %``)."""
    value = _number(x)
    return NONE if value is None else babel_percent(value / 100, "#,##0.0 %", locale=locale)


def format_score(x: object, locale: Locale = SPANISH_PERU) -> str:
    value = _number(x)
    return NONE if value is None else format_decimal(value, format="0.00", locale=locale)


FORMATS: dict[str, Callable[..., str]] = {
    "soles": format_soles,
    "num": format_count,
    "date": format_date,
    "datetime": format_datetime,
    "percent": format_percent,
    "score": format_score,
}


def _filter(fmt: Callable[..., str]) -> Callable[[Context, object], str]:
    """A Jinja filter in the page's language (its ``t``), Spanish where a page has none."""

    @pass_context
    def apply(context: Context, value: object) -> str:
        t = context.get("t")
        return fmt(value, t.locale if isinstance(t, Translator) else SPANISH_PERU)

    return apply


def install(env: Environment) -> None:
    """Register the formats as Jinja filters: ``{{ amount|soles }}``, ``{{ day|date }}``."""
    env.filters.update({name: _filter(fmt) for name, fmt in FORMATS.items()})
