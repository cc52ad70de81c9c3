"""Name reconciliation of payments (pure): accents, particles, order, homonyms, unknowns."""

from __future__ import annotations

import pytest

from leadlink.matching.payees import Payee, PayeeIndex

PAYEES = [
    Payee("p-jose", "José Luis", "Quispe Mamani"),
    Payee("p-luz", "Luz María", "De La Flor Chávez"),
    Payee("p-juan1", "Juan Carlos", "Pérez Rojas"),
    Payee("p-juan2", "JUAN CARLOS", "PEREZ ROJAS"),
    Payee("p-pedro", "Pedro", "Quispe Mamani"),  # José's brother: same family names
    Payee("p-ana", "Ana", "Torres Vega"),
    Payee("p-ana", "Ana Lucía", "Torres Vega"),  # a second driver row of the same person
]


def decide(name: str, **kw: object) -> tuple[str | None, str | None]:
    d = PayeeIndex(PAYEES).decide(name, threshold=0.85, margin=0.05, **kw)  # type: ignore[arg-type]
    return d.person_key, d.reason


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("QUISPE MAMANI JOSE LUIS", "p-jose"),  # family names first, no accents
        ("José Luis Quispe Mamani", "p-jose"),
        ("jose  luis quispe-mamani", "p-jose"),  # case, spacing, hyphen
        ("JOSE QUISPE MAMANI", "p-jose"),  # second given name missing
        ("LUZ MARIA FLOR CHAVEZ", "p-luz"),  # particles dropped on both sides
        ("Luz María de la Flor Chavez", "p-luz"),
        ("FLOR CHAVEZ LUZ MARIA", "p-luz"),
        ("ANA LUCIA TORRES VEGA", "p-ana"),  # the fuller of the person's two names
        ("JOSE LUIS QIUSPE MAMANI", "p-jose"),  # a typo in a family name
    ],
)
def test_reconciles_by_name(name: str, person: str) -> None:
    assert decide(name) == (person, None)


def test_homonyms_are_never_guessed() -> None:
    assert decide("JUAN CARLOS PEREZ ROJAS") == (None, "MULTIPLE_CANDIDATES")
    # Once one of them is paid for this milestone, the other is the only candidate left.
    assert decide("JUAN CARLOS PEREZ ROJAS", exclude={"p-juan1"}) == ("p-juan2", None)


def test_a_sibling_is_not_paid_for_his_brother() -> None:
    assert decide("PEDRO QUISPE MAMANI") == ("p-pedro", None)
    # Only José has an unpaid claim: Pedro's payment must not land on him (given name absent).
    only_jose = PayeeIndex([PAYEES[0]]).decide("PEDRO QUISPE MAMANI", threshold=0.85, margin=0.05)
    assert (only_jose.person_key, only_jose.reason) == (None, "WEAK_MATCH_ONLY")
    assert only_jose.score <= 0.5


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ALBERTO KENYA FUJIMORI", "NO_CANDIDATES"),
        ("LUZ FLOR RAMIREZ", "WEAK_MATCH_ONLY"),
        ("QUISPE", "MISSING_IDENTIFIERS"),
        ("", "MISSING_IDENTIFIERS"),
        (None, "MISSING_IDENTIFIERS"),
    ],
)
def test_unknown_or_weak_names_stay_unreconciled(name: str | None, reason: str) -> None:
    key, got = decide(name)  # type: ignore[arg-type]
    assert (key, got) == (None, reason)


def test_candidates_are_reported_best_first() -> None:
    d = PayeeIndex(PAYEES).decide("JUAN CARLOS PEREZ ROJAS", threshold=0.85, margin=0.05)
    assert [k for k, _ in d.candidates] == ["p-juan1", "p-juan2"]
    assert d.as_detail()["reason"] == "MULTIPLE_CANDIDATES"


def test_empty_index_has_no_candidates() -> None:
    assert PayeeIndex([]).decide("JOSE QUISPE", threshold=0.85, margin=0.05).reason == (
        "NO_CANDIDATES"
    )
