"""The model's guard per profile (outcome.Guard.of): peru for our sources, generic for `link`.
Each case is judged by the guard's Python evaluation and by its SQL in DuckDB alike."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from leadlink.matching import model
from leadlink.matching.engine import model_guard
from leadlink.matching.outcome import Guard


def settings_of(*fields: str) -> dict[str, Any]:
    comparisons = [c.get_comparison("duckdb").as_dict() for c in model.comparisons_for(set(fields))]
    return {"comparisons": comparisons}


# `leadlink link` on person files; our sources (leads, drivers) carry no e-mail.
PERSONS = settings_of("given", "family1", "family2", "birth_date", "address", "postcode",
                      "email", "phone")  # fmt: skip
SOURCES = settings_of("given", "family1", "family2", "phone", "doc", "plate", "brand_model")


def waterfall(**levels: int) -> dict[str, Any]:
    return {name: {"level": level, "weight": 0.0} for name, level in levels.items()}


def sql_holds(settings: dict[str, Any], profile: str, wf: dict[str, Any]) -> bool:
    con = duckdb.connect()
    con.register("m", pa.table({"waterfall": [json.dumps(wf)]}))
    sql = f"SELECT {model_guard(settings, profile)} FROM m"  # type: ignore[arg-type]  # noqa: S608
    (row,) = con.execute(sql).fetchall()
    return row[0] is True


# e-mail levels: 4 exact, 3 username, 2 / 1 Jaro-Winkler, 0 else.
CASES = [
    # A nickname (PEPE / JOSÉ), the same e-mail and phone: the generic guard lets it link.
    ("nickname, exact e-mail and phone", waterfall(given=0, family1=2, email=4, phone=3),
     False, True),
    ("swapped names, exact e-mail and postcode", waterfall(given=0, family1=0, email=4,
     postcode=2), False, True),
    # Relatives share a phone and an address, not an e-mail address: no path for them.
    ("relative: phone and address, other e-mail", waterfall(given=0, family1=3, email=0,
     phone=3, address=2), False, False),
    ("e-mail username only, phone", waterfall(given=0, family1=0, email=3, phone=3), False,
     False),
    ("exact e-mail alone", waterfall(given=0, family1=0, email=4, phone=0, postcode=0,
     address=0), False, False),
    # What both profiles let through, and what both stop (homonyms).
    ("names and a strong key", waterfall(given=3, family1=3, phone=3), True, True),
    ("birth date and postcode", waterfall(given=0, family1=0, birth_date=2, postcode=1), True,
     True),
    ("names alone", waterfall(given=3, family1=3, family2=3, email=0, phone=0, birth_date=0),
     False, False),
]  # fmt: skip


@pytest.mark.parametrize(("wf", "peru", "generic"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_the_generic_guard_adds_an_exact_email_path(
    wf: dict[str, Any], peru: bool, generic: bool
) -> None:
    assert Guard.of(PERSONS, "peru").holds(wf) is sql_holds(PERSONS, "peru", wf) is peru
    assert Guard.of(PERSONS, "generic").holds(wf) is sql_holds(PERSONS, "generic", wf) is generic


# FEBRL-like files: a social security number, an address and a postcode (doc levels: 2 exact,
# 1 one typo, 0 else).
PUBLIC = settings_of("given", "family1", "doc", "birth_date", "address", "postcode",
                     "street_number")  # fmt: skip
DOC_CASES = [
    ("a typo in both names, exact document and postcode", waterfall(given=0, family1=0, doc=2,
     postcode=2, address=0, birth_date=0), False, True),
    ("swapped names, exact document and address", waterfall(given=0, family1=0, doc=2,
     postcode=0, address=1, birth_date=0), False, True),
    ("a document one typo apart, the postcode and the address", waterfall(given=0,
     family1=0, doc=1, postcode=2, address=2, birth_date=0), False, True),
    ("a document one typo apart and the postcode", waterfall(given=0, family1=0, doc=1,
     postcode=2, address=0, birth_date=0), False, False),
    # FEBRL's files have one family name: the whole name as far as both have it, the place.
    ("family name, no given name on one side, postcode and address", waterfall(given=-1,
     family1=3, doc=0, postcode=2, address=3), False, True),
    ("family name, another given name, postcode and address", waterfall(given=0,
     family1=3, doc=0, postcode=2, address=3), False, False),
    ("whole name and postcode, another address", waterfall(given=3, family1=3, doc=0,
     postcode=2, address=0, street_number=2), False, False),
    ("whole name, postcode, street number, no address on one side", waterfall(given=3,
     family1=3, doc=0, postcode=2, address=-1, street_number=2), False, True),
    ("whole name and postcode, no address nor street number", waterfall(given=3, family1=3,
     doc=0, postcode=2, address=-1, street_number=0), False, False),
    ("exact document alone", waterfall(given=0, family1=0, doc=2, postcode=0, address=0,
     birth_date=0), False, False),
    ("names and the document", waterfall(given=3, family1=3, doc=2), True, True),
]  # fmt: skip


@pytest.mark.parametrize(("wf", "peru", "generic"), [c[1:] for c in DOC_CASES],
                         ids=[c[0] for c in DOC_CASES])  # fmt: skip
def test_the_generic_guard_adds_document_and_place_paths(
    wf: dict[str, Any], peru: bool, generic: bool
) -> None:
    assert Guard.of(PUBLIC, "peru").holds(wf) is sql_holds(PUBLIC, "peru", wf) is peru
    assert Guard.of(PUBLIC, "generic").holds(wf) is sql_holds(PUBLIC, "generic", wf) is generic


def test_on_our_sources_both_profiles_are_one_guard() -> None:
    # `match` decides with peru; a generic run on the same model would decide the same.
    assert Guard.of(SOURCES, "generic") == Guard.of(SOURCES, "peru") == Guard.of(SOURCES)
    assert model_guard(SOURCES) == model_guard(SOURCES, "generic")


def test_the_default_profile_is_peru_and_an_unknown_one_is_refused() -> None:
    assert Guard.of(PERSONS) == Guard.of(PERSONS, "peru") != Guard.of(PERSONS, "generic")
    with pytest.raises(ValueError, match="unknown guard profile 'spain'"):
        Guard.of(PERSONS, "spain")  # type: ignore[arg-type]
