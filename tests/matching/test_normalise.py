"""Normalisation: table-driven examples plus property tests (total, idempotent, well-formed)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadlink.matching.normalise import (
    PersonName,
    _phone_fast,
    brand_model,
    document,
    first_family_block,
    full_name_blocks,
    id_key,
    name,
    name_tokens,
    person_name,
    phone,
    phone_last7,
    plate,
    split_full_name,
)

E164 = re.compile(r"^\+\d{8,15}$")
ALNUM = re.compile(r"^[A-Z0-9]+$")

# Any text, including control characters, emoji and lone surrogates.
any_text = st.text() | st.text(st.characters(categories=["Cs", "Cc", "So", "Zs"]))
maybe_text = st.none() | any_text
phoneish = st.text(alphabet="0123456789 +-().x/,;\t\n#*abcext", max_size=40)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plain_phonenumbers(raw: str) -> str | None:
    """The reference the fast path must agree with: phonenumbers alone, region PE."""
    try:
        number = phonenumbers.parse(raw, "PE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+51 987 654 321", "+51987654321"),
        ("987654321", "+51987654321"),
        ("0051987654321", "+51987654321"),
        ("51987654321", "+51987654321"),
        ("987-654-321", "+51987654321"),
        ("(+51) 987654321", "+51987654321"),
        ("+51-987.654.321", "+51987654321"),
        (" 987 654 321 ", "+51987654321"),
        ("+51987654321", "+51987654321"),
        ("(01) 234-5678", "+5112345678"),
        ("01 2345678", "+5112345678"),
        ("+51 1 2345678", "+5112345678"),
        ("(044) 234567", "+5144234567"),
        ("+1 650 253 0000", "+16502530000"),
        ("0016502530000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+47 02000", None),  # valid service number, identifies nobody
        ("+49 30 00000000000000", None),  # phonenumbers-valid, longer than E.164 allows
        ("Tel: 987654321", "+51987654321"),
        ("987654321 casa", "+51987654321"),
        ("987654321 ext 12", "+51987654321"),
        ("+51\t987654321", "+51987654321"),
        ("987654321 / 912345678", "+51987654321"),
        ("abc / 912345678", "+51912345678"),
        ("９８７６５４３２１", "+51987654321"),
        ("987654abc", None),  # never read letters as a keypad number
        ("", None),
        ("   ", None),
        ("abc", None),
        ("12", None),
        ("2345678", None),  # Lima number without its area code
        ("9876543210", None),
        ("+51 087654321", None),
        ("0" * 300, None),
        (None, None),
    ],
)
def test_phone_examples(raw: str | None, expected: str | None) -> None:
    assert phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+51987654321", "7654321"),
        ("+5112345678", "2345678"),
        ("+123456", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_last7(raw: str | None, expected: str | None) -> None:
    assert phone_last7(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NÚÑEZ", ("NUNEZ",)),
        ("María José", ("MARIA", "JOSE")),
        ("  maria   jose  ", ("MARIA", "JOSE")),
        ("DE LA CRUZ", ("CRUZ",)),
        ("Juan de los Santos y Pérez", ("JUAN", "SANTOS", "PEREZ")),
        ("DELA CRUZ", ("DELA", "CRUZ")),  # particles only as whole tokens
        ("ELENA DELGADO", ("ELENA", "DELGADO")),
        ("D'ANGELO", ("DANGELO",)),
        ("O’Brien", ("OBRIEN",)),
        ("GARCÍA-MÁRQUEZ", ("GARCIA", "MARQUEZ")),
        ("Jr. Smith 2nd", ("JR", "SMITH", "ND")),
        ("ÇAĞLAR Øster", ("CAGLAR", "OSTER")),
        ("DE LA", ()),
        ("", ()),
        (None, ()),
        ("😀 \x00\x1f", ()),
    ],
)
def test_name_tokens(raw: str | None, expected: tuple[str, ...]) -> None:
    assert name_tokens(raw) == expected
    assert split_full_name(raw) == expected
    assert name(raw) == " ".join(expected)


def test_person_name_keeps_both_family_names() -> None:
    got = person_name("Juan Carlos", "QUISPE MAMANI")
    assert got == PersonName(given=("JUAN", "CARLOS"), family=("QUISPE", "MAMANI"))
    assert person_name(None, "de la Cruz") == PersonName(given=(), family=("CRUZ",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("abc-123", "ABC123"), (" A1B 234 ", "A1B234"), ("a1b·234", "A1B234"), ("--", None)],
)
def test_plate(raw: str, expected: str | None) -> None:
    assert plate(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("q-12345678", "Q12345678"), ("001.234.567", "001234567"), (" ", None), (None, None)],
)
def test_document(raw: str | None, expected: str | None) -> None:
    assert document(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Q12345678", "12345678"),
        ("q-12345678", "12345678"),
        ("M 01234567", "01234567"),  # licence letter is the family-name initial
        ("12345678", "12345678"),
        ("01234567", "01234567"),  # leading zeros kept
        ("001234567", "001234567"),  # CE
        ("X001234567", "001234567"),  # licence of a CE holder
        ("12345", None),
        ("Q-123", None),
        ("AB1234567", "AB1234567"),
        ("PASAPORTE 123", "PASAPORTE123"),
        (None, None),
    ],
)
def test_id_key(raw: str | None, expected: str | None) -> None:
    assert id_key(raw) == expected


@pytest.mark.parametrize("dni", ["12345678", "01234567", "70000001"])
def test_licence_and_dni_agree(dni: str) -> None:
    assert id_key(f"Q{dni}") == id_key(f"q-{dni[:4]} {dni[4:]}") == id_key(dni) == dni


@pytest.mark.parametrize(
    ("brand", "model", "expected"),
    [
        ("Toyota", "Yaris", "TOYOTA YARIS"),
        ("  toyota ", "TOYOTA yaris", "TOYOTA YARIS"),
        ("Mazda", "CX-5", "MAZDA CX 5"),
        ("Citroën", "C-Élysée", "CITROEN C ELYSEE"),
        ("Kia", None, "KIA"),
        (None, "Yaris", "YARIS"),
        (None, "", None),
        ("--", " ", None),
    ],
)
def test_brand_model(brand: str | None, model: str | None, expected: str | None) -> None:
    assert brand_model(brand, model) == expected


def test_first_family_block() -> None:
    assert first_family_block(person_name("Juan Carlos", "Quispe Mamani")) == "QUISPE|JUAN"
    assert first_family_block(person_name(None, "Quispe")) is None
    assert first_family_block(person_name("Juan", "")) is None
    assert first_family_block(PersonName(given=("",), family=("QUISPE",))) is None


def test_full_name_blocks() -> None:
    blocks = full_name_blocks(split_full_name("Juan Quispe Mamani"))
    assert blocks == ("JUAN|MAMANI", "JUAN|QUISPE", "MAMANI|JUAN", "MAMANI|QUISPE",
                      "QUISPE|JUAN", "QUISPE|MAMANI")  # fmt: skip
    assert first_family_block(person_name("Juan", "Quispe Mamani")) in blocks
    assert full_name_blocks(("ANA", "ANA")) == ("ANA|ANA",)
    assert full_name_blocks(("JUAN",)) == ()
    assert full_name_blocks(()) == ()
    assert full_name_blocks(("", "A")) == ()
    six = full_name_blocks(("A", "B", "C", "D", "E", "F"))
    assert len(six) == 20 and not any("F" in key for key in six)


def test_huge_inputs() -> None:
    huge = "Núñez-987654321 " * 20_000  # 320 kB
    assert phone(huge) is None
    assert len(name_tokens(huge)) == 20_000
    assert plate(huge) is not None and document(huge) is not None
    assert id_key(huge) == document(huge)
    assert brand_model(huge, huge) is not None
    assert phone_last7(huge) == "7654321"


# --------------------------------------------------------------------------- properties

UNARY: list[Callable[[str | None], object]] = [
    phone,
    phone_last7,
    name_tokens,
    name,
    split_full_name,
    plate,
    document,
    id_key,
]


@PROPS
@given(raw=maybe_text, other=maybe_text)
def test_total(raw: str | None, other: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning noise on odd input either
        for fn in UNARY:
            fn(raw)
        person = person_name(raw, other)
        first_family_block(person)
        full_name_blocks(split_full_name(raw))
        brand_model(raw, other)


@PROPS
@given(raw=st.none() | phoneish | any_text)
def test_phone_idempotent_and_e164(raw: str | None) -> None:
    got = phone(raw)
    assert got is None or E164.match(got)
    assert phone(got) == got
    last7 = phone_last7(got)
    assert (got is None) == (last7 is None)


@PROPS
@given(cc=st.integers(1, 999), rest=st.text("0123456789", min_size=4, max_size=13))
def test_phone_idempotent_on_international(cc: int, rest: str) -> None:
    for raw in (f"+{cc}{rest}", f"00{cc} {rest}", f"{cc}{rest}"):
        got = phone(raw)
        assert got is None or E164.match(got)
        assert phone(got) == got


@PROPS
@given(raw=maybe_text)
def test_name_tokens_idempotent(raw: str | None) -> None:
    tokens = name_tokens(raw)
    assert name_tokens(" ".join(tokens)) == tokens
    assert name(name(raw)) == name(raw)
    assert all(re.fullmatch("[A-Z]+", t) for t in tokens)


@PROPS
@given(raw=maybe_text)
def test_plate_document_id_key(raw: str | None) -> None:
    for fn in (plate, document, id_key):
        got = fn(raw)
        assert got is None or ALNUM.match(got)
        assert fn(got) == got


@PROPS
@given(raw=maybe_text, other=maybe_text)
def test_brand_model_idempotent(raw: str | None, other: str | None) -> None:
    got = brand_model(raw, other)
    assert got is None or re.fullmatch("[A-Z0-9]+( [A-Z0-9]+)*", got)
    assert brand_model(got, None) == got


@PROPS
@given(tokens=st.lists(st.sampled_from(["ANA", "LUZ", "QUISPE", "ROJAS", "R", "ANTONIO"])))
def test_full_name_blocks_shape(tokens: list[str]) -> None:
    blocks = full_name_blocks(tuple(tokens))
    assert list(blocks) == sorted(set(blocks))
    head = tokens[:5]
    for key in blocks:
        family, given = key.split("|")
        assert family in head and given in head


MOBILE_FORMATS = [
    "{d}",
    "+51{d}",
    "+51 {a} {b} {c}",
    "0051{d}",
    "0051 {a} {b} {c}",
    "51{d}",
    "51 {d}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "({a}) {b} {c}",
    "(+51) {d}",
    "(+51){a}-{b}-{c}",
    "+ 51 {d}",
    " {a} {b} {c} ",
    "(0051) {d}",
]


@settings(max_examples=200, deadline=None)
@given(
    digits=st.text("0123456789", min_size=8, max_size=8),
    fmt=st.sampled_from(MOBILE_FORMATS),
)
def test_fast_path_agrees_with_phonenumbers(digits: str, fmt: str) -> None:
    d = "9" + digits
    raw = fmt.format(d=d, a=d[:3], b=d[3:6], c=d[6:])
    assert _phone_fast(raw) == "+51" + d  # the fast path takes it...
    assert phone(raw) == _plain_phonenumbers(raw) == "+51" + d  # ...and agrees


@settings(max_examples=200, deadline=None)
@given(
    digits=st.text("0123456789", min_size=8, max_size=8),
    fmt=st.sampled_from(MOBILE_FORMATS),
    prefix=st.sampled_from(["Tel: ", "cel.", "Móvil ", "N° ", "whatsapp:", "tel:", "+ Tel "]),
)
def test_text_prefix_agrees_with_phonenumbers(digits: str, fmt: str, prefix: str) -> None:
    d = "9" + digits
    raw = prefix + fmt.format(d=d, a=d[:3], b=d[3:6], c=d[6:])
    assert phone(raw) == _plain_phonenumbers(raw)


@PROPS
@given(raw=st.text(alphabet="0123456789 +-.()", max_size=20))
def test_fast_path_never_disagrees(raw: str) -> None:
    fast = _phone_fast(raw)
    if fast is not None:
        assert fast == _plain_phonenumbers(raw)
