"""A decision: what the engine says of one record. One type, one schema, one error builder.

The batch engine returns decisions as an Arrow table in ``DECISION_SCHEMA`` (``engine.resolve``,
one row per record); the online path returns one ``Decision`` (``single.resolve_one``). Every
writer (``match``, ``recover``, ``POST /api/leads``, the review queue) consumes ``Decision``
rows, so ``mypy --strict`` checks what they read.

- ``decision``: ``link`` (to an existing person), ``found`` (a driver founds a new person:
  ``pipeline.resolution.founding``) or ``unmatched`` (``reason`` says why);
- ``band``: ``accept`` (linked), ``review`` (a person should look) or ``reject``;
- ``evidence``: the engine's JSON text (``found`` decisions carry a dict, serialised once when
  written); ``candidates``: JSON text, the top candidates considered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, TypedDict, cast

import pyarrow as pa

from leadlink.matching.reasons import Reason

DecisionKind = Literal["link", "found", "unmatched"]
Band = Literal["accept", "review", "reject"]
Confidence = Literal["high", "medium", "low"]
BANDS: tuple[Band, ...] = ("accept", "review", "reject")


class Decision(TypedDict):
    rid: int
    decision: DecisionKind
    person_key: str | None
    cid: int | None
    rule: str | None
    score: float | None
    confidence: str | None
    reason: str | None
    band: Band
    evidence: str | dict[str, Any]
    candidates: str
    message: str | None


DECISION_SCHEMA = pa.schema(
    [("rid", pa.int64()), ("decision", pa.string()), ("person_key", pa.string()),
     ("cid", pa.int64()), ("rule", pa.string()), ("score", pa.float64()),
     ("confidence", pa.string()), ("reason", pa.string()), ("band", pa.string()),
     ("evidence", pa.string()), ("candidates", pa.string()), ("message", pa.string())]
)  # fmt: skip

NO_EVIDENCE = json.dumps({})


def error_decision(rid: int, message: str) -> Decision:
    """The record could not be decided (an exception in the engine): unmatched ``ERROR``,
    with the exception's message, never silently dropped."""
    return Decision(rid=rid, decision="unmatched", person_key=None, cid=None, rule=None,
                    score=None, confidence=None, reason=Reason.ERROR.value, band="reject",
                    evidence=NO_EVIDENCE, candidates="[]", message=message)  # fmt: skip


def error_table(rids: Sequence[int], message: str) -> pa.Table:
    """``error_decision`` for every record of a chunk, as a table in ``DECISION_SCHEMA``."""
    return pa.Table.from_pylist([dict(error_decision(r, message)) for r in rids],
                                schema=DECISION_SCHEMA)  # fmt: skip


def conform(table: pa.Table) -> pa.Table:
    """The engine's result table in ``DECISION_SCHEMA`` (with an empty ``message`` column)."""
    if "message" not in table.column_names:
        table = table.append_column("message", pa.nulls(table.num_rows, pa.string()))
    return table.select(DECISION_SCHEMA.names).cast(DECISION_SCHEMA)


def rows(table: pa.Table) -> list[Decision]:
    """Decisions of a ``DECISION_SCHEMA`` table (the schema is what makes the cast true)."""
    return cast(list[Decision], conform(table).to_pylist())
