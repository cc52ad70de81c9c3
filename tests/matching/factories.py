"""Canonical records for the matching core's table-driven tests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest

from leadlink.matching import Bands, Reason, canonical_from_rows, prepare, resolve, rule_named
from leadlink.matching.rules import RULES

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


RULE_NAMES = {r.name for r in RULES}
EVIDENCE_KEYS = {"rule", "score", "candidate", "fields", "runner_up", "runner_up_score",
                 "waterfall"}  # fmt: skip
FIELD_KEYS = {"phone_eq", "id_eq", "plate_eq", "brand_model_eq", "driver_id_eq", "name_sim", "days"}


def resolve_rows(
    queries: Sequence[Row], registry: Sequence[Row], bands: Bands | None = None
) -> pa.Table:
    return resolve(
        prepare(canonical_from_rows(queries)), prepare(canonical_from_rows(registry)), bands
    )


def run(
    queries: Sequence[Row], registry: Sequence[Row], bands: Bands | None = None
) -> dict[int, Row]:
    rows = resolve_rows(queries, registry, bands).to_pylist()
    assert [r["rid"] for r in rows] == sorted(q["rid"] for q in queries)
    for row in rows:
        assert_explained(row)
    return {r["rid"]: r for r in rows}


def assert_explained(row: Row) -> None:
    """Evidence parses and names the rule and its agreeing fields; candidates: <= 3, best first."""
    evidence = json.loads(row["evidence"])
    candidates = json.loads(row["candidates"])
    assert set(evidence) == EVIDENCE_KEYS
    assert (evidence["rule"], evidence["candidate"]) == (row["rule"], row["cid"])
    # Model decisions explain themselves with per-field match weights; rules with their fields.
    if row["rule"] == "model":
        assert evidence["waterfall"] and all("weight" in v for v in evidence["waterfall"].values())
    else:
        assert evidence["waterfall"] is None
    assert len(candidates) <= 3
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert len({c["person_key"] for c in candidates}) == len(candidates)
    if not candidates:
        assert row["reason"] in (Reason.NO_CANDIDATES, Reason.MISSING_IDENTIFIERS)
        assert row["score"] is None
        assert evidence["fields"] is None
        return
    best = candidates[0]
    assert (best["person_key"], best["cid"], best["rule"]) == (
        row["person_key"], row["cid"], row["rule"],
    )  # fmt: skip
    assert best["score"] == evidence["score"] == pytest.approx(row["score"], abs=1e-4)
    runner_up = candidates[1] if len(candidates) > 1 else {"person_key": None, "score": None}
    assert (evidence["runner_up"], evidence["runner_up_score"]) == (
        runner_up["person_key"], runner_up["score"],
    )  # fmt: skip
    fields = evidence["fields"]
    assert set(fields) == FIELD_KEYS
    if row["rule"] in RULE_NAMES:
        for key in rule_named(row["rule"]).keys:
            if key == "name":
                assert fields["name_sim"] >= 0.5
            elif key == "days":
                assert fields["days"] is not None
            else:
                assert fields[KEY_FIELD[key]] is True


def outcome(row: Row) -> tuple[Any, ...]:
    return row["decision"], row["person_key"], row["rule"], row["reason"], row["band"]


def linked(person_key: str, rule: str) -> tuple[Any, ...]:
    return ("link", person_key, rule, None, "accept")


def unmatched(person_key: str | None, rule: str | None, reason: str, band: str) -> tuple[Any, ...]:
    return ("unmatched", person_key, rule, reason, band)
