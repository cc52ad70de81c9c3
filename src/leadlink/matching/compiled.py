"""A trained model compiled to plain DuckDB SQL: scoring without rebuilding Splink's pipeline.

Splink builds its SQL pipeline on every call (about 100 ms on our machine for a handful of
rows, seconds for a batch against a large registry subset, every chunk of a `match`). The
model itself is data: each comparison level carries its own SQL condition (Splink wrote it,
in DuckDB's dialect) and its m and u probabilities. Compiling turns that into one CASE
expression per comparison and adds the term-frequency adjustment Splink applies on exact
matches, so scores agree with ``model.score`` given the same term frequencies (tested).

- ``CompiledModel``: a few query records against their candidates (the online path), one
  prepared query, term frequencies given (the registry's, counted in SQL) or counted in the
  registry it was built with.
- ``BatchScorer``: many records against a registry subset (`match`, chunk by chunk), the
  model's blocking rules as a union of equi-joins, term frequencies given (the registry's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from leadlink.matching.model_frame import (
    FIELDS,
    MODEL_FRAME_SCHEMA,
    PREDICT_BLOCKS,
    SCORE_THRESHOLD,
    SCORED_SCHEMA,
    TF_COLUMNS,
    model_frame,
)


def default_m_values(levels: int) -> list[float]:
    """The m probabilities Splink gives the non-null levels of a comparison EM never
    estimated, from the lowest level (else) to the highest: 0.95 on the top level, the rest
    split evenly over the others (Splink 5's own defaults, tested equal to them)."""
    exact = 0.95
    return [(1 - exact) / (levels - 1)] * (levels - 1) + [exact]


def _log2(x: float) -> float:
    return math.log2(max(x, 1e-300))


def _min_weight(threshold: float) -> float:
    return _log2(threshold / (1 - threshold)) if 0 < threshold < 1 else -1e9


def prior_weight(settings: dict[str, Any]) -> float:
    """The match weight every pair starts from: log2 of the prior odds λ / (1 - λ)."""
    prior = float(settings["probability_two_random_records_match"])
    return _log2(prior / (1 - prior))


@dataclass(frozen=True)
class Level:
    """A non-null level of a stored comparison as scoring applies it."""

    gamma: int  # the level's number in a waterfall (0: else, highest: exact)
    spec: dict[str, Any]  # the stored level (label_for_charts, sql_condition, m, u, tf...)
    m: float | None  # the m scoring uses: the stored one, else Splink's default
    u: float | None
    weight: float  # log2(m / u) (0.0 when either is unknown), before term frequencies
    m_default: bool  # EM estimated no m for this level: the default is used


def levels_of(comparison: dict[str, Any]) -> list[Level]:
    """The non-null levels of a stored comparison, highest first, with their weights: the one
    place that says which m a level scores with (``compile_model`` and ``model show``)."""
    levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    # Levels EM never saw keep no m; Splink then uses its defaults, and so do we.
    defaults = default_m_values(len(levels))[::-1] if len(levels) > 1 else [0.95]
    out = []
    for i, lv in enumerate(levels):
        stored = lv.get("m_probability")
        m, u = stored or defaults[i], lv.get("u_probability")
        out.append(Level(gamma=len(levels) - 1 - i, spec=lv, m=m, u=u,
                         weight=_log2(m / u) if m and u else 0.0,
                         m_default=not stored))  # fmt: skip
    return out


@dataclass(frozen=True)
class Compiled:
    """The model as SQL over a relation ``pairs`` with columns ``<field>_l`` / ``<field>_r``."""

    comparisons: list[str]  # "struct_pack(level, weight) AS name" per comparison
    names: list[str]
    tf_joins: list[str]  # tf_<col> tables the comparisons read
    log_prior: float

    def select(self, pairs: str, min_weight: float) -> str:
        """Pairs of ``pairs`` scoring at least ``min_weight``: rid, cid, weight, probability,
        waterfall (levels and weights rounded for reading; the weight is summed unrounded)."""
        joins = " ".join(
            f"LEFT JOIN {t} ON {t}.v = p.{t[3:]}_l AND p.{t[3:]}_l = p.{t[3:]}_r"
            for t in self.tf_joins
        )
        total = " + ".join(f"{n}.weight" for n in self.names) or "0.0"
        shown = ", ".join(
            f"{n} := struct_pack(level := {n}.level, weight := round({n}.weight, 2))"
            for n in self.names
        )
        waterfall = f"to_json(struct_pack({shown}))::VARCHAR" if shown else "'{}'"
        # The model's own SQL and our constants only: no data is interpolated.
        return f"""
        WITH scored AS (
          SELECT p.unique_id_l AS rid, p.unique_id_r AS cid, {", ".join(self.comparisons)}
          FROM {pairs} p {joins}
        ),
        weighed AS (SELECT *, {self.log_prior} + {total} AS weight FROM scored)
        SELECT rid::BIGINT AS rid, cid::BIGINT AS cid,
          (1.0 / (1.0 + pow(2.0, -weight)))::DOUBLE AS probability, weight::DOUBLE AS weight,
          {waterfall} AS waterfall
        FROM weighed WHERE weight >= {min_weight}
        """  # noqa: S608


def compile_model(settings: dict[str, Any], tf_columns: set[str]) -> Compiled:
    """``tf_columns``: columns with a ``tf_<col> (v, tf)`` table to adjust exact matches by."""
    parts: list[str] = []
    tf_joins: list[str] = []
    for comp in settings["comparisons"]:
        name = comp["output_column_name"]
        nulls = [lv for lv in comp["comparison_levels"] if lv.get("is_null_level")]
        level_cases, weight_cases = [], []
        if nulls:
            level_cases.append(f"WHEN {nulls[0]['sql_condition']} THEN -1")
            weight_cases.append(f"WHEN {nulls[0]['sql_condition']} THEN 0.0")
        for level in levels_of(comp):
            lv, gamma, u, weight = level.spec, level.gamma, level.u, level.weight
            raw = lv["sql_condition"]
            cond = "TRUE" if raw.strip().upper() == "ELSE" else raw
            tf_col = lv.get("tf_adjustment_column")
            if tf_col and u and tf_col in tf_columns:
                # Splink: on an exact match, weigh by how common the value is.
                w = float(lv.get("tf_adjustment_weight", 1.0))
                alias = f"tf_{tf_col}"
                if alias not in tf_joins:
                    tf_joins.append(alias)
                adj = f"{w} * log2({u} / greatest(coalesce({alias}.tf, {u}), 1e-12))"
                weight_expr = f"{weight} + {adj}"
            else:
                weight_expr = str(weight)
            level_cases.append(f"WHEN {cond} THEN {gamma}")
            weight_cases.append(f"WHEN {cond} THEN {weight_expr}")
        parts.append(
            f"struct_pack(level := CASE {' '.join(level_cases)} END, "
            f"weight := (CASE {' '.join(weight_cases)} END)::DOUBLE) AS {name}"
        )
    names = [c["output_column_name"] for c in settings["comparisons"]]
    return Compiled(parts, names, tf_joins, prior_weight(settings))


_COLS = (*FIELDS, "phone7", "unique_id")
_PAIR_COLUMNS = ", ".join(
    [*(f"q.{c} AS {c}_l" for c in _COLS), *(f"r.{c} AS {c}_r" for c in _COLS)]
)


def _tf_table(con: duckdb.DuckDBPyConnection, col: str, frame: pa.Table) -> None:
    """tf_<col> (v, tf) from a model frame: each value's share of the column's values."""
    con.register("tf_src", frame)
    # Column names come from the model module's constants, never from data.
    con.execute(
        f"CREATE OR REPLACE TABLE tf_{col} AS SELECT {col} AS v, count(*) / "  # noqa: S608
        f"sum(count(*)) OVER () AS tf FROM tf_src WHERE {col} IS NOT NULL GROUP BY 1"
    )
    con.unregister("tf_src")


def _tf_lookups(con: duckdb.DuckDBPyConnection, tf: dict[str, pa.Table]) -> None:
    """tf_<col> (v, tf) from term frequencies counted elsewhere (``engine.term_frequencies``:
    the registry's, counted in SQL), one table per column."""
    for col, lookup in tf.items():
        # Column names come from the model module's constants, never from data.
        con.register("lookup", lookup)
        con.execute(
            f"CREATE TABLE tf_{col} AS SELECT {col} AS v, tf_{col} AS tf FROM lookup"  # noqa: S608
        )
        con.unregister("lookup")


class CompiledModel:
    """Score query records against their candidates with the blocking rules of the model."""

    def __init__(
        self,
        settings: dict[str, Any],
        registry: pa.Table | None = None,
        *,
        tf: dict[str, pa.Table] | None = None,
        threshold: float = SCORE_THRESHOLD,
        frame: pa.Table | None = None,
    ) -> None:
        """Term frequencies: ``tf`` (``engine.term_frequencies``: the online path counts the
        registry's in SQL, as `match` does), else counted in ``registry`` (or its ``frame``,
        its ``model_frame.model_frame`` when the caller has it already).
        ``threshold``: pairs under this probability are dropped, as ``model.score`` does."""
        self.settings = settings
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET threads TO 1")
        if tf is not None:
            # Every field may be present: a block over a field nobody has joins nothing.
            self.present = set(FIELDS)
            tf_columns = set(tf)
            _tf_lookups(self.con, tf)
        else:
            if frame is None:
                assert registry is not None, "a registry, its frame, or term frequencies"
                frame = model_frame(registry)
            self.present = {f for f in FIELDS
                            if frame.column(f).null_count < frame.num_rows}  # fmt: skip
            # Term frequencies over the whole registry, kept: scoring sees a few rows at a time.
            tf_columns = {c for c in TF_COLUMNS if c in self.present}
            for col in tf_columns:
                _tf_table(self.con, col, frame)
        # Query and candidates go into two fixed tables, so the compiled query is prepared once:
        # parsing and planning it is most of what a call would otherwise cost.
        self.con.register("empty", MODEL_FRAME_SCHEMA.empty_table())
        self.con.execute("CREATE TEMP TABLE q AS SELECT * FROM empty")
        self.con.execute("CREATE TEMP TABLE r AS SELECT * FROM empty")
        self.con.unregister("empty")
        blocks = (
            " OR ".join(
                "(" + " AND ".join(f"q.{c} = r.{c}" for c in cols) + ")"
                for cols in PREDICT_BLOCKS
                if set(cols) <= self.present | {"phone7"}
            )
            or "FALSE"
        )
        pairs = f"(SELECT {_PAIR_COLUMNS} FROM q JOIN r ON {blocks})"  # noqa: S608
        self.sql = compile_model(settings, tf_columns).select(pairs, _min_weight(threshold))
        self.con.execute(f"PREPARE score_pairs AS {self.sql}")

    def score(
        self, query: pa.Table, registry: pa.Table, registry_frame: pa.Table | None = None
    ) -> pa.Table:
        """Like ``model.score`` on prepared frames: rid, cid, probability, weight, waterfall.

        Meant for a few query records against their candidates (the online path's key
        lookup): the blocking join here is a plain OR of the model's rules, fine on hundreds
        of rows.
        """
        self.con.register("q_in", model_frame(query))
        if registry_frame is None:
            registry_frame = model_frame(registry)
        self.con.register("r_in", registry_frame)
        try:
            self.con.execute("DELETE FROM q; DELETE FROM r; INSERT INTO q SELECT * FROM q_in; "
                             "INSERT INTO r SELECT * FROM r_in")  # fmt: skip
            table = self.con.sql("EXECUTE score_pairs").to_arrow_table()
        finally:
            self.con.unregister("q_in")
            self.con.unregister("r_in")
        return table.cast(SCORED_SCHEMA)


class BatchScorer:
    """``(query, registry) -> scored pairs`` for ``engine.resolve``: every pair the model's
    blocking rules make, scored in one set-based query per call.

    Blocking is a union of equi-joins, one per rule, as Splink does it (an OR in one join
    would compare every pair); a rule over a field one side lacks joins nothing, which is
    Splink's choice of rules by the fields present. ``tf``: the term frequency lookups to use
    (``engine.term_frequencies``: `match` passes the registry's); None counts them in the
    registry given to each call.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        tf: dict[str, pa.Table] | None = None,
        *,
        threshold: float = SCORE_THRESHOLD,
        threads: int = 2,
    ) -> None:
        self.settings = settings
        self.tf = tf
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET threads TO {int(threads)}")
        tf_columns = set(tf) if tf is not None else set(TF_COLUMNS)
        _tf_lookups(self.con, tf or {})
        union = "\nUNION\n".join(
            "SELECT q.unique_id AS l, r.unique_id AS r FROM q JOIN r ON "  # noqa: S608
            + " AND ".join(f"q.{c} = r.{c}" for c in cols)
            for cols in PREDICT_BLOCKS
        )
        pairs = (
            f"(SELECT {_PAIR_COLUMNS} FROM ({union}) c "  # noqa: S608
            "JOIN q ON q.unique_id = c.l JOIN r ON r.unique_id = c.r)"
        )
        self.sql = compile_model(settings, tf_columns).select(pairs, _min_weight(threshold))

    def __call__(self, query: pa.Table, registry: pa.Table) -> pa.Table:
        if query.num_rows == 0 or registry.num_rows == 0:
            return SCORED_SCHEMA.empty_table()
        con = self.con
        frame = model_frame(registry)
        if self.tf is None:
            for col in TF_COLUMNS:
                _tf_table(con, col, frame)
        con.register("q", model_frame(query))
        con.register("r", frame)
        try:
            return con.sql(self.sql).to_arrow_table().cast(SCORED_SCHEMA)
        finally:
            con.unregister("q")
            con.unregister("r")
