"""The one chunk decider: the rules each source is decided by, and ERROR for a whole chunk the
engine fails on (a real failure, not a mock)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from leadlink.matching import DRIVER_RULES, RULES, Bands, canonical_from_rows, prepare, resolve
from leadlink.matching.decision import DECISION_SCHEMA, conform, rows
from leadlink.pipeline.resolution.decider import decide_chunk, failure_message

BANDS = Bands()
REGISTRY = prepare(canonical_from_rows([
    {"rid": 1, "person_key": "P1", "first_name": "Ana", "last_name": "Torres Vega",
     "phone": "987000111", "document": "11223344"},
    {"rid": 2, "person_key": "P2", "first_name": "Luis", "last_name": "Ramos Cruz",
     "phone": "987000222"},
]))  # fmt: skip
QUERY = prepare(canonical_from_rows([
    {"rid": 10, "first_name": "Ana", "last_name": "Torres Vega", "phone": "987000111",
     "document": "11223344"},
    {"rid": 11, "first_name": "Luis", "last_name": "Ramos Cruz", "phone": "987000222"},
    {"rid": 12, "first_name": "Nadie", "last_name": "Nunca Jamas", "phone": "955999888"},
]))  # fmt: skip
# A registry the engine cannot read: its blocking SQL names the phone column.
BROKEN_REGISTRY = REGISTRY.drop_columns(["phone"])


def test_leads_are_decided_by_the_rules() -> None:
    got = decide_chunk("leads", QUERY, REGISTRY, BANDS)
    assert got.schema == DECISION_SCHEMA
    assert got.equals(conform(resolve(QUERY, REGISTRY, BANDS, RULES)))
    decided = {d["rid"]: d for d in rows(got)}
    assert decided[11]["decision"] == "link" and decided[11]["person_key"] == "P2"
    assert decided[12]["decision"] == "unmatched" and decided[12]["message"] is None


def test_drivers_are_decided_by_the_driver_rules_never_the_model() -> None:
    # A model a lead chunk could not be scored with: a driver chunk never looks at it.
    unusable_model: dict[str, Any] = {"not": "a model"}
    got = decide_chunk("drivers", QUERY, REGISTRY, BANDS, unusable_model)
    assert got.equals(conform(resolve(QUERY, REGISTRY, BANDS, DRIVER_RULES)))
    decided = {d["rid"]: d for d in rows(got)}
    assert decided[10]["decision"] == "link" and decided[10]["person_key"] == "P1"
    assert decided[11]["decision"] == "unmatched"  # a phone alone never ties two drivers


@pytest.mark.parametrize(("source", "rules"), [("drivers", DRIVER_RULES), ("leads", RULES)])
def test_an_engine_failure_decides_every_record_of_the_chunk_error(
    source: str, rules: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever the engine raises
        resolve(QUERY, BROKEN_REGISTRY, BANDS, rules)
    message = failure_message(raised.value)
    assert message.startswith(f"{type(raised.value).__name__}: ")

    with caplog.at_level(logging.ERROR, logger="leadlink.pipeline.resolution.decider"):
        got = decide_chunk(source, QUERY, BROKEN_REGISTRY, BANDS)

    assert got.schema == DECISION_SCHEMA
    assert [d["rid"] for d in rows(got)] == [10, 11, 12]
    for d in rows(got):
        assert set(d) == set(DECISION_SCHEMA.names)
        assert (d["decision"], d["reason"], d["band"], d["message"]) == (
            "unmatched", "ERROR", "reject", message)  # fmt: skip
        assert (d["person_key"], d["rule"], d["score"], d["evidence"], d["candidates"]) == (
            None, None, None, "{}", "[]")  # fmt: skip
    (record,) = [r for r in caplog.records if r.name.endswith("decider")]
    assert record.getMessage() == f"matching {source} failed" and record.exc_info is not None


def test_failure_message_names_the_exception_type() -> None:
    assert failure_message(ValueError("boom in the engine")) == "ValueError: boom in the engine"
    assert failure_message(KeyError("phone")) == "KeyError: 'phone'"
