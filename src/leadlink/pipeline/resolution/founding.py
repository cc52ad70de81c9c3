"""Drivers found persons: a driver links to a known person, or founds a new one.

A driver is a real registered person, so a driver the rules cannot attach is never left
unmatched for lack of a candidate: it founds a person whose key is derived from its own id.
Two drivers of one batch sharing a document are one person (a re-registration); only an
ambiguous document (two known persons) or an engine failure leaves a driver unmatched.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pyarrow as pa

from leadlink.matching import DRIVER_RULES, Reason, clusters
from leadlink.matching.decision import Decision, error_decision, rows
from leadlink.pipeline.resolution.decider import failure_message

log = logging.getLogger(__name__)

# Person keys are derived from the record that founded the person, so the same data always
# yields the same keys, and a key never changes once issued.
PERSON_NAMESPACE = uuid.UUID("6d1f3c1e-4a51-4b2f-9a53-1e8f4f3c0b7a")
FOUNDED = "new_person"
# Driver decisions left as they are: an ambiguous document, or the engine failed.
_KEPT_REASONS = (Reason.MULTIPLE_CANDIDATES.value, Reason.ERROR.value)


def person_key_for(source: str, source_pk: str) -> str:
    return str(uuid.uuid5(PERSON_NAMESPACE, f"{source}:{source_pk}"))


def found_drivers(decisions: pa.Table, query: pa.Table, pks: dict[int, str]) -> list[Decision]:
    """A driver is a real registered person: link to a known person or found a new one.

    Two drivers of the same batch sharing a document are one person (a re-registration).
    Only an ambiguous document (two known persons) is left unmatched.
    """
    return next(_found(iter([rows(decisions)]), query, pks))


def found_driver_parts(
    parts: Iterator[list[Decision]], batch: pa.Table, pks: dict[int, str]
) -> Iterator[list[Decision]]:
    """``found_drivers`` over staged decisions: clusters of the whole batch, then each part.

    The driver rule (same document, names compatible) only ever ties records sharing a
    document, so the batch is blocked on documents alone: the phone, plate and name blocks
    would add pairs no driver rule can hold (at 500 k drivers, gigabytes of them).
    """
    n = batch.num_rows
    for name in ("phone", "plate", "driver_id"):
        batch = batch.set_column(batch.schema.get_field_index(name), name, pa.nulls(n, pa.string()))
    empty = pa.array([[]] * n, pa.list_(pa.string()))
    batch = batch.set_column(batch.schema.get_field_index("blocks"), "blocks", empty)
    return _found(parts, batch, pks)


def _found(
    parts: Iterator[list[Decision]], batch: pa.Table, pks: dict[int, str]
) -> Iterator[list[Decision]]:
    """Each part founded against the clusters of ``batch``. Clustering is the engine too: if
    it fails, every decision of the batch is ERROR with its message (logged with its
    traceback), never a crash of the run."""
    try:
        roots = clusters(batch, DRIVER_RULES)
    except Exception as exc:
        log.exception("matching drivers failed")
        message = failure_message(exc)
        for part in parts:
            yield [error_decision(d["rid"], message) for d in part]
        return
    for part in parts:
        yield _founded(part, roots, pks)


def _founded(
    decisions: list[Decision], roots: dict[int, int], pks: dict[int, str]
) -> list[Decision]:
    out: list[Decision] = []
    for d in decisions:
        if d["decision"] == "link" or d["reason"] in _KEPT_REASONS:
            out.append(d)
            continue
        root = roots.get(d["rid"], d["rid"])
        # The founder of a batch cluster founds the person; the others join it by document.
        # Decisions are ordered by rid and the founder has the smallest, so the person row is
        # written (in the founder's chunk) before any link to it.
        founder = root == d["rid"]
        rule_name = FOUNDED if founder else DRIVER_RULES[0].name
        # A dict: serialised once, when written (persist._with_candidates); the candidates
        # it was founded over are in it already.
        evidence = {"rule": rule_name, "founder": pks[root],
                    "candidates": json.loads(d["candidates"])}  # fmt: skip
        out.append(Decision(rid=d["rid"], decision="found" if founder else "link",
                            person_key=person_key_for("drivers", pks[root]), cid=None,
                            rule=rule_name,
                            score=1.0 if founder else DRIVER_RULES[0].score,
                            confidence="high", reason=None, band="accept",
                            evidence=evidence, candidates=d["candidates"],
                            message=None))  # fmt: skip
    return out
