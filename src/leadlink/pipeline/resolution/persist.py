"""How decisions are written: links (with the candidates they beat), new persons, unmatched
verdicts and review items, in the caller's transaction. Every path that decides writes through
``write_decisions``: the batch `match`, `recover`, an online post."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal, overload

from sqlalchemy.orm import Session

from leadlink.matching.decision import Decision
from leadlink.store import resolution
from leadlink.store.resolution import JsonText


def write_decisions(
    session: Session,
    decided: Sequence[Decision],
    *,
    run_id: int | None,
    now: dt.datetime,
    window_days: int,
    settle_by: str | None = None,
) -> dict[int, str]:
    """Persist decisions in the caller's transaction; return rid -> person_key of new links.

    ``settle_by``: the model whose verdicts settle open review items (`match --rematch`).

    ``window_days`` (the claim window) dates the review items' deadlines. ``run_id`` is None
    for a decision made outside a run (one lead posted to the API: its audit row says who).
    """
    persons = sorted({given(d, "person_key") for d in decided if d["decision"] == "found"})
    links = [_link_row(d) for d in decided if d["decision"] in ("link", "found")]
    unmatched = [_unmatched_row(d) for d in decided if d["decision"] not in ("link", "found")]
    resolution.write_chunk(session, run_id=run_id, now=now, persons=persons, links=links,
                           unmatched=unmatched)  # fmt: skip
    # Review-band pairs become review items, and linked records close theirs, in this same
    # transaction (imported here: this function is the review queue's only hook here).
    from leadlink.pipeline.resolution.review import queue_decisions

    queue_decisions(session, decided, run_id=run_id, now=now, window_days=window_days,
                    settle_by=settle_by)
    return {r["record_id"]: r["person_key"] for r in links}


def _link_row(d: Decision) -> dict[str, Any]:
    return {"record_id": d["rid"], "person_key": d["person_key"], "rule": d["rule"],
            "score": float(given(d, "score")), "confidence": d["confidence"],
            "evidence": _with_candidates(d)}  # fmt: skip


def _unmatched_row(d: Decision) -> dict[str, Any]:
    return {"record_id": d["rid"], "reason": d["reason"], "message": d.get("message"),
            "candidates": _json(d["candidates"]), "band": d["band"]}  # fmt: skip


@overload
def given(d: Decision, field: Literal["score"]) -> float: ...
@overload
def given(d: Decision, field: Literal["person_key", "rule", "reason"]) -> str: ...
def given(d: Decision, field: Literal["person_key", "rule", "score", "reason"]) -> str | float:
    """A field the decision's kind always sets (a link's person, rule and score; an unmatched
    record's reason): the type cannot say so, a missing one is a bug of the engine."""
    value: str | float | None = d[field]
    if value is None:
        raise ValueError(f"the {d['decision']} decision of record {d['rid']} has no {field}")
    return value


def _json(value: Any) -> Any:
    """The engine's JSON text as it is (it is JSON already); anything else for the store to
    serialise."""
    return JsonText(value) if isinstance(value, str) else value


def _with_candidates(decision: Decision) -> Any:
    """A link's evidence keeps the candidates it beat, so `explain` can show them.

    Spliced into the engine's JSON text when it has no candidates yet (the engine's evidence
    never does): parsing and serialising a million evidences cost more than writing them."""
    evidence, candidates = decision["evidence"], decision.get("candidates") or "[]"
    if isinstance(evidence, str) and isinstance(candidates, str):
        body = evidence.rstrip()
        if body.endswith("}") and '"candidates"' not in body:
            inner = body[:-1].rstrip()
            glue = "" if inner.endswith("{") else ","
            return JsonText(f'{inner}{glue}"candidates":{candidates}}}')
    parsed: dict[str, Any] = json.loads(evidence) if isinstance(evidence, str) else dict(evidence)
    parsed.setdefault("candidates", json.loads(candidates) if isinstance(candidates, str)
                      else candidates)  # fmt: skip
    return parsed
