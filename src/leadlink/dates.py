"""Date parsing for the source files (DESIGN.md, "Files").

Accepted, and nothing else (surrounding spaces are ignored):

- ISO ``YYYY-MM-DD``, optionally with a time ``HH:MM`` or ``HH:MM:SS`` after a space or a
  ``T`` (``2024-03-05 14:30``, ``2024-03-05T14:30:59``). No fractional seconds, no time zone:
  the sources are local Peruvian dates and a zone would only pretend to a precision we do
  not have.
- Peruvian ``DD/MM/YYYY`` (day first; one-digit day or month allowed: ``5/3/2024``).
- Compact ``YYYYMMDD``.

Years run from 1 to 9999 (Python's ``date``). Anything else raises :class:`DateParseError`,
a ``ValueError`` whose message quotes the value and lists the accepted formats.
"""

from __future__ import annotations

import datetime as dt
import re

ACCEPTED_FORMATS = (
    "YYYY-MM-DD (optionally with a time: 'YYYY-MM-DD HH:MM[:SS]' or 'YYYY-MM-DDTHH:MM[:SS]'), "
    "DD/MM/YYYY or YYYYMMDD"
)

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?",
    re.ASCII,
)
_PERU = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_SHOWN = 60


class DateParseError(ValueError):
    """A text is not a date in one of the accepted formats."""

    def __init__(self, value: str, reason: str | None = None) -> None:
        self.value = value
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
        why = f" ({reason})" if reason else ""
        super().__init__(f"{shown!r} is not a date{why}; accepted formats: {ACCEPTED_FORMATS}")


def parse_timestamp(text: str) -> dt.date | dt.datetime:
    """Parse ``text``: a ``datetime`` when it carries a time, else a ``date``."""
    value = text.strip()
    try:
        if m := _ISO.fullmatch(value):
            year, month, day = int(m[1]), int(m[2]), int(m[3])
            if m[4] is None:
                return dt.date(year, month, day)
            second = int(m[6]) if m[6] is not None else 0
            return dt.datetime(year, month, day, int(m[4]), int(m[5]), second)
        if m := _PERU.fullmatch(value):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if m := _COMPACT.fullmatch(value):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:  # out-of-range day, month, hour...
        raise DateParseError(text, str(exc)) from None
    raise DateParseError(text)


def parse_date(text: str) -> dt.date:
    """The calendar date of ``text`` (a time, if given, is dropped)."""
    value = parse_timestamp(text)
    return value.date() if isinstance(value, dt.datetime) else value


def to_iso(value: dt.date | dt.datetime) -> str:
    """``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS`` for a datetime (what ingest stores)."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds")
    return value.isoformat()


def normalise_date(text: str) -> str:
    """Rewrite a date text in ISO form: ``to_iso(parse_timestamp(text))``."""
    return to_iso(parse_timestamp(text))
