"""How each source's columns map onto the matching engine's canonical fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from leadlink.matching import canonical_from_rows

# canonical field -> source column
FIELD_MAP: dict[str, dict[str, str]] = {
    "leads": {
        "first_name": "first_name", "middle_name": "middle_name", "last_name": "last_name",
        "phone": "phone", "plate": "plate", "car_brand": "car_brand", "car_model": "car_model",
        "date": "created_at",
    },
    "drivers": {
        "first_name": "first_name", "last_name": "last_name", "phone": "phone",
        "license": "license", "document": "document", "plate": "plate",
        "car_brand": "car_brand", "car_model": "car_model", "date": "hire_date",
        "driver_id": "driver_id",
    },
    "scouting": {
        "full_name": "driver_name", "phone": "driver_phone", "license": "driver_license",
        "date": "registration_date",
    },
    "migrations": {"full_name": "driver_name", "driver_id": "driver_id", "date": "hire_date"},
    "payments": {"full_name": "driver_name", "driver_id": "driver_id", "date": "paid_at"},
}  # fmt: skip


def canonical_row(
    source: str, rid: int, data: Mapping[str, Any], person_key: str | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {"rid": rid, "person_key": person_key}
    for field, column in FIELD_MAP[source].items():
        value = data.get(column)
        row[field] = value if value not in ("", None) else None
    return row


def canonical_frame(rows: Iterable[tuple[str, int, Mapping[str, Any], str | None]]) -> pa.Table:
    """(source, record id, data, person_key) rows -> canonical frame for the engine."""
    dicts = [canonical_row(s, rid, data, key) for s, rid, data, key in rows]
    if not dicts:
        dicts_schema = {"rid": pa.array([], pa.int64()), "person_key": pa.array([], pa.string())}
        return pa.table(dicts_schema)
    return canonical_from_rows(dicts)
