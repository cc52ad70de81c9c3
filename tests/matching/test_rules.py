"""Deterministic rules: each fires on its own evidence, in order, and only behind its guards.

Every case is a lead (the query) against drivers (the registry, carrying person_key), run
through the real path: ``prepare(canonical_from_rows(...))`` then ``resolve``. Expected scores
follow rules.py: the rule's score plus EXTRA_SUPPORT (0.01) for each of phone, document,
plate, brand/model and name (name_sim >= 0.9) that agrees, capped at 1.0.

A query record's decision depends only on its own pairs, so the cases of one table run as
the leads of a single ``resolve`` against the table's registry (DuckDB start-up dominates).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, NamedTuple

import pytest
from tests.matching.factories import (
    D0,
    PHONE,
    PHONE_2,
    Row,
    driver,
    lead,
    linked,
    outcome,
    run,
    unmatched,
)

from leadlink.matching import RULES


def lead_date(days: int) -> dt.date:
    """The lead date for which the hire (D0) comes ``days`` days after the lead."""
    return D0 - dt.timedelta(days=days)


def weak(person_key: str, rule: str = "weak") -> tuple[Any, ...]:
    return ("unmatched", person_key, rule, "WEAK_MATCH_ONLY", "reject")


def proposed(person_key: str) -> tuple[Any, ...]:
    """brand_model_name proposes for review; it never links on its own."""
    return ("unmatched", person_key, "brand_model_name", "WEAK_MATCH_ONLY", "review")


class Case(NamedTuple):
    id: str
    fields: Row  # the lead, without rid
    expected: tuple[Any, ...]  # outcome(row)
    score: float


TABLES: dict[str, tuple[list[Row], list[Case]]] = {}


@functools.cache
def decided(table: str) -> dict[int, Row]:
    registry, cases = TABLES[table]
    return run([lead(i, **c.fields) for i, c in enumerate(cases, start=1)], registry)


def cases_of(table: str) -> list[Any]:
    cases = TABLES[table][1]
    return [pytest.param(table, i, c, id=c.id) for i, c in enumerate(cases, start=1)]


def check(table: str, index: int, case: Case) -> Row:
    row = decided(table)[index]
    assert outcome(row) == case.expected
    assert row["score"] == pytest.approx(case.score)
    return row


# --------------------------------------------------------------------------- the rule list


def test_rules_are_tried_in_the_documented_order() -> None:
    assert [r.name for r in RULES] == [
        "driver_id_exact",
        "document_exact",
        "phone_exact",
        "plate_name",
        "brand_model_name",
    ]
    assert [r.score for r in RULES] == sorted((r.score for r in RULES), reverse=True)


# --------------------------------------------------------------------------- each rule alone

CARLOS = {"first_name": "Carlos", "last_name": "Rojas Vega"}
# Each lead carries a single identifier (plus a name): the rule that fires is that one's.
TABLES["alone"] = (
    [driver(100, "P-CARLOS", **CARLOS, driver_id="DRV-0042", document="12345678", phone=PHONE)],
    [
        Case("driver_id-without-name", {"driver_id": "DRV-0042"},
             linked("P-CARLOS", "driver_id_exact"), 1.0),
        Case("document-licence-Q-vs-dni", {"full_name": "Carlos Rojas Vega",
             "license": "Q12345678"}, linked("P-CARLOS", "document_exact"), 0.99),
        Case("document-lowercase-dashed-licence", {**CARLOS, "license": "q-1234-5678"},
             linked("P-CARLOS", "document_exact"), 0.99),
        Case("document-dotted-dni", {**CARLOS, "document": "12.345.678"},
             linked("P-CARLOS", "document_exact"), 0.99),
        Case("document-shorter-compatible-name", {"first_name": "Carlos", "last_name": "Rojas",
             "license": "Q12345678"}, linked("P-CARLOS", "document_exact"), 0.99),
        Case("document-incompatible-name-is-weak", {"full_name": "Maria Torres Salas",
             "license": "Q12345678"}, weak("P-CARLOS"), 0.31),
        *[
            Case(f"phone-{label}", {**CARLOS, "phone": raw},
                 linked("P-CARLOS", "phone_exact"), 0.97)
            for label, raw in [
                ("plus51-spaced", "+51 987 654 321"),
                ("0051", "0051987654321"),
                ("0051-spaced", "0051 987 654 321"),
                ("51-no-plus", "51987654321"),
                ("dashes", "987-654-321"),
            ]
        ],
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("alone"))
def test_rule_fires_on_its_own_evidence(table: str, index: int, case: Case) -> None:
    row = check(table, index, case)
    assert row["cid"] == 100


# --------------------------------------------------------------------------- date windows
# days = hire date - lead date. plate_name holds for -90..+30, brand_model_name for -30..+7.

LUIS = {"first_name": "Luis", "last_name": "Huaman Ccori", "plate": "abc 123"}
TABLES["plate_window"] = (
    [driver(100, "P-LUIS", first_name="Luis Alberto", last_name="Huaman Ccori",
            plate="ABC-123", date=D0)],
    [
        Case("hired-91d-before-lead-outside", {**LUIS, "date": lead_date(-91)},
             weak("P-LUIS"), 0.32),
        Case("hired-90d-before-lead-edge", {**LUIS, "date": lead_date(-90)},
             linked("P-LUIS", "plate_name"), 0.90),
        Case("hired-same-day", {**LUIS, "date": lead_date(0)},
             linked("P-LUIS", "plate_name"), 0.90),
        Case("hired-30d-after-lead-edge", {**LUIS, "date": lead_date(30)},
             linked("P-LUIS", "plate_name"), 0.90),
        Case("hired-31d-after-lead-outside", {**LUIS, "date": lead_date(31)},
             weak("P-LUIS"), 0.32),
        Case("lead-without-date", LUIS, weak("P-LUIS"), 0.32),
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("plate_window"))
def test_plate_name_window(table: str, index: int, case: Case) -> None:
    row = check(table, index, case)
    if "date" in case.fields:
        assert json.loads(row["evidence"])["fields"]["days"] == (D0 - case.fields["date"]).days


ROSA = {"first_name": "Rosa", "last_name": "Flores Condori", "car_brand": "toyota",
        "car_model": "Toyota Yaris"}  # fmt: skip
TABLES["brand_window"] = (
    [driver(100, "P-ROSA", first_name="Rosa", last_name="Flores Condori",
            car_brand="Toyota", car_model="Yaris", date=D0)],
    [
        Case("hired-31d-before-outside", {**ROSA, "date": lead_date(-31)}, weak("P-ROSA"), 0.32),
        Case("hired-30d-before-edge", {**ROSA, "date": lead_date(-30)},
             proposed("P-ROSA"), 0.62),
        Case("hired-same-day-upper-case", {**ROSA, "car_brand": "TOYOTA", "car_model": "YARIS",
             "date": D0}, proposed("P-ROSA"), 0.62),
        Case("hired-7d-after-edge", {**ROSA, "date": lead_date(7)},
             proposed("P-ROSA"), 0.62),
        Case("hired-8d-after-outside", {**ROSA, "date": lead_date(8)}, weak("P-ROSA"), 0.32),
        Case("merely-similar-name", {**ROSA, "last_name": "Flores Quispe", "date": D0},
             weak("P-ROSA"), 0.31),
        Case("other-model", {**ROSA, "car_model": "Corolla", "date": D0},
             unmatched(None, None, "NO_CANDIDATES", "reject"), None),
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("brand_window"))
def test_brand_model_name_window(table: str, index: int, case: Case) -> None:
    check(table, index, case)


# --------------------------------------------------------------------------- rule order

# One driver agreeing on everything; each lead carries the identifiers of several rules.
TABLES["order"] = (
    [driver(100, "P-CARLOS", **CARLOS, driver_id="DRV-7", document="44556677", phone=PHONE,
            plate="B7Q-512", car_brand="Kia", car_model="Rio", date=D0)],
    [
        Case("driver_id-before-document-and-phone", {**CARLOS, "driver_id": "DRV-7",
             "license": "Q44556677", "phone": PHONE}, linked("P-CARLOS", "driver_id_exact"), 1.0),
        Case("document-before-phone-and-plate", {**CARLOS, "document": "44556677",
             "phone": PHONE, "plate": "B7Q512", "date": D0},
             linked("P-CARLOS", "document_exact"), 1.0),
        Case("phone-before-plate-and-brand", {**CARLOS, "phone": PHONE, "plate": "B7Q512",
             "car_brand": "KIA", "car_model": "RIO", "date": D0},
             linked("P-CARLOS", "phone_exact"), 0.99),
        Case("plate-before-brand", {**CARLOS, "plate": "B7Q512", "car_brand": "Kia",
             "car_model": "Rio", "date": D0}, linked("P-CARLOS", "plate_name"), 0.91),
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("order"))
def test_first_holding_rule_names_the_pair(table: str, index: int, case: Case) -> None:
    check(table, index, case)


# --------------------------------------------------------------------------- names

TABLES["names"] = (
    [
        driver(100, "P-JUAN", first_name="Juan", last_name="Quispe Mamani", phone=PHONE),
        driver(101, "P-ROSA", first_name="Rosa", last_name="Flores Condori",
               car_brand="Toyota", car_model="Yaris", date=D0),
        driver(102, "P-MARIA", first_name="MARIA ANGELES", last_name="CRUZ NUNEZ",
               car_brand="TOYOTA", car_model="YARIS", date=D0),
        driver(103, "P-JOSE", first_name="Jose", last_name="Nunez Aguila", phone=PHONE_2),
    ],
    [
        Case("typo-in-second-family-name", {"first_name": "Juan", "last_name": "Quispe Mamany",
             "phone": PHONE}, linked("P-JUAN", "phone_exact"), 0.97),
        Case("typo-in-first-family-name-blocked-by-phone", {"first_name": "Juan",
             "last_name": "Quipse Mamani", "phone": PHONE}, linked("P-JUAN", "phone_exact"), 0.97),
        Case("typo-passes-strict-brand-model-rule", {**ROSA, "last_name": "Flores Condory",
             "date": D0}, proposed("P-ROSA"), 0.62),
        Case("accents-and-particles-ignored", {"first_name": "María de los Ángeles",
             "last_name": "de la Cruz Núñez", "car_brand": "Toyota", "car_model": "Yaris",
             "date": D0}, proposed("P-MARIA"), 0.62),
        Case("full-name-any-order-with-accents", {"full_name": "NÚÑEZ del Águila, José",
             "phone": "+51 912 345 678"}, linked("P-JOSE", "phone_exact"), 0.97),
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("names"))
def test_name_similarity(table: str, index: int, case: Case) -> None:
    row = check(table, index, case)
    assert json.loads(row["evidence"])["fields"]["name_sim"] == 1.0


# --------------------------------------------------------------------------- guards


def test_phone_shared_by_relatives_links_each_to_the_right_one() -> None:
    rows = run(
        [
            lead(1, first_name="Juan", last_name="Quispe Mamani", phone="0051987654321"),
            lead(2, first_name="Pedro", last_name="Quispe Mamani", phone="987 654 321"),
            lead(3, first_name="Rosa", last_name="Quispe Mamani", phone=PHONE),
            # a full-name-only source: the driver's own given name carries the guard
            lead(4, full_name="Pedro Quispe Mamani", phone=PHONE),
        ],
        [
            driver(100, "P-JUAN", first_name="Juan", last_name="Quispe Mamani", phone=PHONE),
            driver(101, "P-PEDRO", first_name="Pedro", last_name="Quispe Mamani",
                   phone="+51 987 654 321"),
        ],
    )  # fmt: skip
    assert outcome(rows[1]) == linked("P-JUAN", "phone_exact")
    assert outcome(rows[2]) == linked("P-PEDRO", "phone_exact")
    # Their mother shares the phone and both family names but is neither of them.
    assert outcome(rows[3]) == weak("P-JUAN")
    assert outcome(rows[4]) == linked("P-PEDRO", "phone_exact")
    for rid, runner_up in ((1, "P-PEDRO"), (2, "P-JUAN")):
        evidence = json.loads(rows[rid]["evidence"])
        assert (evidence["runner_up"], evidence["runner_up_score"]) == (runner_up, 0.31)
        assert evidence["fields"]["phone_eq"] is True


def test_phone_shared_by_relatives_with_full_names_only() -> None:
    # Scouting/migrations carry only full_name; a relative's record is already linked.
    row = run(
        [lead(1, full_name="Pedro Quispe Mamani", phone=PHONE)],
        [driver(100, "P-JUAN", full_name="Juan Quispe Mamani", phone=PHONE)],
    )[1]
    assert outcome(row) == weak("P-JUAN")


CONFLICT = ("unmatched", "P-OTHER", "conflict", "CONFLICTING_EVIDENCE", "reject")


@pytest.mark.parametrize(
    ("query", "registry", "expected", "score"),
    [
        pytest.param(
            lead(1, **CARLOS, phone=PHONE, document="11111111"),
            [driver(100, "P-OTHER", **CARLOS, phone=PHONE, document="22222222")],
            CONFLICT, 0.22, id="same-phone-other-document-only-candidate",
        ),
        pytest.param(
            lead(1, **CARLOS, plate="ABC123", date=D0, license="Q11111111"),
            [driver(100, "P-OTHER", **CARLOS, plate="ABC123", date=D0, document="22222222")],
            CONFLICT, 0.22, id="same-plate-other-document-only-candidate",
        ),
        pytest.param(
            lead(1, **CARLOS, phone=PHONE, document="11111111"),
            [
                driver(100, "P-OTHER", **CARLOS, phone=PHONE, document="22222222"),
                driver(101, "P-CARLOS", **CARLOS, document="11111111"),
            ],
            linked("P-CARLOS", "document_exact"), 0.99, id="conflicting-phone-loses-to-document",
        ),
        pytest.param(
            lead(1, first_name="Juan", last_name="Quispe Mamani", plate="ABC123", date=D0),
            [driver(100, "P-FLEET", **CARLOS, plate="ABC-123", date=D0)],
            weak("P-FLEET"), 0.31, id="fleet-car-plate-other-name",
        ),
        pytest.param(
            lead(1, first_name="Juan", last_name="Quispe Rojas", plate="ABC123", date=D0),
            [driver(100, "P-FLEET", first_name="Juan", last_name="Quispe Mamani",
                    plate="ABC-123", date=D0)],
            weak("P-FLEET"), 0.31, id="fleet-car-plate-two-of-three-names",
        ),
    ],
)  # fmt: skip
def test_guards(query: Row, registry: list[Row], expected: tuple[Any, ...], score: float) -> None:
    row = run([query], registry)[1]
    assert outcome(row) == expected
    assert row["score"] == pytest.approx(score)
    if row["rule"] == "conflict":
        fields = json.loads(row["evidence"])["fields"]
        assert fields["id_eq"] is False
        assert fields["phone_eq"] or fields["plate_eq"]
