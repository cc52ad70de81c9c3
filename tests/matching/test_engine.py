"""Decisions: reasons, bands, the margin guard, evidence, clusters, determinism, a property.

Leads (queries) are resolved against drivers (the registry, carrying person_key) through the
real path ``prepare(canonical_from_rows(...))`` -> ``resolve``. Every row any test gets back is
checked by ``run`` for well-formed evidence and candidates. Registry rids start at 100 so they
never equal a query rid (see ``test_query_rid_equal_to_a_registry_rid``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.matching.factories import (
    D0,
    PHONE,
    PHONE_2,
    RULE_NAMES,
    Row,
    driver,
    lead,
    linked,
    outcome,
    resolve_rows,
    run,
    unmatched,
)

from leadlink.matching import (
    DRIVER_RULES,
    RULES,
    Bands,
    Reason,
    canonical_from_rows,
    clusters,
    prepare,
)
from leadlink.matching.decision import BANDS


class Case(NamedTuple):
    id: str
    fields: Row  # the lead, without rid
    expected: tuple[Any, ...]  # outcome(row)
    score: float | None


# A query's decision depends only on its own pairs: one resolve per table, one lead per case.
TABLES: dict[str, tuple[list[Row], Bands, list[Case]]] = {}


@functools.cache
def decided(table: str) -> dict[int, Row]:
    registry, bands, cases = TABLES[table]
    return run([lead(i, **c.fields) for i, c in enumerate(cases, start=1)], registry, bands)


def cases_of(*tables: str) -> list[Any]:
    return [
        pytest.param(t, i, c, id=f"{t}-{c.id}")
        for t in tables
        for i, c in enumerate(TABLES[t][2], start=1)
    ]


def check(table: str, index: int, case: Case) -> Row:
    row = decided(table)[index]
    assert outcome(row) == case.expected
    if case.score is None:
        assert row["score"] is None
    else:
        assert row["score"] == pytest.approx(case.score)
    return row


# --------------------------------------------------------------------------- reasons

JUAN = {"first_name": "Juan", "last_name": "Quispe Mamani"}
REGISTRY = [
    driver(100, "P-JUAN", **JUAN, phone=PHONE, document="12345678"),
    driver(101, "P-FLEET", first_name="Carlos", last_name="Rojas Vega", plate="ABC-123", date=D0),
]
REASON_CASES = [
    Case("missing-one-given-name-only", {"first_name": "Juan"},
         unmatched(None, None, "MISSING_IDENTIFIERS", "reject"), None),
    Case("missing-one-token-full-name", {"full_name": "Quispe", "car_brand": "Toyota",
         "car_model": "Yaris", "date": D0},
         unmatched(None, None, "MISSING_IDENTIFIERS", "reject"), None),
    Case("missing-unusable-phone-and-document", {"last_name": "Quispe", "phone": "12345",
         "document": "123"}, unmatched(None, None, "MISSING_IDENTIFIERS", "reject"), None),
    Case("no-candidates-nothing-shared", {"first_name": "Ana", "last_name": "Torres Salas",
         "phone": PHONE_2, "plate": "XYZ999", "document": "87654321"},
         unmatched(None, None, "NO_CANDIDATES", "reject"), None),
    # Name blocks carry the car, so a bare name shares no block with anyone.
    Case("name-only", JUAN, unmatched(None, None, "NO_CANDIDATES", "reject"), None),
    Case("weak-fleet-plate", {"first_name": "Ana", "last_name": "Torres Salas",
         "plate": "ABC123", "date": D0},
         unmatched("P-FLEET", "weak", "WEAK_MATCH_ONLY", "reject"), 0.31),
    Case("conflict-phone-other-document", {**JUAN, "phone": PHONE, "document": "99999999"},
         unmatched("P-JUAN", "conflict", "CONFLICTING_EVIDENCE", "reject"), 0.22),
]  # fmt: skip
TABLES["default"] = (REGISTRY, Bands(), REASON_CASES)
# The same leads with a review band reaching down to weak scores.
TABLES["review"] = (
    REGISTRY,
    Bands(accept=0.75, review=0.3),
    [
        *REASON_CASES[:4],
        Case("name-only", JUAN, unmatched(None, None, "NO_CANDIDATES", "reject"), None),
        Case("weak-fleet-plate", REASON_CASES[5].fields,
             unmatched("P-FLEET", "weak", "WEAK_MATCH_ONLY", "review"), 0.31),
        REASON_CASES[6],
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("default", "review"))
def test_reason(table: str, index: int, case: Case) -> None:
    check(table, index, case)


def test_no_candidates_against_an_empty_registry() -> None:
    row = run([lead(1, **JUAN, phone=PHONE)], [])[1]
    assert outcome(row) == unmatched(None, None, "NO_CANDIDATES", "reject")
    assert json.loads(row["candidates"]) == []


# A weak top candidate with a conflicting runner-up: conflict explains it while in reject.
CONFLICTED = [
    driver(100, "P-A", **JUAN, phone=PHONE, document="22222222"),
    driver(101, "P-B", **JUAN),
]


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        # P-B shares only a name (no block); the conflicting P-A is the one candidate.
        pytest.param(Bands(), unmatched("P-A", "conflict", "CONFLICTING_EVIDENCE", "reject"),
                     id="only-candidate-conflicts"),
        pytest.param(Bands(review=0.3),
                     unmatched("P-A", "conflict", "CONFLICTING_EVIDENCE", "reject"),
                     id="only-candidate-conflicts-low-review"),
    ],
)  # fmt: skip
def test_conflicting_runner_up(bands: Bands, expected: tuple[Any, ...]) -> None:
    row = run([lead(1, **JUAN, phone=PHONE, document="11111111")], CONFLICTED, bands)[1]
    assert outcome(row) == expected
    assert [c["rule"] for c in json.loads(row["candidates"])] == ["conflict"]


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        pytest.param(Bands(), linked("P-JUAN", "phone_exact"), id="default"),
        pytest.param(Bands(accept=0.96), linked("P-JUAN", "phone_exact"), id="accept-below"),
        pytest.param(Bands(accept=0.97), linked("P-JUAN", "phone_exact"), id="accept-equal"),
        pytest.param(Bands(accept=0.98),
                     unmatched("P-JUAN", "phone_exact", "WEAK_MATCH_ONLY", "review"),
                     id="accept-above-review-band"),
        pytest.param(Bands(accept=0.98, review=0.97),
                     unmatched("P-JUAN", "phone_exact", "WEAK_MATCH_ONLY", "review"),
                     id="review-equal"),
        pytest.param(Bands(accept=0.99, review=0.98),
                     unmatched("P-JUAN", "phone_exact", "WEAK_MATCH_ONLY", "reject"),
                     id="accept-and-review-above"),
    ],
)  # fmt: skip
def test_accept_threshold_flips_the_same_pair(bands: Bands, expected: tuple[Any, ...]) -> None:
    row = run([lead(1, **JUAN, phone=PHONE)], REGISTRY, bands)[1]
    assert outcome(row) == expected
    assert row["score"] == pytest.approx(0.97)
    assert row["cid"] == 100


# --------------------------------------------------------------------------- margin

HOMONYMS = {"first_name": "Rosa", "last_name": "Flores Condori", "car_brand": "Toyota",
            "car_model": "Yaris", "date": D0}  # fmt: skip
TABLES["multiple"] = (
    [
        # father and son: same name, same phone
        driver(100, "P-SON", **JUAN, phone=PHONE),
        driver(101, "P-FATHER", **JUAN, phone="+51 987 654 321"),
        # two women of the same name, each hired with a Toyota Yaris the same day
        driver(102, "P-ROSA-2", **HOMONYMS),
        driver(103, "P-ROSA-1", **HOMONYMS),
    ],
    Bands(),
    [
        Case("equally-strong-phone", {**JUAN, "phone": "0051987654321"},
             unmatched("P-FATHER", "phone_exact", "MULTIPLE_CANDIDATES", "review"), 0.97),
        Case("homonyms-brand-model-name", HOMONYMS,
             unmatched("P-ROSA-1", "brand_model_name", "MULTIPLE_CANDIDATES", "review"), 0.62),
    ],
)  # fmt: skip


@pytest.mark.parametrize(("table", "index", "case"), cases_of("multiple"))
def test_equally_strong_candidates_are_never_a_guess(table: str, index: int, case: Case) -> None:
    row = check(table, index, case)
    evidence = json.loads(row["evidence"])
    assert evidence["runner_up_score"] == evidence["score"]


# A: phone_exact 0.97. B: plate_name 0.90. The gap is 0.07.
WINNER = [
    driver(100, "P-A", **JUAN, phone=PHONE),
    driver(101, "P-B", **JUAN, plate="ABC123", date=D0),
]


@pytest.mark.parametrize(
    ("margin", "expected"),
    [
        pytest.param(0.0, linked("P-A", "phone_exact"), id="no-margin"),
        pytest.param(0.05, linked("P-A", "phone_exact"), id="default-margin"),
        pytest.param(0.06, linked("P-A", "phone_exact"), id="margin-just-below-gap"),
        pytest.param(0.08, unmatched("P-A", "phone_exact", "MULTIPLE_CANDIDATES", "review"),
                     id="margin-just-above-gap"),
        pytest.param(0.5, unmatched("P-A", "phone_exact", "MULTIPLE_CANDIDATES", "review"),
                     id="wide-margin"),
    ],
)  # fmt: skip
def test_margin_between_the_best_two(margin: float, expected: tuple[Any, ...]) -> None:
    row = run([lead(1, **JUAN, phone=PHONE, plate="ABC123", date=D0)], WINNER,
              Bands(margin=margin))[1]  # fmt: skip
    assert outcome(row) == expected
    evidence = json.loads(row["evidence"])
    assert (evidence["score"], evidence["runner_up"], evidence["runner_up_score"]) == (
        0.97, "P-B", 0.9,
    )  # fmt: skip


# --------------------------------------------------------------------------- evidence


def test_candidates_list_the_best_three_persons_best_first() -> None:
    fleet = [
        driver(100 + i, key, first_name=given, last_name=family, plate="FLT-001", date=D0)
        for i, (key, given, family) in enumerate([
            ("P-E", "Elena", "Vargas Soto"),
            ("P-A", "Juan", "Quispe Mamani"),
            ("P-D", "Diego", "Ramos Paz"),
            ("P-B", "Beto", "Chavez Lima"),
            ("P-C", "Cesar", "Diaz Loza"),
        ])
    ]  # fmt: skip
    row = run([lead(1, **JUAN, plate="flt 001", date=D0)], fleet)[1]
    assert outcome(row) == linked("P-A", "plate_name")
    candidates = json.loads(row["candidates"])
    assert [(c["person_key"], c["cid"], c["rule"], c["score"]) for c in candidates] == [
        ("P-A", 101, "plate_name", 0.9),
        ("P-B", 103, "weak", 0.31),
        ("P-C", 104, "weak", 0.31),
    ]


@pytest.mark.parametrize(("table", "index", "case"), cases_of("default"))
def test_evidence_fields_show_what_agreed(table: str, index: int, case: Case) -> None:
    row = decided(table)[index]
    evidence = json.loads(row["evidence"])
    assert evidence["rule"] == row["rule"]
    if row["score"] is None:
        return
    fields = evidence["fields"]
    lead_fields = case.fields
    assert fields["phone_eq"] is (lead_fields.get("phone") == PHONE)
    assert fields["plate_eq"] is ("plate" in lead_fields and row["person_key"] == "P-FLEET")
    assert fields["id_eq"] is False
    assert fields["driver_id_eq"] is False


# --------------------------------------------------------------------------- clusters


@pytest.mark.parametrize(
    ("records", "rules", "expected"),
    [
        pytest.param(
            [lead(7, **JUAN, license="Q12345678"), lead(3, **JUAN, document="12345678")],
            DRIVER_RULES, {7: 3, 3: 3}, id="document-shared-smaller-rid-wins",
        ),
        pytest.param(
            [lead(9, **JUAN, document="12345678"), lead(4, **JUAN, license="Q12345678"),
             lead(6, full_name="Quispe Mamani Juan", document="12345678"),
             lead(5, **JUAN, document="87654321")],
            DRIVER_RULES, {9: 4, 4: 4, 6: 4, 5: 5}, id="re-registrations-chain",
        ),
        pytest.param(
            [lead(1, **JUAN, phone=PHONE), lead(2, **JUAN, phone="+51 987 654 321")],
            DRIVER_RULES, {1: 1, 2: 2}, id="phone-only-does-not-cluster-drivers",
        ),
        pytest.param(
            [lead(1, **JUAN, phone=PHONE), lead(2, **JUAN, phone="+51 987 654 321")],
            RULES, {1: 1, 2: 1}, id="phone-clusters-under-all-rules",
        ),
        pytest.param(
            [lead(1, **JUAN, document="12345678"),
             lead(2, first_name="Ana", last_name="Torres Salas", document="12345678")],
            DRIVER_RULES, {1: 1, 2: 2}, id="document-with-other-name-does-not-cluster",
        ),
    ],
)  # fmt: skip
def test_clusters(records: list[Row], rules: Any, expected: dict[int, int]) -> None:
    roots = clusters(prepare(canonical_from_rows(records)), rules)
    assert {r["rid"]: roots.get(r["rid"], r["rid"]) for r in records} == expected
    assert set(roots) <= {r["rid"] for r in records}


# --------------------------------------------------------------------------- determinism

MIXED_LEADS = [
    lead(1, **JUAN, phone="0051987654321"),
    lead(2, first_name="Pedro", last_name="Quispe Mamani", phone=PHONE),
    lead(3, first_name="Carlos", last_name="Rojas Vega", license="Q44556677", plate="ABC123",
         date=D0),
    lead(4, **HOMONYMS),
    lead(5, first_name="Ana", last_name="Torres Salas", plate="ABC123", date=D0),
    lead(6, first_name="Luis"),
    lead(7, first_name="Eva", last_name="Soto Paz", phone=PHONE_2),
    lead(8, first_name="Pedro", last_name="Quispe Mamani", document="99999999", phone=PHONE),
]  # fmt: skip
MIXED_REGISTRY = [
    driver(100, "P-JUAN", **JUAN, phone=PHONE),
    driver(101, "P-PEDRO", first_name="Pedro", last_name="Quispe Mamani", phone=PHONE,
           document="12345678"),
    driver(102, "P-CARLOS", first_name="Carlos", last_name="Rojas Vega", document="44556677"),
    driver(103, "P-FLEET", first_name="Ana", last_name="Torres Salas", plate="ABC-123",
           date=D0 - dt.timedelta(days=120)),
    driver(104, "P-ROSA-1", **HOMONYMS),
    driver(105, "P-ROSA-2", **HOMONYMS),
]  # fmt: skip


def test_resolve_twice_gives_identical_tables() -> None:
    first = resolve_rows(MIXED_LEADS, MIXED_REGISTRY)
    again = resolve_rows(MIXED_LEADS, MIXED_REGISTRY)
    assert first.equals(again)
    # The scenario exercises every branch it should.
    reasons = {r["rid"]: r["reason"] for r in first.to_pylist()}
    assert reasons == {
        1: None, 2: None, 3: None,
        4: "MULTIPLE_CANDIDATES", 5: "WEAK_MATCH_ONLY", 6: "MISSING_IDENTIFIERS",
        7: "NO_CANDIDATES", 8: "CONFLICTING_EVIDENCE",
    }  # fmt: skip


def test_input_order_does_not_change_decisions() -> None:
    expected = run(MIXED_LEADS, MIXED_REGISTRY)
    rng = random.Random(20240601)
    for _ in range(2):
        leads, registry = list(MIXED_LEADS), list(MIXED_REGISTRY)
        rng.shuffle(leads)
        rng.shuffle(registry)
        assert run(leads, registry) == expected


def test_tied_records_of_one_person_pick_the_same_cid_in_any_order() -> None:
    registry = [
        driver(100, "P-JUAN", **JUAN, phone=PHONE),  # a re-registration: same person, twice
        driver(101, "P-JUAN", **JUAN, phone=PHONE),
    ]
    query = [lead(1, **JUAN, phone=PHONE)]
    forward, backward = run(query, registry)[1], run(query, registry[::-1])[1]
    assert outcome(forward) == outcome(backward) == linked("P-JUAN", "phone_exact")
    assert forward == backward


def test_query_rid_equal_to_a_registry_rid() -> None:
    row = run([lead(1, **JUAN, phone=PHONE)], [driver(1, "P-JUAN", **JUAN, phone=PHONE)])[1]
    assert outcome(row) == linked("P-JUAN", "phone_exact")


# --------------------------------------------------------------------------- property

NAMES = [
    {"first_name": "Juan", "last_name": "Quispe Mamani"},
    {"first_name": "Pedro", "last_name": "Quispe Mamani"},
    {"first_name": "Juan", "last_name": "Quispe Mamany"},
    {"full_name": "Juan Quispe Mamani"},
    {"first_name": "Rosa", "last_name": "Flores Condori"},
    {"first_name": "Rosa"},
    {},
]
OPTIONAL: dict[str, list[Any]] = {
    "phone": [PHONE, "+51 987 654 321", PHONE_2, "12345"],
    "plate": ["ABC-123", "XYZ999"],
    "document": ["12345678", "87654321"],
    "license": ["Q12345678"],
    "driver_id": ["DRV-1"],
    "date": [D0 + dt.timedelta(days=d) for d in (-91, -30, 0, 7, 31)],
}
CARS = [{}, {"car_brand": "Toyota", "car_model": "Yaris"}, {"car_brand": "Kia", "car_model": "Rio"}]


@st.composite
def record_fields(draw: st.DrawFn) -> Row:
    fields: Row = {**draw(st.sampled_from(NAMES)), **draw(st.sampled_from(CARS))}
    for name, values in OPTIONAL.items():
        value = draw(st.none() | st.sampled_from(values))
        if value is not None:
            fields[name] = value
    return fields


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queries=st.lists(record_fields(), min_size=1, max_size=5),
    registry=st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3"]), record_fields()), max_size=6),
    bands=st.sampled_from([Bands(), Bands(accept=0.9, review=0.3, margin=0.1)]),
)
def test_every_query_gets_one_well_formed_decision(
    queries: list[Row], registry: list[tuple[str, Row]], bands: Bands
) -> None:
    leads = [lead(i, **f) for i, f in enumerate(queries, start=1)]
    drivers = [driver(100 + i, key, **f) for i, (key, f) in enumerate(registry)]
    rows = run(leads, drivers, bands)  # one row per rid, each explained
    assert sorted(rows) == list(range(1, len(leads) + 1))
    for row in rows.values():
        assert (row["decision"] == "link") == (row["reason"] is None)
        assert row["reason"] is None or row["reason"] in set(Reason)
        assert row["band"] in BANDS
        assert (row["band"] == "accept") == (row["decision"] == "link")
        if row["score"] is None:
            assert row["reason"] in (Reason.NO_CANDIDATES, Reason.MISSING_IDENTIFIERS)
        else:
            assert 0.0 <= row["score"] <= 1.0
        if row["decision"] == "link":
            assert row["rule"] in RULE_NAMES
            assert row["person_key"] is not None
            assert row["score"] >= bands.accept
