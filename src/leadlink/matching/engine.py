"""Decide: apply the rules to candidate pairs and turn them into one decision per record.

``resolve(query, registry, bands)`` takes prepared frames (see ``frames.prepare``) and returns
one row per query record: ``rid, decision ('link' | 'unmatched'), person_key, cid, rule,
score, confidence, reason, band, evidence (JSON), candidates (JSON)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from leadlink.matching import blocking
from leadlink.matching.outcome import (
    BAND,
    DECISION,
    MODEL_CONFIDENCE,
    OPEN,
    REASON,
    USABLE,
    Bands,
    Guard,
    Profile,
    model_cap,
    model_score,
)  # fmt: skip
from leadlink.matching.reasons import Reason
from leadlink.matching.rules import RULES, Rule, first_rule, rule_confidence, rule_score

Scorer = Callable[[pa.Table, pa.Table], pa.Table]


def _scored_sql(rules: Sequence[Rule]) -> str:
    """SQL giving each pair its first holding rule, score and confidence (rules.py)."""
    # Rendered from rules.py's expressions, code never data: nothing user-supplied gets here.
    return f"""
CREATE OR REPLACE TEMP TABLE scored AS
WITH named AS (
  SELECT f.*, {first_rule(rules).sql("f.")} AS rule FROM features f
)
SELECT named.*,
  ({rule_score(rules).sql()})::DOUBLE AS score,
  {rule_confidence(rules).sql()} AS confidence,
  NULL::VARCHAR AS waterfall
FROM named
"""  # noqa: S608


# The decision of each record from its best two persons (outcome.REASON); the ranking is
# written here and in single.decide (tests hold them equal on ties).
DECIDE_SQL = f"""
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
SELECT d.rid, {REASON.sql("d.")} AS reason,
  d.person_key, d.cid, d.score, d.rule, d.confidence, d.second_key, d.second_score,
  d.fields, d.waterfall, coalesce(d.candidates, '[]') AS candidates
FROM (
  SELECT q.rid, q.usable, t.rid IS NOT NULL AS has_candidates, t.person_key, t.cid, t.score,
    t.rule, t.confidence, t.second_key, t.second_score, t.any_conflict, t.fields, t.waterfall,
    t.candidates
  FROM (SELECT rid, {USABLE.sql()} AS usable FROM q) q
  LEFT JOIN top t ON t.rid = q.rid
) d
"""  # noqa: S608 - rendered from outcome.py's expressions, no data

RESULT_SQL = f"""
SELECT rid,
  {DECISION.sql()} AS decision,
  person_key, cid, rule, score, confidence, reason,
  {BAND.sql()} AS band,
  to_json(struct_pack(rule, score := round(score, 4), candidate := cid, fields,
                      runner_up := second_key, runner_up_score := round(second_score, 4),
                      waterfall := waterfall::JSON))
    AS evidence,
  candidates
FROM decisions ORDER BY rid
"""  # noqa: S608 - rendered from outcome.py's expressions, no data

# Records the rules left open that the model may still settle (outcome.OPEN).
OPEN_SQL = "SELECT rid FROM decisions WHERE list_contains($open, reason)"

# The pairs only the model's blocking found (no rule blocked them together): their features
# are computed by the rules' own SQL (blocking.features_sql) into ``model_features``, so the
# evidence a reviewer reads agrees with the weights the model gave the same records.
MODEL_ONLY_SQL = """
CREATE OR REPLACE TEMP TABLE model_only AS
SELECT DISTINCT m.rid, m.cid FROM mscored m
WHERE NOT EXISTS (SELECT 1 FROM rule_pairs f WHERE f.rid = m.rid AND f.cid = m.cid)
"""

# Model pairs join the rule pairs as rule 'model'. A pair a rule found conflicting stays
# conflicting. What the model alone may link is guarded (outcome.Guard); the rest is capped
# under the accept band, so it can be proposed for review but never linked. A pair's
# features come from the rules' pairs (f) or, for a pair only the model found, from
# model_features (g): exactly one of the two has it.
_FEATURES = {"phone_eq": "FALSE", "id_eq": "FALSE", "id_conflict": "FALSE", "plate_eq": "FALSE",
             "brand_model_eq": "FALSE", "driver_id_eq": "FALSE", "name_sim": "0.0",
             "days": "NULL"}  # fmt: skip
MODEL_PAIRS_SQL = f"""
INSERT INTO scored BY NAME
SELECT m.rid, m.cid, r.person_key,
  {", ".join(f"coalesce(f.{c}, g.{c}, {d}) AS {c}" for c, d in _FEATURES.items())},
  'model' AS rule,
  {{score}} AS score,
  {MODEL_CONFIDENCE.sql("m.")} AS confidence,
  m.waterfall
FROM mscored m JOIN r ON r.rid = m.cid
LEFT JOIN rule_pairs f ON f.rid = m.rid AND f.cid = m.cid
LEFT JOIN model_features g ON g.rid = m.rid AND g.cid = m.cid
WHERE f.rule IS DISTINCT FROM 'conflict'
"""  # noqa: S608 - rendered from outcome.py's expressions and column names, no data


def model_guard(model: dict[str, Any], profile: Profile = "peru") -> str:
    """The guard of a trained model as SQL over the model pairs ``m`` (outcome.Guard)."""
    return Guard.of(model, profile).sql()


def resolve(
    query: pa.Table,
    registry: pa.Table,
    bands: Bands | None = None,
    rules: Sequence[Rule] = RULES,
    model: dict[str, Any] | None = None,
    scorer: Scorer | None = None,
    tf: dict[str, pa.Table] | None = None,
    *,
    profile: Profile = "peru",
) -> pa.Table:
    """One decision per query record against the registry (both prepared frames).

    With a ``model`` (trained settings, see ``training.train``), records the rules did not
    settle are scored by the probabilistic tier too, and decided again by the same bands and
    margin. ``scorer`` scores those pairs and must come with the model: Splink's
    ``functools.partial(model.score, settings, tf=...)``, or ``compiled.BatchScorer`` /
    ``CompiledModel``; it returns ``model_frame.SCORED_SCHEMA``. The engine never imports
    Splink itself. ``tf`` is not read here: the scorer carries its term frequencies (callers
    still passing it can drop it). ``profile``: the data the model's guard is fitted to
    (outcome.Guard): ``peru`` for our sources (`match`), ``generic`` for `leadlink link`.
    """
    bands = bands or Bands()
    con = blocking.connect()
    try:
        _decide(con, query, registry, bands, rules, model, scorer, dedupe=False,
                profile=profile)
        return con.sql(RESULT_SQL, params={"review": bands.review}).to_arrow_table()
    finally:
        con.close()


def resolve_dedupe(
    frame: pa.Table,
    bands: Bands | None = None,
    rules: Sequence[Rule] = RULES,
    model: dict[str, Any] | None = None,
    scorer: Scorer | None = None,
    *,
    profile: Profile = "generic",
) -> tuple[pa.Table, pa.Table]:
    """``resolve`` of one prepared frame against itself (`leadlink dedupe`): its decisions,
    and its ``match`` pairs ``left_rid < right_rid, score, rule`` (MATCH_TIES_SQL).

    A record is never its own candidate, and each pair's features are computed once for both
    of its records (blocking.MIRROR_SQL); the scorer gives each pair in both directions, and
    is offered every record, not only those the rules left open (a record a rule linked to one
    duplicate may be the only tie to another). The persons a record is decided between are the
    groups of records that pairs at or above the accept band tie together (``_group_persons``):
    three rows of one person are one candidate, not two too close to tell apart; the margin
    still applies between two groups.
    """
    bands = bands or Bands()
    con = blocking.connect()
    try:
        _decide(con, frame, frame, bands, rules, model, scorer, dedupe=True, profile=profile)
        decisions = con.sql(RESULT_SQL, params={"review": bands.review}).to_arrow_table()
        matches = con.sql(MATCH_TIES_SQL, params={"accept": bands.accept}).to_arrow_table()
        return decisions, matches
    finally:
        con.close()


def _decide(
    con: duckdb.DuckDBPyConnection,
    query: pa.Table,
    registry: pa.Table,
    bands: Bands,
    rules: Sequence[Rule],
    model: dict[str, Any] | None,
    scorer: Scorer | None,
    *,
    dedupe: bool,
    profile: Profile,
) -> None:
    """Leave table ``decisions`` (and ``scored``, every pair with its score) in ``con``."""
    if model is not None and scorer is None:
        raise ValueError("a model needs its scorer (e.g. functools.partial(model.score, ...))")
    params = bands.params()
    blocking.build_features(con, query, registry, self_join=dedupe, mirror=dedupe)
    con.execute(_scored_sql(rules))
    con.execute(DECIDE_SQL, params)
    if model is not None and scorer is not None:
        open_rids = con.sql(OPEN_SQL, params={"open": list(OPEN)}).to_arrow_table()
        open_rids = query.column("rid") if dedupe else open_rids.column("rid")
        if len(open_rids):
            subset = query.filter(pc.is_in(query.column("rid"), value_set=open_rids))
            con.register("mscored", scorer(subset, registry))
            con.execute("CREATE OR REPLACE TEMP TABLE rule_pairs AS SELECT * FROM scored")
            con.execute(MODEL_ONLY_SQL)
            con.execute(blocking.features_sql("model_only", "model_features"))
            score = model_score(Guard.of(model, profile)).sql("m.")
            sql = MODEL_PAIRS_SQL.replace("{score}", score)
            con.execute(sql, {"cap": model_cap(bands), "accept": bands.accept})
            con.execute(DECIDE_SQL, params)
    if dedupe:
        _group_persons(con, bands)
        con.execute(DECIDE_SQL, params)


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


# The pairs that tie two records of one file together in a dedupe: scored at or above accept
# (a model pair the guard stopped is already capped under it), never a conflict.
_TIES_SQL = """
SELECT DISTINCT least(rid, cid), greatest(rid, cid) FROM scored
WHERE score >= $accept AND rule <> 'conflict'
"""


# A dedupe's match pairs: every tie (each pair once, its best-scored direction) inside a group
# that at least one of the pair's two records is linked to. A record's decision names one
# record of its group; its cluster is the whole group, so the clusters (connected components
# of these pairs) are the groups the records were linked to.
MATCH_TIES_SQL = """
WITH ties AS (
  SELECT least(rid, cid) AS left_rid, greatest(rid, cid) AS right_rid, score, rule, person_key
  FROM scored WHERE score >= $accept AND rule <> 'conflict'
  QUALIFY row_number() OVER (PARTITION BY least(rid, cid), greatest(rid, cid)
                             ORDER BY score DESC, rule) = 1
)
SELECT t.left_rid, t.right_rid, t.score, t.rule FROM ties t
WHERE EXISTS (SELECT 1 FROM decisions d
              WHERE d.rid IN (t.left_rid, t.right_rid) AND d.reason IS NULL
                AND d.person_key = t.person_key)
ORDER BY t.left_rid, t.right_rid
"""


def _group_persons(con: duckdb.DuckDBPyConnection, bands: Bands) -> None:
    """In a dedupe, each candidate's person becomes its group: the smallest rid of the
    connected records (``components`` of _TIES_SQL's pairs)."""
    edges = con.execute(_TIES_SQL, {"accept": bands.accept}).fetchall()
    roots = components((int(a), int(b)) for a, b in edges)
    if not roots:
        return
    groups = pa.table({"rid": list(roots), "root": [str(r) for r in roots.values()]})
    con.register("person_groups", groups)
    con.execute(
        "UPDATE scored SET person_key = g.root FROM person_groups g WHERE scored.cid = g.rid"
    )


def components(edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Connected components of undirected edges: every record on an edge -> the smallest rid
    of its component (union-find; the smaller root always wins, so input order is moot)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {rid: find(rid) for rid in parent}


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
    # Each group's smallest rid stands for it and is not listed itself.
    roots = components((int(a), int(b)) for a, b in edges)
    return {rid: root for rid, root in roots.items() if rid != root}


__all__ = ["Bands", "Profile", "Reason", "Scorer", "clusters", "components", "model_cap",
           "model_guard", "resolve", "resolve_dedupe", "term_frequencies"]  # fmt: skip
