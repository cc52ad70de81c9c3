"""Who is this payment for? Name reconciliation of payments that carry no driver id.

Pure: no database, no files, no clock. The caller restricts the candidates to persons that
have an unpaid claim of the payment's milestone, so a name is only ever compared with the few
people the platform could be paying for that milestone.

A name is never compared as a bare string. Both sides go through ``normalise.name_tokens``
(unidecode, upper case, particles DE/DEL/LA... dropped), then:

- ``score`` = rapidfuzz ``token_set_ratio`` (order-free, tolerates a missing second given
  name) x a small coverage factor ``0.85 + 0.15 * shorter/longer`` (so the fuller agreeing
  name ranks first, but a missing token does not sink a match);
- the candidate's first given name must appear in the payment name (Jaro-Winkler >= 0.9, so a
  typo passes), else the score is capped at 0.5: siblings share both family names;
- blocking: a candidate is scored only if it shares at least two tokens with the payment name:
  names are indexed by each pair of their tokens, so a payment reads the few names sharing a
  pair with it, never the long list of every name holding a common token (JUAN, QUISPE).

Decision: no usable name (fewer than two tokens) -> ``MISSING_IDENTIFIERS``; nobody shares
enough tokens -> ``NO_CANDIDATES``; best below the threshold -> ``WEAK_MATCH_ONLY``; the
runner-up person within ``margin`` of the best -> ``MULTIPLE_CANDIDATES`` (never a guess);
otherwise the best person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from leadlink.matching.normalise import name_tokens
from leadlink.matching.reasons import Reason

GIVEN_NAME_JW = 0.9
GIVEN_NAME_CAP = 0.5
MIN_SHARED_TOKENS = 2
TOP = 3


@dataclass(frozen=True)
class Payee:
    """One known name of a candidate person (a person may have several: one per driver row)."""

    person_key: str
    given: str
    family: str


@dataclass(frozen=True)
class PayeeDecision:
    person_key: str | None
    reason: str | None  # None when a person was chosen
    score: float
    # The best few persons considered, best first: (person_key, score).
    candidates: tuple[tuple[str, float], ...] = field(default=())

    def as_detail(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "score": self.score,
            "candidates": [{"person_key": k, "score": s} for k, s in self.candidates],
        }


@dataclass(frozen=True)
class _Name:
    person_key: str
    tokens: tuple[str, ...]
    first_given: str | None
    text: str  # the tokens joined, as name_score compares them


def _given_in(first_given: str | None, tokens: tuple[str, ...]) -> bool:
    if first_given is None:  # the source gave no separate given name: nothing to require
        return True
    return any(JaroWinkler.similarity(first_given, t) >= GIVEN_NAME_JW for t in tokens)


def name_score(
    payment: tuple[str, ...], candidate: tuple[str, ...], first_given: str | None
) -> float:
    """Similarity 0-1 of two token tuples (see the module docstring)."""
    if not payment or not candidate:
        return 0.0
    ratio = fuzz.token_set_ratio(" ".join(payment), " ".join(candidate))
    return _score(ratio, len(payment), len(candidate), _given_in(first_given, payment))


def _score(ratio: float, n_payment: int, n_candidate: int, given_agrees: bool) -> float:
    """The score from the token-set ratio (0-100): the coverage factor, the given-name cap."""
    shorter, longer = sorted((n_payment, n_candidate))
    score = ratio / 100.0 * (0.85 + 0.15 * shorter / longer)
    if not given_agrees:
        score = min(score, GIVEN_NAME_CAP)
    return round(score, 4)


class PayeeIndex:
    """Candidate names indexed by pairs of tokens, so a payment is compared only with people
    sharing at least two tokens with it (``MIN_SHARED_TOKENS``)."""

    def __init__(self, payees: Iterable[Payee]) -> None:
        self._names: list[_Name] = []
        self._by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        for p in payees:
            given = name_tokens(p.given)
            tokens = given + name_tokens(p.family)
            if not tokens:
                continue
            for pair in _pairs(tokens):
                self._by_pair[pair].append(len(self._names))
            first = given[0] if given else None
            self._names.append(_Name(p.person_key, tokens, first, " ".join(tokens)))

    def decide(
        self,
        raw_name: str | None,
        *,
        threshold: float,
        margin: float,
        exclude: Collection[str] = (),
    ) -> PayeeDecision:
        """The person this payment name designates, or why none can be chosen."""
        tokens = name_tokens(raw_name)
        if len(tokens) < MIN_SHARED_TOKENS:
            return PayeeDecision(None, Reason.MISSING_IDENTIFIERS.value, 0.0)
        shared: set[int] = set()
        for pair in _pairs(tokens):
            shared.update(self._by_pair.get(pair, ()))
        names = [n for n in (self._names[i] for i in shared) if n.person_key not in exclude]
        best: dict[str, float] = {}
        for name, score in zip(names, _scores(tokens, names), strict=True):
            if score > best.get(name.person_key, -1.0):
                best[name.person_key] = score
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        top = tuple(ranked[:TOP])
        if not ranked:
            return PayeeDecision(None, Reason.NO_CANDIDATES.value, 0.0)
        key, score = ranked[0]
        if score < threshold:
            return PayeeDecision(None, Reason.WEAK_MATCH_ONLY.value, score, top)
        if len(ranked) > 1 and score - ranked[1][1] < margin:
            return PayeeDecision(None, Reason.MULTIPLE_CANDIDATES.value, score, top)
        return PayeeDecision(key, None, score, top)


def _scores(payment: tuple[str, ...], names: list[_Name]) -> list[float]:
    """``name_score(payment, n.tokens, n.first_given)`` of each name, the same floats: the
    token-set ratios computed in one call of rapidfuzz's C++ loop, and the given-name test made
    once per distinct given name (a payment's candidates share a few)."""
    if not names:
        return []
    ratios = process.extract(" ".join(payment), [n.text for n in names],
                             scorer=fuzz.token_set_ratio, processor=None, limit=None)  # fmt: skip
    by_index = [0.0] * len(names)
    for _text, ratio, index in ratios:
        by_index[index] = ratio
    given: dict[str | None, bool] = {}
    out = []
    for name, ratio in zip(names, by_index, strict=True):
        agrees = given.get(name.first_given)
        if agrees is None:
            agrees = given[name.first_given] = _given_in(name.first_given, payment)
        out.append(_score(ratio, len(payment), len(name.tokens), agrees))
    return out


def _pairs(tokens: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every pair of distinct tokens, each in sorted order: two names share two tokens exactly
    when they share one of these pairs."""
    return list(combinations(sorted(set(tokens)), 2))  # 2: MIN_SHARED_TOKENS
