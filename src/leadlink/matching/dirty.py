"""Values that do not parse, kept as evidence: the text the model compares instead.

A file typed by people has dates like ``19450493`` and phones that are no phone. Dropping
them throws away evidence (a date with one wrong digit still nearly identifies a person),
refusing them stops a whole run for one typo. ``leadlink link`` keeps them as text the model's
own comparison levels can weigh (model.comparisons_for, the same SQL in the batch and the
online scorer):

- a date: its digits in year, month, day order (``1945-04-93``), so the birth date's
  Damerau-Levenshtein levels (one digit, two digits) read it next to a clean ISO date as
  Splink's ``DateOfBirthComparison`` reads it as text;
- a phone: its digits, so the phone's levels (exact, last 7 digits, one typo) apply.

Pure functions; ``frames.prepare(..., dirty=True)`` applies them where the parser gave up.
"""

from __future__ import annotations

import re

from leadlink.dates import parse_timestamp
from leadlink.matching import normalise as norm

_DIGITS = re.compile(r"\d+")
# The two shapes of a date our readers accept (leadlink.dates): year first or year last.
_YEAR_FIRST = re.compile(r"(\d{4})\D?(\d{1,2})\D?(\d{1,2})")
_YEAR_LAST = re.compile(r"(\d{1,2})\D(\d{1,2})\D(\d{4})")
# Fewer digits than a local number identify nobody; a run of one digit is a placeholder.
MIN_PHONE_DIGITS = 7


def date_parses(raw: str) -> bool:
    try:
        parse_timestamp(raw)
    except ValueError:
        return False
    return True


def phone_parses(raw: str) -> bool:
    return norm.phone(raw) is not None


def date_digits(raw: str | None) -> str | None:
    """A date that does not parse, as ``YYYY-MM-DD``-shaped text of its own digits
    (``19450493`` and ``93/04/1945`` -> ``1945-04-93``); its digits as written when its shape
    is no date's; None without a digit."""
    if not raw:
        return None
    text = raw.strip()
    if shape := _YEAR_FIRST.fullmatch(text):
        year, month, day = shape.groups()
    elif shape := _YEAR_LAST.fullmatch(text):
        day, month, year = shape.groups()
    else:
        return "".join(_DIGITS.findall(text)) or None
    return f"{year}-{month.zfill(2)}-{day.zfill(2)}"


def phone_digits(raw: str | None) -> str | None:
    """A phone that does not parse, as its digits; None under MIN_PHONE_DIGITS digits or one
    digit repeated (``000000000``: a placeholder many records share)."""
    if not raw:
        return None
    digits = "".join(_DIGITS.findall(raw))
    if len(digits) < MIN_PHONE_DIGITS or len(set(digits)) == 1:
        return None
    return digits
