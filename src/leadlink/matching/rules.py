"""Deterministic rules. Each carries its own SQL over pair features and a human label.

Pair features (computed in ``blocking.pair_features``), prefix ``f.``:
  phone_eq, id_eq, id_conflict, plate_eq, brand_model_eq, driver_id_eq (booleans),
  name_sim (0-1: share of the shorter name's tokens found, fuzzily, in the other),
  days (candidate date minus record date, in days; NULL when either is missing).
Rules are tried in order; the first that holds for a pair decides its rule and score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Features = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    score: float
    confidence: str
    sql: str
    # Fields whose agreement is the rule's own evidence (the rest count as extra support).
    keys: tuple[str, ...]
    # The same condition in Python, for the online path (``single``); tests hold them equal.
    check: Callable[[Features], bool]


def _within(f: Features, lo: int, hi: int) -> bool:
    return f["days"] is not None and lo <= f["days"] <= hi


RULES: tuple[Rule, ...] = (
    Rule(
        name="driver_id_exact",
        label="the record names the driver's id",
        score=1.0,
        confidence="high",
        sql="f.driver_id_eq",
        keys=("driver_id",),
        check=lambda f: f["driver_id_eq"],
    ),
    Rule(
        name="document_exact",
        label="same DNI/licence number, names compatible",
        score=0.97,
        confidence="high",
        sql="f.id_eq AND f.name_sim >= 0.5",
        keys=("id", "name"),
        check=lambda f: f["id_eq"] and f["name_sim"] >= 0.5,
    ),
    Rule(
        name="phone_exact",
        label="same phone, names agree, no document contradicts",
        score=0.95,
        confidence="high",
        sql="f.phone_eq AND f.name_sim >= 0.6 AND NOT f.id_conflict",
        keys=("phone", "name"),
        check=lambda f: f["phone_eq"] and f["name_sim"] >= 0.6 and not f["id_conflict"],
    ),
    Rule(
        name="plate_name",
        label="same plate, similar name, hired within -90/+30 days of the record",
        score=0.88,
        confidence="medium",
        sql=(
            "f.plate_eq AND f.name_sim >= 0.75 AND NOT f.id_conflict AND f.days BETWEEN -90 AND 30"
        ),
        keys=("plate", "name", "days"),
        check=lambda f: (
            f["plate_eq"] and f["name_sim"] >= 0.75 and not f["id_conflict"] and _within(f, -90, 30)
        ),  # fmt: skip
    ),
    # Same car and same name is what homonyms look like: at 50 k leads half of these pairs were
    # the wrong person (benchmarks/RESULTS.md), so the rule proposes for review, never links.
    Rule(
        name="brand_model_name",
        label="same car brand and model, same name, hired within -30/+7 days",
        score=0.6,
        confidence="low",
        sql=(
            "f.brand_model_eq AND f.name_sim >= 0.9 AND NOT f.id_conflict "
            "AND f.days BETWEEN -30 AND 7"
        ),
        keys=("brand_model", "name", "days"),
        check=lambda f: (
            f["brand_model_eq"]
            and f["name_sim"] >= 0.9
            and not f["id_conflict"]
            and _within(f, -30, 7)
        ),  # fmt: skip
    ),
)

# What a pair that no rule settles is worth: evidence, but never enough to link on its own.
WEAK = Rule(
    name="weak",
    label="some agreement, below every rule",
    score=0.3,
    confidence="low",
    sql="TRUE",
    keys=(),
    check=lambda f: True,
)

# Support beyond a rule's own keys nudges its score, so that among candidates of one rule the
# better supported wins; never enough to cross the margin on a single field.
EXTRA_SUPPORT = 0.01

# A strong key agrees while another strong key (the document) disagrees. Tried after the
# rules, before falling back to WEAK.
CONFLICT = Rule(
    name="conflict",
    label="a phone or plate agrees but the documents disagree",
    score=0.2,
    confidence="low",
    sql="(f.phone_eq OR f.plate_eq) AND f.id_conflict",
    keys=(),
    check=lambda f: (f["phone_eq"] or f["plate_eq"]) and f["id_conflict"],
)

# For drivers only documents found a shared person: a phone or plate may belong to the family
# or the fleet car, never enough to fold two driver records into one person.
DRIVER_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.name == "document_exact")


def rule_named(name: str) -> Rule:
    for rule in (*RULES, CONFLICT, WEAK):
        if rule.name == name:
            return rule
    raise KeyError(name)
