"""One record against its candidates, in Python: the online path's copy of the decision.

The batch engine decides in DuckDB (``engine.resolve``): right for thousands of records, and
about 40 ms of fixed cost per call, too slow for one lead at a time. This module computes the
same features and evaluates, on a few candidate rows, the very expressions the batch renders
as SQL: the rules (rules.py), the model guard, score and confidence, and the decision (reason,
band: outcome.py). Tests compare it with ``engine.resolve`` on generated data, decision by
decision, so the two cannot drift apart.
The model's own scores still come from DuckDB (``compiled.CompiledModel``): its comparison
levels are SQL written by Splink.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
from rapidfuzz.distance import JaroWinkler

from leadlink.matching.blocking import TOKEN_MATCH
from leadlink.matching.decision import Decision
from leadlink.matching.outcome import (
    BAND,
    DECISION,
    MODEL_CONFIDENCE,
    OPEN,
    REASON,
    USABLE,
    Bands,
    Guard,
    model_cap,
    model_score,
)  # fmt: skip
from leadlink.matching.rules import RULES, Rule, first_rule, rule_confidence, rule_score

Row = dict[str, Any]


def _best(x: str, bag: Sequence[str]) -> float:
    return max((JaroWinkler.normalized_similarity(x, y) for y in bag), default=0.0)


def _bag_sim(a: Sequence[str], b: Sequence[str]) -> float:
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    hits = sum(_best(x, long_) >= TOKEN_MATCH for x in short)
    return hits / max(len(short), 2)


def _given_in(given: str | None, bag: Sequence[str]) -> bool:
    return given is None or not bag or _best(given, bag) >= TOKEN_MATCH


def features(q: Row, r: Row) -> Row:
    """blocking.FEATURES_SQL for one pair."""
    q_ids, r_ids = set(q["ids"] or ()), set(r["ids"] or ())
    bag = _bag_sim(q["tokens"] or (), r["tokens"] or ())
    # Given names that disagree cap the similarity (relatives); so do two full names whose
    # order nobody knows unless every token agrees.
    given_ok = _given_in(q["given"], r["tokens"] or ()) and _given_in(r["given"], q["tokens"] or ())
    both_full = q["given"] is None and r["given"] is None
    name_sim = bag if given_ok and not (both_full and bag < 1.0) else min(bag, 0.5)
    days = (r["date"] - q["date"]).days if q["date"] and r["date"] else None
    return {
        "rid": q["rid"], "cid": r["rid"], "person_key": r["person_key"],
        "phone_eq": _eq(q["phone"], r["phone"]), "id_eq": bool(q_ids & r_ids),
        "id_conflict": bool(q_ids) and bool(r_ids) and not q_ids & r_ids,
        "plate_eq": _eq(q["plate"], r["plate"]),
        "brand_model_eq": _eq(q["brand_model"], r["brand_model"]),
        "driver_id_eq": _eq(q["driver_id"], r["driver_id"]), "name_sim": name_sim, "days": days,
    }  # fmt: skip


def blocked(q: Row, r: Row) -> bool:
    """blocking.PAIRS_SQL for one pair: do they share a key the rules block on?"""
    return (
        _eq(q["phone"], r["phone"]) or _eq(q["plate"], r["plate"])
        or _eq(q["driver_id"], r["driver_id"])
        or bool(set(q["ids"] or ()) & set(r["ids"] or ()))
        or bool(set(q["blocks"] or ()) & set(r["blocks"] or ()))
    )  # fmt: skip


def _eq(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def score_pair(f: Row, rules: Sequence[Rule]) -> Row:
    """engine._scored_sql for one pair: first holding rule, its score plus support, confidence."""
    named = {**f, "rule": first_rule(rules).eval(f)}
    return {**named, "score": rule_score(rules).eval(named),
            "confidence": rule_confidence(rules).eval(named), "waterfall": None}  # fmt: skip


def decide(query: Row, scored: list[Row], bands: Bands) -> Decision:
    """engine.DECIDE_SQL + RESULT_SQL for one record."""
    params = bands.params()
    best: dict[str, Row] = {}
    for p in sorted(scored, key=lambda p: (-p["score"], p["cid"])):
        best.setdefault(p["person_key"], p)
    ranked = sorted(best.values(), key=lambda p: (-p["score"], p["person_key"]))
    top = ranked[0] if ranked else None
    second = ranked[1] if len(ranked) > 1 else None
    reason = REASON.eval({
        "usable": USABLE.eval(query), "has_candidates": top is not None,
        "score": top and top["score"], "rule": top and top["rule"],
        "second_score": second and second["score"],
        "any_conflict": top and any(p["rule"] == "conflict" for p in ranked),
    }, params)  # fmt: skip
    outcome = {"reason": reason, "score": top and top["score"]}
    fields = None if top is None else {
        k: top[k] for k in ("phone_eq", "id_eq", "plate_eq", "brand_model_eq", "driver_id_eq")
    } | {"name_sim": round(top["name_sim"], 3), "days": top["days"]}  # fmt: skip
    evidence = {
        "rule": top and top["rule"], "score": top and round(top["score"], 4),
        "candidate": top and top["cid"], "fields": fields,
        "runner_up": second and second["person_key"],
        "runner_up_score": second and round(second["score"], 4),
        "waterfall": top and top["waterfall"] and json.loads(top["waterfall"]),
    }  # fmt: skip
    candidates = [{"person_key": p["person_key"], "cid": p["cid"], "rule": p["rule"],
                   "score": round(p["score"], 4)} for p in ranked[:3]]  # fmt: skip
    best_pair: Row = top or {}
    return Decision(
        rid=query["rid"], decision=DECISION.eval(outcome),
        person_key=best_pair.get("person_key"), cid=best_pair.get("cid"),
        rule=best_pair.get("rule"), score=best_pair.get("score"),
        confidence=best_pair.get("confidence"), reason=reason, band=BAND.eval(outcome, params),
        evidence=json.dumps(evidence), candidates=json.dumps(candidates), message=None,
    )  # fmt: skip


def resolve_one(
    query: pa.Table,
    candidates: pa.Table,
    bands: Bands,
    rules: Sequence[Rule] = RULES,
    model: dict[str, Any] | None = None,
    scorer: Callable[[pa.Table, pa.Table], pa.Table] | None = None,
) -> Decision:
    """``engine.resolve`` for a one-row query against its candidate rows (see ``index``)."""
    (q,) = query.to_pylist()
    regs = candidates.to_pylist()
    # The candidates also hold rows only the model's blocking finds: the rules never see those.
    rule_pairs = [score_pair(features(q, r), rules) for r in regs if blocked(q, r)]
    decision = decide(q, rule_pairs, bands)
    if model is None or scorer is None or decision["reason"] not in OPEN:
        return decision
    score = model_score(Guard.of(model))
    params = {**bands.params(), "cap": model_cap(bands)}
    by_cid = {p["cid"]: p for p in rule_pairs}
    by_rid = {r["rid"]: r for r in regs}
    model_pairs = []
    for m in scorer(query, candidates).to_pylist():
        rule_pair = by_cid.get(m["cid"])
        if rule_pair is not None and rule_pair["rule"] == "conflict":
            continue
        # A pair only the model found gets its features computed all the same (the batch's
        # model_features): its evidence must agree with the weights beside it.
        base = rule_pair or features(q, by_rid[m["cid"]])
        pair = {"probability": m["probability"], "waterfall": json.loads(m["waterfall"])}
        model_pairs.append({
            **base, "rule": "model", "score": score.eval(pair, params),
            "confidence": MODEL_CONFIDENCE.eval(pair, params), "waterfall": m["waterfall"],
        })  # fmt: skip
    return decide(q, rule_pairs + model_pairs, bands)
