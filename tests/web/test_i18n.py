"""The dashboard's languages and formats: one key set in both languages, every key the
templates use exists, soles, Peruvian dates and Lima time."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import pytest

from leadlink.matching.reasons import Reason
from leadlink.pipeline.money.funnel import STAGES
from leadlink.store.gap import GAP_REASONS, RISKS
from leadlink.web import i18n
from leadlink.web.i18n import (
    MESSAGES,
    Translator,
    format_count,
    format_date,
    format_datetime,
    format_soles,
)

WEB = Path(i18n.__file__).parent
USED = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-zA-Z0-9_.]+)['"]""")
CODES = re.compile(r"""\bt\.code\(\s*['"]([a-z_]+)['"]""")


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    es, en = MESSAGES["es"], MESSAGES["en"]
    assert set(es) == set(en)
    fields = string.Formatter()
    for key in es:
        assert {f for _, f, _, _ in fields.parse(es[key]) if f} == {
            f for _, f, _, _ in fields.parse(en[key]) if f
        }, key
        assert es[key].strip() and en[key].strip(), key


def test_every_key_the_templates_and_pages_use_exists() -> None:
    sources = [*WEB.glob("templates/*.html"), *WEB.glob("pages*.py")]
    used = {k for path in sources for k in USED.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    missing = sorted(used - set(MESSAGES["es"]))
    assert not missing, missing
    # Keys built at render time: per stage, gap reason, risk, reason, status code.
    built = [f"stage.{s}" for s in STAGES] + [f"stage_help.{s}" for s in STAGES]
    built += [f"gap_reason.{r}" for r in GAP_REASONS] + [f"gap_help.{r}" for r in GAP_REASONS]
    built += [f"risk.{r}" for r in RISKS] + [f"reason.{r.value}" for r in Reason]
    built += [f"error.{code}" for code in (401, 403, 404, 409, 422, 500, 503)]
    assert not [k for k in built if k not in MESSAGES["es"]]
    groups = {g for path in sources for g in CODES.findall(path.read_text(encoding="utf-8"))}
    assert groups and all(any(k.startswith(f"{g}.") for k in MESSAGES["es"]) for g in groups)


def test_translator_formats_and_falls_back_to_the_code() -> None:
    es, en = Translator("es"), Translator("en")
    assert es("review.days_left", n=3) == "quedan 3 días"
    assert en("review.days_left", n=3) == "3 days left"
    assert es.code("stage", "NO_IDENTITY") == "Sin identidad"
    assert en.code("stage", "NO_IDENTITY") == "No identity"
    assert es.code("stage", "SOMETHING_NEW") == "SOMETHING_NEW"  # shown, never hidden
    assert es.code("stage", None) == "—"
    assert (es.other, en.other) == ("en", "es")
    assert Translator("fr").lang == "es"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234, "S/ 1,234.00"),
        (25, "S/ 25.00"),
        (0, "S/ 0.00"),
        (1234567.891, "S/ 1,234,567.89"),
        (-35.5, "-S/ 35.50"),
        ("100", "S/ 100.00"),
        (None, "—"),
        ("n/a", "—"),
    ],
)
def test_soles(value: object, shown: str) -> None:
    assert format_soles(value) == shown


def test_counts() -> None:
    assert format_count(12345) == "12,345"
    assert format_count(2.5) == "2.50"
    assert format_count(None) == "—"


def test_dates_are_day_month_year() -> None:
    assert format_date(dt.date(2026, 11, 1)) == "01/11/2026"
    assert format_date("2026-10-13") == "13/10/2026"
    assert format_date(None) == "—"
    assert format_date("not a date") == "not a date"


def test_times_are_shown_in_lima() -> None:
    # 03:30 UTC is 22:30 the evening before in Lima (UTC-5, all year).
    assert format_datetime(dt.datetime(2026, 11, 1, 3, 30)) == "31/10/2026 22:30"
    assert format_datetime("2026-11-01T03:30:00") == "31/10/2026 22:30"
    assert format_datetime(dt.datetime(2026, 7, 1, 17, 0)) == "01/07/2026 12:00"  # no DST
    assert format_datetime(dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC)) == "31/10/2026 22:30"
    assert format_date(dt.datetime(2026, 11, 1, 2, 0)) == "31/10/2026"
    assert format_datetime(None) == "—"
    assert format_datetime("2026-10-13") == "13/10/2026"


def test_without_a_time_zone_database_lima_is_utc_minus_five(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_zone(name: str) -> None:
        raise i18n.ZoneInfoNotFoundError(name)

    monkeypatch.setattr(i18n, "ZoneInfo", no_zone)
    fixed = i18n._lima()
    assert fixed.utcoffset(dt.datetime(2026, 1, 1)) == dt.timedelta(hours=-5)
    assert fixed.utcoffset(dt.datetime(2026, 7, 1)) == dt.timedelta(hours=-5)
