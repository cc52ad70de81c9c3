"""The dashboard's languages and formats: gettext catalogs that hold every message the code and
the templates use (a missing one fails here), compiled and current; a new language is only a
catalog; soles, dates and numbers are Babel's per locale, times in Lima."""

from __future__ import annotations

import datetime as dt
import shutil
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from leadlink.web import i18n
from leadlink.web.codes import CODE_GROUPS, code_keys
from leadlink.web.i18n import (
    Translator,
    format_count,
    format_date,
    format_datetime,
    format_locale,
    format_percent,
    format_soles,
    languages,
)

ROOT = Path(__file__).resolve().parents[2]
POT = i18n.LOCALE_DIR / "messages.pot"
SPANISH, ENGLISH = format_locale("es"), format_locale("en")


def extracted() -> set[str]:
    """What ``make catalogs`` extracts: babel.cfg over the checkout, keyword ``t``."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"t": None})
    return {str(message) for _, _, message, _, _ in found}


def po_messages(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        catalog = read_po(f)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def catalog_problems(locale_dir: Path, wanted: set[str]) -> list[str]:
    """Each way a language's catalog falls short of what the dashboard says: a message missing
    or empty, one nobody uses, a placeholder not the Spanish one's."""
    spanish = po_messages(locale_dir / "es" / "LC_MESSAGES" / "messages.po")
    problems = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/messages.po")):
        lang, messages = po.parent.parent.name, po_messages(po)
        problems += [f"{lang}: {key} missing" for key in sorted(wanted - set(messages))]
        problems += [f"{lang}: {key} empty" for key in sorted(wanted) if messages.get(key) == ""]
        problems += [f"{lang}: {key} unused" for key in sorted(set(messages) - wanted)]
        problems += [f"{lang}: {key} has other placeholders" for key, text in messages.items()
                     if placeholders(text) != placeholders(spanish.get(key, text))]  # fmt: skip
    return problems


@pytest.fixture(scope="module")
def wanted() -> set[str]:
    return extracted()


def test_extraction_finds_the_literal_and_the_built_keys(wanted: set[str]) -> None:
    assert len(wanted) > 250
    assert {"nav.overview", "review.days_left", "common.showing"} <= wanted
    assert set(code_keys()) <= wanted  # from web/codes.py's own extractor
    assert "stage.NO_IDENTITY" in wanted and "error.404" in wanted


def test_every_catalog_holds_every_message_and_no_other(wanted: set[str]) -> None:
    assert set(languages()) >= {"es", "en"}
    assert catalog_problems(i18n.LOCALE_DIR, wanted) == []


def test_a_catalog_missing_a_message_is_caught(tmp_path: Path, wanted: set[str]) -> None:
    locale = shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    po = locale / "en" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(text.replace('msgid "review.days_left"\nmsgstr "{n} days left"\n', ""),
                  encoding="utf-8")  # fmt: skip
    assert catalog_problems(locale, wanted) == ["en: review.days_left missing"]
    po.write_text(text.replace('msgstr "{n} days left"', 'msgstr "{days} days left"'),
                  encoding="utf-8")  # fmt: skip
    assert catalog_problems(locale, wanted) == ["en: review.days_left has other placeholders"]


def test_the_template_and_the_compiled_catalogs_are_current(wanted: set[str]) -> None:
    assert set(po_messages(POT)) == wanted, "run `make catalogs`"
    for po in i18n.LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"):
        with po.with_suffix(".mo").open("rb") as f:
            compiled = {str(m.id): str(m.string) for m in read_mo(f) if m.id}
        assert compiled == po_messages(po), f"{po.with_suffix('.mo')} is stale: make catalogs"


def test_every_code_group_is_labelled_in_spanish() -> None:
    spanish = po_messages(i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po")
    for group, codes in CODE_GROUPS.items():
        assert codes, group
        assert [c for c in codes if f"{group}.{c}" not in spanish] == [], group


def test_a_third_language_is_a_catalog(portuguese: Path) -> None:
    assert languages() == ("es", "en", "pt")
    pt = Translator("pt")
    assert pt.lang == "pt" and pt("review.days_left", n=3) == "faltam 3 dias"
    assert pt("nav.overview") == "Resumen"  # what it lacks, Spanish says
    assert ("pt", "Português") in Translator("es").others()
    assert [code for code, _ in pt.others()] == ["es", "en"]
    assert pt.formatter("soles")(1234.5) == "PEN\N{NO-BREAK SPACE}1.234,50"  # Babel's pt


def test_translator_formats_and_falls_back_to_the_code() -> None:
    es, en = Translator("es"), Translator("en")
    assert es("review.days_left", n=3) == "quedan 3 días"
    assert en("review.days_left", n=3) == "3 days left"
    assert "abc123" in es("person.was_retired", key="abc123")  # an argument may be named key
    assert es.code("stage", "NO_IDENTITY") == "Sin identidad"
    assert en.code("stage", "NO_IDENTITY") == "No identity"
    assert es.code("stage", "SOMETHING_NEW") == "SOMETHING_NEW"  # shown, never hidden
    assert es.code("stage", None) == "—"
    assert es.others() == [("en", "English")] and en.others() == [("es", "Español")]
    assert Translator("fr").lang == "es"
    assert (es.currency_symbol, en.currency_symbol) == ("S/", "PEN")


@pytest.mark.parametrize(
    ("value", "spanish", "english"),
    [
        (1234, "S/ 1,234.00", "PEN 1,234.00"),
        (25, "S/ 25.00", "PEN 25.00"),
        (0, "S/ 0.00", "PEN 0.00"),
        (1234567.891, "S/ 1,234,567.89", "PEN 1,234,567.89"),
        (-35.5, "-S/ 35.50", "-PEN 35.50"),
        ("100", "S/ 100.00", "PEN 100.00"),
        (None, "—", "—"),
        ("n/a", "—", "—"),
    ],
)
def test_soles(value: object, spanish: str, english: str) -> None:
    # Babel keeps the symbol to its amount with a no-break space.
    assert format_soles(value).replace("\N{NO-BREAK SPACE}", " ") == spanish  # es_PE: default
    # Babel lacks CLDR's currency spacing; leadlink applies it (PEN 1,234.00, not PEN1,234.00).
    assert format_soles(value, ENGLISH).replace("\N{NO-BREAK SPACE}", " ") == english


def test_counts_and_percentages() -> None:
    assert format_count(12345) == "12,345"
    assert format_count(2.5) == "2.50"
    assert format_count(None) == "—"
    assert format_percent(12.34) == "12.3 %"


@pytest.mark.parametrize(
    ("value", "spanish", "english"),
    [
        (dt.date(2026, 11, 1), "1/11/2026", "11/1/2026"),
        ("2026-10-13", "13/10/2026", "10/13/2026"),
        (dt.datetime(2026, 11, 1, 2, 0), "31/10/2026", "10/31/2026"),  # the Lima day
        (None, "—", "—"),
        ("not a date", "not a date", "not a date"),
    ],
)
def test_dates_follow_the_locale(value: object, spanish: str, english: str) -> None:
    assert format_date(value, SPANISH) == spanish
    assert format_date(value, ENGLISH) == english


def test_a_chart_label_has_no_year() -> None:
    assert format_date("2026-10-13", SPANISH, year=False) == "13/10"
    assert format_date("2026-10-13", ENGLISH, year=False) == "10/13"


def test_times_are_shown_in_lima() -> None:
    # 03:30 UTC is 22:30 the evening before in Lima (UTC-5, all year).
    assert format_datetime(dt.datetime(2026, 11, 1, 3, 30)) == "31/10/2026, 22:30"
    assert format_datetime("2026-11-01T03:30:00") == "31/10/2026, 22:30"
    assert format_datetime(dt.datetime(2026, 7, 1, 17, 0)) == "1/7/2026, 12:00"  # no DST
    assert format_datetime(dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC)) == "31/10/2026, 22:30"
    assert format_datetime(dt.datetime(2026, 11, 1, 3, 30), ENGLISH) == "10/31/2026, 22:30"
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
