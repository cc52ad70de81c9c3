"""Canonical records for the matching core's table-driven tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

Row = dict[str, Any]

D0 = dt.date(2024, 6, 1)  # the drivers' hire date; lead dates are placed around it
PHONE = "987654321"
PHONE_2 = "912345678"

# Evidence field showing that a rule key agreed (``name`` and ``days`` are checked apart).
KEY_FIELD = {
    "driver_id": "driver_id_eq",
    "id": "id_eq",
    "phone": "phone_eq",
    "plate": "plate_eq",
    "brand_model": "brand_model_eq",
}


def lead(rid: int, **fields: Any) -> Row:
    return {"rid": rid, **fields}


def driver(rid: int, person_key: str, **fields: Any) -> Row:
    return {"rid": rid, "person_key": person_key, **fields}
