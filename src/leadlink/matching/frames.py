"""Canonical records in, normalised frames out: the shape blocking and rules work on.

A canonical frame is a ``pyarrow.Table`` with ``rid`` (int64, the record's id) and any of the
canonical fields below (missing columns count as empty). Registry frames also carry
``person_key``. Nothing here reads files or databases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from leadlink.matching import dirty as dirty_values
from leadlink.matching import normalise as norm

# Fields the engine understands (DESIGN.md "Canonical fields"), plus driver_id and
# middle_name which our own sources carry.
CANONICAL_FIELDS: tuple[str, ...] = (
    "first_name", "middle_name", "last_name", "full_name", "phone", "document", "license",
    "plate", "car_brand", "car_model", "birth_date", "street_number", "address", "city",
    "postcode", "state", "email", "date", "driver_id",
)  # fmt: skip

PREPARED_SCHEMA = pa.schema(
    [
        ("rid", pa.int64()),
        ("person_key", pa.string()),
        ("tokens", pa.list_(pa.string())),
        ("given", pa.string()),
        ("blocks", pa.list_(pa.string())),
        ("phone", pa.string()),
        ("ids", pa.list_(pa.string())),
        ("plate", pa.string()),
        ("brand_model", pa.string()),
        ("date", pa.date32()),
        ("driver_id", pa.string()),
        # For the probabilistic tier: family names in order (empty for full-name sources)
        # and the generic fields `leadlink link` maps (addresses, birth dates...).
        ("family", pa.list_(pa.string())),
        ("birth_date", pa.string()),
        ("postcode", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("address", pa.string()),
        ("street_number", pa.string()),
        ("email", pa.string()),
    ]
)

# What ``prepare(..., dirty=True)`` adds: the digits of each phone that is no phone, for the
# model alone (model_frame): the rules never link on a value that did not parse.
DIRTY_SCHEMA = PREPARED_SCHEMA.append(pa.field("phone_text", pa.string()))

# Generic fields: canonical name -> normaliser (None in, None out).
GENERIC_FIELDS = {
    "birth_date": norm.date_text,
    "postcode": norm.plate,  # letters and digits only, upper case
    "city": norm.name,
    "state": norm.name,
    "address": norm.address,
    "street_number": norm.plate,
    "email": norm.email,
}


def _column(table: pa.Table, name: str) -> list[Any]:
    if name in table.column_names:
        return list(table.column(name).to_pylist())
    return [None] * table.num_rows


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _given_first(given: tuple[str, ...]) -> str | None:
    return given[0] if given else None


def prepare(canonical: pa.Table, *, dirty: bool = False) -> pa.Table:
    """Normalise every identifying field of a canonical frame (see PREPARED_SCHEMA).

    ``dirty``: keep what does not parse as text the model compares (matching/dirty.py), as
    `leadlink link` does: a birth date as its digits in date order, a phone as its digits in
    ``phone_text`` (DIRTY_SCHEMA). Without it (our sources) such a value is missing."""
    n = canonical.num_rows
    first = _column(canonical, "first_name")
    middle = _column(canonical, "middle_name")
    last = _column(canonical, "last_name")
    full = _column(canonical, "full_name")
    tokens: list[list[str]] = []
    given_first: list[str | None] = []
    family: list[list[str]] = []
    blocks: list[list[str]] = []
    for i in range(n):
        given_raw = " ".join(p for p in (first[i], middle[i]) if p)
        if given_raw or last[i]:
            person = norm.person_name(given_raw, last[i])
            toks = (*person.given, *person.family)
            block = norm.first_family_block(person)
            if block is not None:
                blocks.append([block])
            else:
                blocks.append(list(norm.full_name_blocks(toks)))
            given_first.append(_given_first(person.given) if person.family else None)
            family.append(list(person.family))
        else:
            toks = norm.split_full_name(full[i])
            blocks.append(list(norm.full_name_blocks(toks)))
            given_first.append(None)
            family.append([])
        tokens.append(list(toks))
    docs = _column(canonical, "document")
    lics = _column(canonical, "license")
    ids: list[list[str]] = []
    for d, lic in zip(docs, lics, strict=True):
        keys = {k for k in (norm.id_key(d), norm.id_key(lic)) if k}
        ids.append(sorted(keys))
    brands = _column(canonical, "car_brand")
    models = _column(canonical, "car_model")
    cars = [norm.brand_model(b, m) for b, m in zip(brands, models, strict=True)]
    # A name alone settles nothing (the only name rule also needs the car), and common
    # surnames make name-only blocks explode quadratically: name blocks carry the car.
    blocks = [
        [f"{b}|{car}" for b in bs] if car else [] for bs, car in zip(blocks, cars, strict=True)
    ]
    generic = {name: [fn(_text(v)) or None for v in _column(canonical, name)]
               for name, fn in GENERIC_FIELDS.items()}  # fmt: skip
    raw_phones = _column(canonical, "phone")
    phones = [norm.phone(v) for v in raw_phones]
    if dirty:
        raw_dates = _column(canonical, "birth_date")
        generic["birth_date"] = [
            iso or dirty_values.date_digits(_text(raw))
            for iso, raw in zip(generic["birth_date"], raw_dates, strict=True)
        ]
    person_keys = _column(canonical, "person_key")
    driver_ids = [(str(v).strip() or None) if v is not None else None for v in
                  _column(canonical, "driver_id")]  # fmt: skip
    prepared = pa.table(
        {
            "rid": pa.array(_column(canonical, "rid"), pa.int64()),
            "person_key": pa.array(person_keys, pa.string()),
            "tokens": pa.array(tokens, pa.list_(pa.string())),
            "given": pa.array(given_first, pa.string()),
            "blocks": pa.array(blocks, pa.list_(pa.string())),
            "phone": pa.array(phones, pa.string()),
            "ids": pa.array(ids, pa.list_(pa.string())),
            "plate": pa.array([norm.plate(v) for v in _column(canonical, "plate")], pa.string()),
            "brand_model": pa.array(cars, pa.string()),
            "date": pa.array([_as_date(v) for v in _column(canonical, "date")], pa.date32()),
            "driver_id": pa.array(driver_ids, pa.string()),
            "family": pa.array(family, pa.list_(pa.string())),
            **{name: pa.array(values, pa.string()) for name, values in generic.items()},
        },
        schema=PREPARED_SCHEMA,
    )
    if not dirty:
        return prepared
    texts = [None if e164 else dirty_values.phone_digits(_text(raw))
             for e164, raw in zip(phones, raw_phones, strict=True)]  # fmt: skip
    return prepared.append_column("phone_text", pa.array(texts, pa.string()))


def canonical_from_rows(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Build a canonical frame from dicts (``rid`` plus canonical fields)."""
    columns: dict[str, list[Any]] = {"rid": [r["rid"] for r in rows]}
    for name in (*CANONICAL_FIELDS, "person_key"):
        if any(name in r for r in rows):
            columns[name] = [r.get(name) for r in rows]
    return pa.table(columns)
