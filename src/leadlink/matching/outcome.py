"""How scored pairs become a decision, written once for the batch SQL and the online Python.

Each piece is an expression (``expr``): ``engine`` renders it into its SQL, ``single``
evaluates it on dicts. What stays written twice is the ranking (best pair per person, ties to
the smallest cid; persons by score, ties to the smallest key; the top three): a window query in
SQL, two sorts in Python, held equal by tests on ties.

- ``USABLE``: does a record carry anything to match on (over the query frame)?
- ``REASON``: why a record is not linked (NULL: it is), over the record's best two persons;
- ``DECISION`` and ``BAND``: from the reason and the best score;
- ``Guard``, ``model_score`` and ``MODEL_CONFIDENCE``: a model pair's score and confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from leadlink.matching.expr import (
    TRUE,
    And,
    Case,
    Const,
    Expr,
    Field,
    Least,
    Len,
    Not,
    Or,
    Param,
    WaterfallLevel,
)  # fmt: skip
from leadlink.matching.reasons import Reason


@dataclass(frozen=True)
class Bands:
    accept: float = 0.75
    review: float = 0.5
    margin: float = 0.05

    def params(self) -> dict[str, float]:
        """The bands as the ``$accept``, ``$review``, ``$margin`` parameters."""
        return {"accept": self.accept, "review": self.review, "margin": self.margin}


def model_cap(bands: Bands) -> float:
    """Where a pair the guard stops is capped: in the review band, always under accept."""
    return min(bands.accept - 1e-9, max(bands.review, bands.accept - 0.01))


# -- a record: over the query frame --
USABLE: Expr = Or(
    Field("phone").is_not_null(), Len(Field("ids")) > 0, Field("plate").is_not_null(),
    Field("driver_id").is_not_null(), Len(Field("tokens")) >= 2,
)  # fmt: skip

# -- its decision: over usable, has_candidates (a best person exists), the best person's
# score and rule, second_score (the runner-up's, NULL if none) and any_conflict (some
# candidate's best pair is a conflict) --
_score, _second = Field("score"), Field("second_score")
_accept, _review, _margin = Param("accept"), Param("review"), Param("margin")
REASON: Expr = Case((
    (Not(Field("has_candidates")) & Not(Field("usable")),
     Const(Reason.MISSING_IDENTIFIERS.value)),
    (Not(Field("has_candidates")), Const(Reason.NO_CANDIDATES.value)),
    ((_score >= _review) & _second.is_not_null() & (_score - _second < _margin),
     Const(Reason.MULTIPLE_CANDIDATES.value)),
    (_score >= _accept, Const(None)),
    (Or(Field("rule").eq("conflict"), Field("any_conflict") & (_score < _review)),
     Const(Reason.CONFLICTING_EVIDENCE.value)),
), Const(Reason.WEAK_MATCH_ONLY.value))  # fmt: skip

# -- over reason and score --
DECISION: Expr = Case(((Field("reason").is_null(), Const("link")),), Const("unmatched"))
BAND: Expr = Case((
    (Field("reason").is_null(), Const("accept")),
    (_score >= _review, Const("review")),
), Const("reject"))  # fmt: skip

# Records the rules left open that the model may still settle (never MISSING_IDENTIFIERS:
# nothing to compare; never CONFLICTING_EVIDENCE: a strong key already says no).
OPEN = (Reason.NO_CANDIDATES.value, Reason.WEAK_MATCH_ONLY.value,
        Reason.MULTIPLE_CANDIDATES.value)  # fmt: skip

# -- a model pair: over probability and waterfall --
_probability = Field("probability")
MODEL_CONFIDENCE: Expr = Case((
    (_probability >= 0.99, Const("high")),
    (_probability >= _accept, Const("medium")),
), Const("low"))  # fmt: skip


def model_score(guard: Guard) -> Expr:
    """A model pair's score: its probability if the guard holds, else capped at ``$cap``."""
    return Case(((guard.condition, _probability),), Least(_probability, Param("cap")))


# Which data a guard is fitted to: "peru" (our sources: `match`, always) or "generic" (any
# two files: `leadlink link` by default). See Guard.
Profile = Literal["peru", "generic"]
PROFILES: tuple[Profile, ...] = ("peru", "generic")

# A guard's term: a comparison that agrees (level > 0), or reaches a level (name, level);
# (name, MISSING_OK): agrees, or has no value on one side (level -1: it cannot disagree).
Term = str | tuple[str, int]
MISSING_OK = -1

# Fields whose agreement identifies a person; names only find candidates (homonyms).
STRONG_FIELDS = ("phone", "doc", "plate", "email", "birth_date")
# Fields that corroborate a full name (both family names) when no strong key is known.
SUPPORT_FIELDS = ("brand_model", "address", "postcode")


@dataclass(frozen=True)
class Guard:
    """May the model link a pair without a person's review? Judged on its waterfall.

    Measured on 20 k demo leads (benchmarks/RESULTS.md): the model's wrong links were names
    alone (homonyms), or a shared phone with different given names (relatives), or a scouting
    record whose full name cannot be compared. So the model links only when the given name and
    a family name agree, and either a strong key agrees or the whole name (both family names)
    agrees together with the car (or, on other data, the address or postcode). A birth date
    with an address, postcode, e-mail or phone identifies a person even through a nickname or
    swapped names (`leadlink link` data; our sources have no birth date). Everything else is
    capped under the accept band: proposed for review, never linked. Fields the model does not
    have are not required.

    The ``generic`` profile (`leadlink link` on any two files) adds one path, measured on
    generated person files (benchmarks/RESULTS.md, section link-seed7): an exact e-mail
    address with a phone, postcode or address links through a nickname, an initial or swapped
    first/last names. Every looser name test measured (either name, no name, a strong key
    alone, a sum of the non-name weights) linked relatives at one address and let wrong
    candidates crowd the margin: lower precision and lower recall. A second path, measured on
    FEBRL (benchmarks/RESULTS.md, section febrl): an exact identity document with the
    postcode or the address links through a typo or swapped names (at accept, the generic
    guard capped 113 true pairs of febrl4 and no false one, all of them with the document
    and the place agreeing); a document one typo apart needs both the postcode and the
    address. Our sources carry no e-mail, and no postcode or address next to
    their document, so on them both profiles are the same guard; generated person files carry
    no document, so there the second path is moot. A third (FEBRL again, whose files have
    one family name and a corrupted document): the family name, the given name and second
    family name unless one record lacks them, with the postcode and the address (or, an
    address missing on one side, the street number).

    The guard is a disjunction of conjunctions of "field agrees" (level > 0, or at least the
    level a ``(name, level)`` term names), over the model's own comparison names;
    ``condition`` is it as one expression, which ``sql`` renders and ``holds`` evaluates.
    """

    any_of: tuple[tuple[tuple[Term, ...], ...], ...]  # OR of (AND of (OR of terms))

    @classmethod
    def of(cls, model: dict[str, Any], profile: Profile = "peru") -> Guard:
        if profile not in PROFILES:
            raise ValueError(f"unknown guard profile {profile!r}: {', '.join(PROFILES)}")
        have = {c["output_column_name"] for c in model.get("comparisons", [])}

        def some(*names: str) -> tuple[str, ...]:
            return tuple(n for n in names if n in have)

        # Names: the given name and the first family name agree, or (full names) the bag.
        name_options = [[(n,) for n in some("given", "family1")]]
        if "name_bag" in have:
            name_options.append([("name_bag",)])
        # Corroboration: a strong key, or the second family name with the car/address/postcode.
        paths: list[list[tuple[str, ...]]] = []
        if strong := some(*STRONG_FIELDS):
            paths.append([strong])
        if (support := some(*SUPPORT_FIELDS)) and "family2" in have:
            paths.append([("family2",), support])
        alternatives: list[tuple[tuple[Term, ...], ...]] = [
            (*names, *path) for names in name_options for path in (paths or [[]])
        ]
        dated, others = some("birth_date"), some("address", "postcode", "email", "phone")
        if dated and others:
            alternatives.append((dated, others))
        exact_email, where = _top_level(model, "email"), some("phone", "postcode", "address")
        if profile == "generic" and exact_email is not None and where:
            alternatives.append(((("email", exact_email),), where))
        exact_doc, place = _top_level(model, "doc"), some("postcode", "address")
        if profile == "generic" and exact_doc is not None and place:
            alternatives.append(((("doc", exact_doc),), place))
            if len(place) == 2:  # one typo in the document: both the postcode and the address
                alternatives.append((("doc",), ("postcode",), ("address",)))
        if profile == "generic" and {"family1", "postcode", "address"} <= have:
            # The whole name as far as both records have it, at one postcode and address.
            # The address may be missing on one side if the street number agrees.
            whole = [((n, MISSING_OK),) for n in some("given", "family2")]
            street = (("address", MISSING_OK),), ("address", *some("street_number"))
            alternatives.append((("family1",), *whole, ("postcode",), *street))
        return cls(tuple(alternatives))

    @cached_property
    def condition(self) -> Expr:
        if not self.any_of:
            return TRUE

        def agrees(term: Term) -> Expr:
            if isinstance(term, tuple) and term[1] == MISSING_OK:
                return Or(WaterfallLevel(term[0]) > 0, WaterfallLevel(term[0]) < 0)
            if isinstance(term, tuple):
                return WaterfallLevel(term[0]) >= term[1]
            return WaterfallLevel(term) > 0

        return Or(*(
            And(*(Or(*(agrees(n) for n in group)) for group in conj)) if conj else TRUE
            for conj in self.any_of
        ))  # fmt: skip

    def holds(self, waterfall: dict[str, Any]) -> bool:
        return self.condition.holds({"waterfall": waterfall})

    def sql(self) -> str:
        return self.condition.sql("m.")


def _top_level(model: dict[str, Any], name: str) -> int | None:
    """The level number of a comparison's exact level (its highest), None without it."""
    for comp in model.get("comparisons", []):
        if comp["output_column_name"] == name:
            levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
            return len(levels) - 1
    return None
