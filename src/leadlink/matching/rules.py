"""Deterministic rules. Each carries its condition over pair features and a human label.

Pair features (computed in ``blocking.pair_features``), prefix ``f.`` in the batch SQL:
  phone_eq, id_eq, id_conflict, plate_eq, brand_model_eq, driver_id_eq (booleans),
  name_sim (0-1: share of the shorter name's tokens found, fuzzily, in the other),
  days (candidate date minus record date, in days; NULL when either is missing).
Rules are tried in order; the first that holds for a pair decides its rule and score.
A rule's condition is one expression (``expr``): the batch renders it as SQL (``rule.sql``),
the online path evaluates it (``rule.holds``), so the two cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadlink.matching.expr import TRUE, Case, Const, CountTrue, Expr, Field, Least, Not, Or

Features = dict[str, Any]

phone_eq, id_eq, id_conflict = Field("phone_eq"), Field("id_eq"), Field("id_conflict")
plate_eq, brand_model_eq = Field("plate_eq"), Field("brand_model_eq")
driver_id_eq, name_sim, days = Field("driver_id_eq"), Field("name_sim"), Field("days")


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    score: float
    confidence: str
    condition: Expr
    # Fields whose agreement is the rule's own evidence (the rest count as extra support).
    keys: tuple[str, ...]

    @property
    def sql(self) -> str:
        """The condition over the features table ``f``."""
        return self.condition.sql("f.")

    def holds(self, features: Features) -> bool:
        return self.condition.holds(features)


RULES: tuple[Rule, ...] = (
    Rule(
        name="driver_id_exact",
        label="the record names the driver's id",
        score=1.0,
        confidence="high",
        condition=driver_id_eq,
        keys=("driver_id",),
    ),
    Rule(
        name="document_exact",
        label="same DNI/licence number, names compatible",
        score=0.97,
        confidence="high",
        condition=id_eq & (name_sim >= 0.5),
        keys=("id", "name"),
    ),
    Rule(
        name="phone_exact",
        label="same phone, names agree, no document contradicts",
        score=0.95,
        confidence="high",
        condition=phone_eq & (name_sim >= 0.6) & Not(id_conflict),
        keys=("phone", "name"),
    ),
    Rule(
        name="plate_name",
        label="same plate, similar name, hired within -90/+30 days of the record",
        score=0.88,
        confidence="medium",
        condition=plate_eq & (name_sim >= 0.75) & Not(id_conflict) & days.between(-90, 30),
        keys=("plate", "name", "days"),
    ),
    # Same car and same name is what homonyms look like: at 50 k leads half of these pairs were
    # the wrong person (benchmarks/RESULTS.md), so the rule proposes for review, never links.
    Rule(
        name="brand_model_name",
        label="same car brand and model, same name, hired within -30/+7 days",
        score=0.6,
        confidence="low",
        condition=brand_model_eq & (name_sim >= 0.9) & Not(id_conflict) & days.between(-30, 7),
        keys=("brand_model", "name", "days"),
    ),
)

# What a pair that no rule settles is worth: evidence, but never enough to link on its own.
WEAK = Rule(
    name="weak",
    label="some agreement, below every rule",
    score=0.3,
    confidence="low",
    condition=TRUE,
    keys=(),
)

# Support beyond a rule's own keys nudges its score, so that among candidates of one rule the
# better supported wins; never enough to cross the margin on a single field.
EXTRA_SUPPORT = 0.01
SUPPORT = CountTrue(phone_eq, id_eq, plate_eq, brand_model_eq, name_sim >= 0.9)

# A strong key agrees while another strong key (the document) disagrees. Tried after the
# rules, before falling back to WEAK.
CONFLICT = Rule(
    name="conflict",
    label="a phone or plate agrees but the documents disagree",
    score=0.2,
    confidence="low",
    condition=Or(phone_eq, plate_eq) & id_conflict,
    keys=(),
)

# For drivers only documents found a shared person: a phone or plate may belong to the family
# or the fleet car, never enough to fold two driver records into one person.
DRIVER_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.name == "document_exact")


def rule_named(name: str) -> Rule:
    for rule in (*RULES, CONFLICT, WEAK):
        if rule.name == name:
            return rule
    raise KeyError(name)


# The three expressions below are built once per rule set (the online path evaluates them on
# every pair): callers pass RULES or DRIVER_RULES, so the cache stays tiny.
def first_rule(rules: Sequence[Rule]) -> Expr:
    """The name of the first rule (then CONFLICT) that holds for a pair, else WEAK's."""
    return _first_rule(tuple(rules))


def rule_score(rules: Sequence[Rule]) -> Expr:
    """A pair's score from its ``rule`` column: the rule's own, plus EXTRA_SUPPORT for each
    of phone, document, plate, car and name (>= 0.9) that agrees, at most 1.0."""
    return _rule_score(tuple(rules))


def rule_confidence(rules: Sequence[Rule]) -> Expr:
    return _rule_confidence(tuple(rules))


@functools.cache
def _first_rule(rules: tuple[Rule, ...]) -> Expr:
    return Case(tuple((r.condition, Const(r.name)) for r in (*rules, CONFLICT)),
                Const(WEAK.name))  # fmt: skip


@functools.cache
def _rule_score(rules: tuple[Rule, ...]) -> Expr:
    rule = Field("rule")
    base = Case(tuple((rule.eq(r.name), Const(r.score)) for r in (*rules, CONFLICT)),
                Const(WEAK.score))  # fmt: skip
    return Least(Const(1.0), base + Const(EXTRA_SUPPORT) * SUPPORT)


@functools.cache
def _rule_confidence(rules: tuple[Rule, ...]) -> Expr:
    rule = Field("rule")
    return Case(tuple((rule.eq(r.name), Const(r.confidence)) for r in (*rules, CONFLICT)),
                Const(WEAK.confidence))  # fmt: skip
