"""The six sources: their columns, keys and dates (the contract in DESIGN.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    INT = "int"
    DECIMAL = "decimal"
    MILESTONE = "milestone"


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[str, ...]
    # Columns whose value may not be empty.
    not_null: tuple[str, ...]
    # Typed columns (everything else is text).
    kinds: dict[str, Kind]
    # Column holding the record's event date (lead date, hire date...), if any.
    date_column: str | None
    # Columns forming source_pk; None means "hash of hash_columns".
    key_columns: tuple[str, ...]
    # Identity sources are resolved into persons by `match`.
    identity: bool
    hash_columns: tuple[str, ...] = ()
    # When the file has this column, it is the key (scouting.record_id).
    optional_key: str | None = None

    def source_pk(self, row: dict[str, str]) -> str:
        if self.optional_key and row.get(self.optional_key, "").strip():
            return row[self.optional_key].strip()
        if self.key_columns:
            return "|".join(row[c].strip() for c in self.key_columns)
        raw = "|".join(row.get(c, "") for c in self.hash_columns)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


SOURCES: dict[str, SourceSpec] = {
    "leads": SourceSpec(
        name="leads",
        columns=(
            "lead_id",
            "external_id",
            "first_name",
            "middle_name",
            "last_name",
            "phone",
            "plate",
            "car_brand",
            "car_model",
            "car_color",
            "created_at",
            "status",
            "park_name",
            "city",
        ),
        not_null=("lead_id", "created_at"),
        kinds={"created_at": Kind.DATE},
        date_column="created_at",
        key_columns=("lead_id",),
        identity=True,
    ),
    "scouting": SourceSpec(
        name="scouting",
        columns=("scout_id", "driver_name", "driver_phone", "driver_license", "registration_date"),
        not_null=("registration_date",),
        kinds={"registration_date": Kind.DATE},
        date_column="registration_date",
        key_columns=(),
        hash_columns=(
            "scout_id",
            "driver_name",
            "driver_phone",
            "driver_license",
            "registration_date",
        ),
        optional_key="record_id",
        identity=True,
    ),
    "migrations": SourceSpec(
        name="migrations",
        columns=("driver_id", "driver_name", "scout_id", "hire_date"),
        not_null=("driver_id", "hire_date"),
        kinds={"hire_date": Kind.DATE},
        date_column="hire_date",
        key_columns=("driver_id",),
        identity=True,
    ),
    "drivers": SourceSpec(
        name="drivers",
        columns=(
            "driver_id",
            "park_id",
            "first_name",
            "last_name",
            "phone",
            "license",
            "document",
            "plate",
            "car_brand",
            "car_model",
            "hire_date",
            "fire_date",
            "work_status",
        ),
        not_null=("driver_id", "hire_date"),
        kinds={"hire_date": Kind.DATE, "fire_date": Kind.DATE},
        date_column="hire_date",
        key_columns=("driver_id",),
        identity=True,
    ),
    "trips": SourceSpec(
        name="trips",
        columns=("driver_id", "date", "completed_trips"),
        not_null=("driver_id", "date", "completed_trips"),
        kinds={"date": Kind.DATE, "completed_trips": Kind.INT},
        date_column="date",
        key_columns=("driver_id", "date"),
        identity=False,
    ),
    "payments": SourceSpec(
        name="payments",
        columns=("payment_id", "driver_id", "driver_name", "milestone", "amount", "paid_at"),
        not_null=("payment_id", "milestone", "amount", "paid_at"),
        kinds={"milestone": Kind.MILESTONE, "amount": Kind.DECIMAL, "paid_at": Kind.DATE},
        date_column="paid_at",
        key_columns=("payment_id",),
        identity=False,
    ),
}

IDENTITY_SOURCES: tuple[str, ...] = tuple(n for n, s in SOURCES.items() if s.identity)
# The order `match` resolves sources in: drivers found persons, the rest attach to them.
RESOLVE_ORDER: tuple[str, ...] = ("drivers", "migrations", "scouting", "leads")
# The origin each identity source gives the person it links to (drivers give none).
ORIGIN_OF_SOURCE: dict[str, str] = {
    "leads": "cabinet_lead",
    "scouting": "scout_registration",
    "migrations": "migration",
}
