"""Decide: apply the rules to candidate pairs and turn them into one decision per record.

``resolve(query, registry, bands)`` takes prepared frames (see ``frames.prepare``) and returns
one row per query record: ``rid, decision ('link' | 'unmatched'), person_key, cid, rule,
score, confidence, reason, band, evidence (JSON), candidates (JSON)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from leadlink.matching import blocking
from leadlink.matching import model as probabilistic
from leadlink.matching.reasons import Band, Reason
from leadlink.matching.rules import CONFLICT, EXTRA_SUPPORT, RULES, WEAK, Rule


@dataclass(frozen=True)
class Bands:
    accept: float = 0.75
    review: float = 0.5
    margin: float = 0.05


def _scored_sql(rules: Sequence[Rule]) -> str:
    """SQL giving each pair its first holding rule, score, confidence and label."""
    ordered = (*rules, CONFLICT)
    name = " ".join(f"WHEN {r.sql} THEN '{r.name}'" for r in ordered)
    base = " ".join(f"WHEN '{r.name}' THEN {r.score}" for r in ordered)
    conf = " ".join(f"WHEN '{r.name}' THEN '{r.confidence}'" for r in ordered)
    # Rule SQL is code from rules.py, never data: nothing user-supplied reaches this string.
    return f"""
CREATE OR REPLACE TEMP TABLE scored AS
WITH named AS (
  SELECT f.*, CASE {name} ELSE '{WEAK.name}' END AS rule FROM features f
)
SELECT named.*,
  least(1.0::DOUBLE, CASE rule {base} ELSE {WEAK.score} END + {EXTRA_SUPPORT} * (
    phone_eq::INT + id_eq::INT + plate_eq::INT + brand_model_eq::INT + (name_sim >= 0.9)::INT
  ))::DOUBLE AS score,
  CASE rule {conf} ELSE '{WEAK.confidence}' END AS confidence,
  NULL::VARCHAR AS waterfall
FROM named
"""  # noqa: S608


DECIDE_SQL = """
CREATE OR REPLACE TEMP TABLE decisions AS
WITH per_person AS (
  -- The best pair of each candidate person; ties go to the smallest record id, so the
  -- decision never depends on input order.
  SELECT rid, person_key, cid, score, rule, confidence, waterfall,
         struct_pack(phone_eq, id_eq, plate_eq, brand_model_eq, driver_id_eq,
                     name_sim := round(name_sim, 3), days) AS fields
  FROM scored
  QUALIFY row_number() OVER (PARTITION BY rid, person_key ORDER BY score DESC, cid) = 1
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY rid ORDER BY score DESC, person_key) AS rn
  FROM per_person
),
top AS (
  SELECT rid,
    any_value(CASE WHEN rn = 1 THEN person_key END) AS person_key,
    any_value(CASE WHEN rn = 1 THEN cid END) AS cid,
    max(CASE WHEN rn = 1 THEN score END) AS score,
    any_value(CASE WHEN rn = 1 THEN rule END) AS rule,
    any_value(CASE WHEN rn = 1 THEN confidence END) AS confidence,
    any_value(CASE WHEN rn = 1 THEN fields END) AS fields,
    any_value(CASE WHEN rn = 1 THEN waterfall END) AS waterfall,
    max(CASE WHEN rn = 2 THEN score END) AS second_score,
    any_value(CASE WHEN rn = 2 THEN person_key END) AS second_key,
    bool_or(rule = 'conflict') AS any_conflict,
    to_json(list(struct_pack(person_key, cid, rule, score := round(score, 4))
                 ORDER BY rn) FILTER (WHERE rn <= 3)) AS candidates
  FROM ranked GROUP BY rid
)
SELECT q.rid,
  CASE
    WHEN t.rid IS NULL AND NOT q.usable THEN 'MISSING_IDENTIFIERS'
    WHEN t.rid IS NULL THEN 'NO_CANDIDATES'
    WHEN t.score >= $review AND t.second_score IS NOT NULL
         AND t.score - t.second_score < $margin THEN 'MULTIPLE_CANDIDATES'
    WHEN t.score >= $accept THEN NULL
    WHEN t.rule = 'conflict' OR (t.any_conflict AND t.score < $review)
      THEN 'CONFLICTING_EVIDENCE'
    ELSE 'WEAK_MATCH_ONLY'
  END AS reason,
  t.person_key, t.cid, t.score, t.rule, t.confidence, t.second_key, t.second_score,
  t.fields, t.waterfall, coalesce(t.candidates, '[]') AS candidates
FROM (SELECT rid, (phone IS NOT NULL OR len(ids) > 0 OR plate IS NOT NULL
                   OR driver_id IS NOT NULL OR len(tokens) >= 2) AS usable FROM q) q
LEFT JOIN top t ON t.rid = q.rid
"""

RESULT_SQL = """
SELECT rid,
  CASE WHEN reason IS NULL THEN 'link' ELSE 'unmatched' END AS decision,
  person_key, cid, rule, score, confidence, reason,
  CASE WHEN reason IS NULL THEN 'accept'
       WHEN score >= $review THEN 'review' ELSE 'reject' END AS band,
  to_json(struct_pack(rule, score := round(score, 4), candidate := cid, fields,
                      runner_up := second_key, runner_up_score := round(second_score, 4),
                      waterfall := waterfall::JSON))
    AS evidence,
  candidates
FROM decisions ORDER BY rid
"""


# Records the rules left open that the model may still settle (never MISSING_IDENTIFIERS:
# nothing to compare; never CONFLICTING_EVIDENCE: a strong key already says no).
OPEN_SQL = """
SELECT rid FROM decisions
WHERE reason IN ('NO_CANDIDATES', 'WEAK_MATCH_ONLY', 'MULTIPLE_CANDIDATES')
"""

# Model pairs join the rule pairs as rule 'model'. A pair a rule found conflicting stays
# conflicting. What the model alone may link is guarded (see model_guard); the rest is capped
# under the accept band, so it can be proposed for review but never linked.
MODEL_PAIRS_SQL = """
INSERT INTO scored BY NAME
SELECT m.rid, m.cid, r.person_key,
  coalesce(f.phone_eq, FALSE) AS phone_eq, coalesce(f.id_eq, FALSE) AS id_eq,
  coalesce(f.id_conflict, FALSE) AS id_conflict, coalesce(f.plate_eq, FALSE) AS plate_eq,
  coalesce(f.brand_model_eq, FALSE) AS brand_model_eq,
  coalesce(f.driver_id_eq, FALSE) AS driver_id_eq,
  coalesce(f.name_sim, 0.0) AS name_sim, f.days,
  'model' AS rule,
  CASE WHEN {guard} THEN m.probability ELSE least(m.probability, $cap) END AS score,
  CASE WHEN m.probability >= 0.99 THEN 'high' WHEN m.probability >= $accept THEN 'medium'
       ELSE 'low' END AS confidence,
  m.waterfall
FROM mscored m JOIN r ON r.rid = m.cid
LEFT JOIN rule_pairs f ON f.rid = m.rid AND f.cid = m.cid
WHERE f.rule IS DISTINCT FROM 'conflict'
"""


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

    The guard is a disjunction of conjunctions of "field agrees" (level > 0), over the model's
    own comparison names; ``sql`` and ``holds`` read the same structure.
    """

    any_of: tuple[tuple[tuple[str, ...], ...], ...]  # OR of (AND of (OR of fields))

    @classmethod
    def of(cls, model: dict[str, Any]) -> Guard:
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
        alternatives = [(*names, *path) for names in name_options for path in (paths or [[]])]
        dated, others = some("birth_date"), some("address", "postcode", "email", "phone")
        if dated and others:
            alternatives.append((dated, others))
        return cls(tuple(alternatives))

    def holds(self, waterfall: dict[str, Any]) -> bool:
        def agrees(name: str) -> bool:
            return int((waterfall.get(name) or {}).get("level", -1) or 0) > 0

        return not self.any_of or any(
            all(any(agrees(n) for n in group) for group in conj) for conj in self.any_of
        )

    def sql(self) -> str:
        # Field names come from the model's own comparisons (our code), never from data.
        def agrees(name: str) -> str:
            return f"coalesce(json_extract(m.waterfall, '$.{name}.level')::INT, -1) > 0"

        if not self.any_of:
            return "TRUE"
        conjs = [
            " AND ".join("(" + " OR ".join(agrees(n) for n in group) + ")" for group in conj)
            or "TRUE"
            for conj in self.any_of
        ]
        return " OR ".join(f"({c})" for c in conjs)


def model_guard(model: dict[str, Any]) -> str:
    return Guard.of(model).sql()


def model_cap(bands: Bands) -> float:
    """Where a pair the guard stops is capped: in the review band, always under accept."""
    return min(bands.accept - 1e-9, max(bands.review, bands.accept - 0.01))


def resolve(
    query: pa.Table,
    registry: pa.Table,
    bands: Bands | None = None,
    rules: Sequence[Rule] = RULES,
    model: dict[str, Any] | None = None,
    scorer: Callable[[pa.Table, pa.Table], pa.Table] | None = None,
    tf: dict[str, pa.Table] | None = None,
) -> pa.Table:
    """One decision per query record against the registry (both prepared frames).

    With a ``model`` (trained settings, see ``model.train``), records the rules did not settle
    are scored by the probabilistic tier too, and decided again by the same bands and margin.
    ``scorer`` replaces Splink's own scoring of those pairs (the online path passes the compiled
    model, see ``compiled.CompiledModel``); it must return ``model.SCORED_SCHEMA``. ``tf``: the
    term frequencies Splink's scoring uses (``term_frequencies``); by default it counts them in
    query + registry.
    """
    bands = bands or Bands()
    params = {"accept": bands.accept, "review": bands.review, "margin": bands.margin}
    con = blocking.connect()
    try:
        blocking.build_features(con, query, registry)
        con.execute(_scored_sql(rules))
        con.execute(DECIDE_SQL, params)
        if model is not None:
            open_rids = con.sql(OPEN_SQL).to_arrow_table().column("rid")
            if len(open_rids):
                subset = query.filter(pc.is_in(query.column("rid"), value_set=open_rids))
                default = functools.partial(probabilistic.score, model, tf=tf)
                scored = (scorer or default)(subset, registry)
                con.register("mscored", scored)
                con.execute("CREATE OR REPLACE TEMP TABLE rule_pairs AS SELECT * FROM scored")
                cap = model_cap(bands)
                sql = MODEL_PAIRS_SQL.replace("{guard}", model_guard(model))
                con.execute(sql, {"cap": cap, "accept": bands.accept})
                con.execute(DECIDE_SQL, params)
        return con.sql(RESULT_SQL, params={"review": bands.review}).to_arrow_table()
    finally:
        con.close()


def term_frequencies(counts: dict[str, list[tuple[str, int]]]) -> dict[str, pa.Table]:
    """Term frequency lookups for the model (column -> ``col, tf_col``) from value counts:
    each value's share of the column's non-empty values, as Splink computes it."""
    out: dict[str, pa.Table] = {}
    for col, pairs in counts.items():
        total = sum(n for _, n in pairs)
        values = pa.array([v for v, _ in pairs], pa.string())
        shares = pa.array([n / total for _, n in pairs] if total else [], pa.float64())
        out[col] = pa.table({col: values, f"tf_{col}": shares})
    return out


def clusters(frame: pa.Table, rules: Sequence[Rule]) -> dict[int, int]:
    """Group records of one frame that the given rules tie together; rid -> smallest rid.

    Used for drivers, where two rows of the same batch can be one person (a re-registration).
    """
    con = blocking.connect()
    try:
        blocking.build_features(con, frame, frame, self_join=True)
        con.execute(_scored_sql(rules))
        names = [r.name for r in rules]
        edges = con.execute(
            "SELECT rid, cid FROM scored WHERE list_contains($names, rule)", {"names": names}
        ).fetchall()
    finally:
        con.close()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {rid: find(rid) for rid in parent}


__all__ = ["Band", "Bands", "Reason", "clusters", "resolve", "term_frequencies"]
