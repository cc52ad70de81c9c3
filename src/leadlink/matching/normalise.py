"""Normalisation of the identifying fields: phones, names, plates, documents, cars.

Pure functions, no I/O, no clock. Every public function is total: it accepts any
``str | None`` (control characters, emoji, lone surrogates, megabyte strings) and never
raises; "nothing usable" is ``None`` (or ``''`` / ``()`` where the return type says so).

Decisions worth knowing when reading match evidence:

- ``phone``: E.164 via ``phonenumbers`` with default region PE, only numbers it calls valid.
  A field holding several numbers (``987654321 / 912345678``, separated by ``/ , ; |`` or a
  newline) yields the first valid one. Text after the digits ends the number
  (``987654321 casa`` -> ``+51987654321``), so letters are never read as a keypad vanity
  number (``987654abc`` -> ``None``, not ``+51987654222``).
- ``name_tokens``: apostrophes vanish (``D'ANGELO`` -> ``DANGELO``), every other non A-Z
  character (hyphen, dot, digit) separates tokens, Spanish particles are dropped.
- ``id_key``: a Peruvian licence is one letter (the initial of the first family name) plus the
  holder's DNI, so any ``letter + 8 digits`` reduces to the 8 digits, and ``letter + 9 digits``
  (licence of a carné de extranjería holder) to the 9 digits. Leading zeros are kept and
  never added back: a DNI that lost its leading zero in a spreadsheet does not match.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from unidecode import unidecode

from leadlink.dates import parse_timestamp

__all__ = [
    "PARTICLES",
    "PersonName",
    "brand_model",
    "document",
    "first_family_block",
    "full_name_blocks",
    "id_key",
    "name",
    "name_tokens",
    "person_name",
    "phone",
    "phone_last7",
    "plate",
    "split_full_name",
]

PARTICLES: Final[frozenset[str]] = frozenset(
    {"DE", "DEL", "LA", "LOS", "LAS", "EL", "Y", "E", "DA", "DI"}
)
"""Spanish (and a few Italian/Portuguese) name particles, dropped as whole tokens only."""

REGION: Final = "PE"
_MAX_PHONE_INPUT: Final = 250  # phonenumbers refuses longer input; we do not cache it either
_E164_DIGITS: Final = (8, 15)
_CACHED_NAME_LEN: Final = 120
_FULL_NAME_BLOCK_TOKENS: Final = 5

_SURROGATES = re.compile("[\ud800-\udfff]")
_NOT_UPPER_ALPHA = re.compile("[^A-Z]+")
_NOT_UPPER_ALNUM = re.compile("[^A-Z0-9]+")
_NOT_DIGIT = re.compile("[^0-9]+")
_NOT_ALNUM = re.compile("[^A-Za-z0-9]+")
_LICENCE = re.compile("[A-Z]([0-9]{8,9})")
_APOSTROPHES = str.maketrans("", "", "'`")
# unidecode's own transliteration of Latin-1 and Latin Extended-A/B, as a str.translate table.
_LATIN: Final = {cp: unidecode(chr(cp)) for cp in range(0x80, 0x250)}

# Phone fast path: separators a typed number may carry, all of which phonenumbers ignores.
_PHONE_SEPARATORS = str.maketrans("", "", " -.()")
# Slow path: where one number ends and the next begins, and where trailing text starts.
_PHONE_LIST_SPLIT = re.compile(r"[/,;|\n\r]+")
_PHONE_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")


def _ascii(raw: str) -> str:
    """Transliterate to ASCII (``NÚÑEZ`` -> ``NUNEZ``); lone surrogates are dropped quietly."""
    if raw.isascii():
        return raw
    text = raw.translate(_LATIN)  # the same per-character table, 4x faster on Spanish names
    if text.isascii():
        return text
    return unidecode(_SURROGATES.sub("", text))


# --------------------------------------------------------------------------- phones


def phone(raw: str | None) -> str | None:
    """E.164 (``+51987654321``) for any way of writing a valid phone number, else ``None``.

    Idempotent: ``phone(phone(x)) == phone(x)``.
    """
    if not raw or len(raw) > _MAX_PHONE_INPUT:
        return None
    fast = _phone_fast(raw)
    if fast is not None:
        return fast
    return _phone_slow(raw)


def _phone_fast(raw: str) -> str | None:
    """The common Peruvian mobile shapes, without phonenumbers. ``None`` means "not handled".

    Agrees with phonenumbers (tested): every ``9`` + 8 digits is a valid PE mobile.
    """
    compact = raw.translate(_PHONE_SEPARATORS)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not (digits.isascii() and digits.isdigit()):
        return None
    n = len(digits)
    if n == 11 and digits.startswith("519"):  # 51 987654321, +51 987654321
        return "+" + digits
    if plus:
        return None
    if n == 9 and digits[0] == "9":  # 987654321
        return "+51" + digits
    if n == 13 and digits.startswith("00519"):  # 0051 987654321
        return "+" + digits[2:]
    return None


@functools.lru_cache(maxsize=1 << 16)
def _phone_slow(raw: str) -> str | None:
    for segment in _PHONE_LIST_SPLIT.split(raw):
        cleaned = _PHONE_WHITESPACE.sub(" ", segment)
        first_digit = _DIGIT.search(cleaned)
        if first_digit is None:
            continue
        letter = _LETTER.search(cleaned, first_digit.end())
        if letter is not None:  # "987654321 casa": the number ends where text starts
            cleaned = cleaned[: letter.start()]
        prefix = cleaned[: first_digit.start()]  # "Tel: ": phonenumbers skips it too
        e164 = None if "+" in prefix else _phone_fast(cleaned[first_digit.start() :])
        e164 = e164 or _parse_valid(cleaned)
        if e164 is None:
            continue
        # Guarantee idempotence: only return what parses back to itself.
        return e164 if e164 == cleaned or _parse_valid(e164) == e164 else None
    return None


def _parse_valid(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    # Short service numbers (+47 02000) identify nobody; E.164 allows at most 15 digits,
    # though phonenumbers accepts a few longer German ones.
    return e164 if _E164_DIGITS[0] <= len(e164) - 1 <= _E164_DIGITS[1] else None


def phone_last7(e164: str | None) -> str | None:
    """Last 7 digits of a phone, for fuzzy phone blocking; ``None`` under 7 digits."""
    if not e164:
        return None
    digits = _NOT_DIGIT.sub("", e164)
    return digits[-7:] if len(digits) >= 7 else None


# --------------------------------------------------------------------------- names


@dataclass(frozen=True, slots=True)
class PersonName:
    """A name from a source that keeps given and family names apart."""

    given: tuple[str, ...]
    family: tuple[str, ...]


def name_tokens(raw: str | None) -> tuple[str, ...]:
    """``"María José de la Cruz-Núñez"`` -> ``("MARIA", "JOSE", "CRUZ", "NUNEZ")``.

    Idempotent: ``name_tokens(" ".join(name_tokens(x))) == name_tokens(x)``.
    """
    if not raw:
        return ()
    if len(raw) <= _CACHED_NAME_LEN:  # names repeat a lot (QUISPE, MARIA); tuples are immutable
        return _name_tokens_cached(raw)
    return _name_tokens(raw)


def _name_tokens(raw: str) -> tuple[str, ...]:
    text = _ascii(raw).translate(_APOSTROPHES).upper()
    return tuple(t for t in _NOT_UPPER_ALPHA.split(text) if t and t not in PARTICLES)


_name_tokens_cached = functools.lru_cache(maxsize=1 << 16)(_name_tokens)


def name(raw: str | None) -> str:
    """The normalised name as one string; ``''`` when nothing usable is left."""
    return " ".join(name_tokens(raw))


def person_name(given: str | None, family: str | None) -> PersonName:
    """``person_name("Juan Carlos", "Quispe Mamani")`` keeps both family names, in order."""
    return PersonName(given=name_tokens(given), family=name_tokens(family))


def split_full_name(raw: str | None) -> tuple[str, ...]:
    """Tokens of a full name whose order is unknown; callers must treat it as a bag."""
    return name_tokens(raw)


# --------------------------------------------------------------------------- plates, documents


def plate(raw: str | None) -> str | None:
    """Vehicle plate, A-Z0-9 only: ``abc-123`` -> ``ABC123``. Idempotent."""
    return _alnum_upper(raw)


def document(raw: str | None) -> str | None:
    """Licence / DNI / CE / passport, letters and digits only, upper case. Idempotent."""
    return _alnum_upper(raw)


def _alnum_upper(raw: str | None) -> str | None:
    if not raw:
        return None
    return _NOT_ALNUM.sub("", _ascii(raw)).upper() or None


def id_key(raw: str | None) -> str | None:
    """The number identifying a person inside a licence or a document, so they agree.

    ``Q12345678`` (licence) and ``12345678`` (DNI) -> ``12345678``; a 9-digit CE stays;
    under 6 letters/digits -> ``None``; anything else -> ``document(raw)``. Idempotent.
    """
    doc = document(raw)
    if doc is None or len(doc) < 6:
        return None
    licence = _LICENCE.fullmatch(doc)
    if licence is not None:
        return licence.group(1)
    return doc


# --------------------------------------------------------------------------- cars


def brand_model(brand: str | None, model: str | None) -> str | None:
    """``("Toyota", "Yaris")`` -> ``"TOYOTA YARIS"``; a model repeating the brand is not doubled."""
    brand_tokens = _alnum_tokens(brand)
    model_tokens = _alnum_tokens(model)
    if brand_tokens and model_tokens[: len(brand_tokens)] == brand_tokens:
        model_tokens = model_tokens[len(brand_tokens) :]
    return " ".join(brand_tokens + model_tokens) or None


def _alnum_tokens(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(t for t in _NOT_UPPER_ALNUM.split(_ascii(raw).upper()) if t)


# --------------------------------------------------------------------------- blocking keys


def first_family_block(person: PersonName) -> str | None:
    """``FAMILY1|GIVEN``: first family name and the first given name.

    The whole given name, not its initial: with the car (frames.prepare), family name +
    initial + car made 50.8 M candidate pairs at 1 M leads x 500 k drivers, most of them weak
    pairs of namesakes; family name + given name + car makes 3.9 M (measured on the 20 k
    demo: one link fewer, leads with only such weak pairs become NO_CANDIDATES).
    """
    family = person.family[0] if person.family else ""
    given = person.given[0] if person.given else ""
    return f"{family}|{given}" if family and given else None


def full_name_blocks(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Every ``TOKEN_i|TOKEN_j`` (i != j) over the first 5 tokens, sorted, unique.

    For full-name-only sources, where any token may be the first family name; it always
    contains the ``first_family_block`` of the same person.
    """
    head = [t for t in tokens[:_FULL_NAME_BLOCK_TOKENS] if t]
    keys = {f"{a}|{b}" for i, a in enumerate(head) for j, b in enumerate(head) if i != j}
    return tuple(sorted(keys))


# --------------------------------------------------------------------------- generic fields

# Street-type words and their abbreviations, so "Av. Arequipa" and "AVENIDA AREQUIPA" agree.
_STREET_WORDS = {
    "AV": "AVENIDA", "AVDA": "AVENIDA", "JR": "JIRON", "CA": "CALLE", "CL": "CALLE",
    "PJ": "PASAJE", "PSJE": "PASAJE", "URB": "URBANIZACION", "MZ": "MANZANA", "LT": "LOTE",
    "ST": "STREET", "RD": "ROAD", "AVE": "AVENUE", "DR": "DRIVE", "LN": "LANE",
}  # fmt: skip


def address(raw: str | None) -> str | None:
    """Upper-case ASCII words, abbreviations expanded: ``Av. Perú 12`` -> ``AVENIDA PERU 12``."""
    tokens = _alnum_tokens(raw)
    return " ".join(_STREET_WORDS.get(t, t) for t in tokens) or None


def email(raw: str | None) -> str | None:
    """Lower-case, trimmed; ``None`` unless it looks like ``x@y``."""
    if not raw:
        return None
    text = _ascii(raw).strip().lower()
    return text if "@" in text.strip("@") else None


def date_text(raw: str | None) -> str | None:
    """A date in any accepted file format as ISO ``YYYY-MM-DD``; ``None`` when unparseable."""
    if not raw:
        return None
    try:
        value = parse_timestamp(str(raw))
    except ValueError:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
