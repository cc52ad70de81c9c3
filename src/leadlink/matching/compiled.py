"""A trained model compiled to one DuckDB query, for scoring a handful of pairs in milliseconds.

Splink builds its SQL pipeline on every call (about 100 ms on our machine), which is right for
batches and wrong for one lead at a time. The model itself is data: each comparison level
carries its own SQL condition (Splink wrote it, in DuckDB's dialect) and its m and u
probabilities. ``CompiledModel`` turns that into one CASE expression per comparison, adds the
term-frequency adjustment Splink applies on exact matches, and keeps the registry's model frame
and term frequencies in a private in-memory DuckDB. Scores agree with ``model.score`` to
rounding (tested).
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pyarrow as pa
from splink.internals.comparison_level import _default_m_values

from leadlink.matching import model as probabilistic


def _log2(x: float) -> float:
    return math.log2(max(x, 1e-300))


class CompiledModel:
    """Score query records against a fixed registry with the blocking rules of the model."""

    def __init__(
        self,
        settings: dict[str, Any],
        registry: pa.Table,
        *,
        threshold: float = 0.05,
        frame: pa.Table | None = None,
    ) -> None:
        """``threshold``: pairs under this probability are dropped, as ``model.score`` does.
        ``frame``: the registry's ``model.model_frame``, when the caller has it already."""
        self.settings = settings
        self.min_weight = _log2(threshold / (1 - threshold)) if 0 < threshold < 1 else -1e9
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET threads TO 1")
        if frame is None:
            frame = probabilistic.model_frame(registry, self.con)
        self.present = {f for f in probabilistic.FIELDS
                        if frame.column(f).null_count < frame.num_rows}  # fmt: skip
        self._tf_tables(frame)
        # Query and candidates go into two fixed tables, so the compiled query is prepared once:
        # parsing and planning it is most of what a call would otherwise cost.
        empty = frame.schema.empty_table().cast(probabilistic.MODEL_FRAME_SCHEMA)
        self.con.register("empty", empty)
        self.con.execute("CREATE TEMP TABLE q AS SELECT * FROM empty")
        self.con.execute("CREATE TEMP TABLE r AS SELECT * FROM empty")
        self.con.unregister("empty")
        self.sql = self._compile()
        self.con.execute(f"PREPARE score_pairs AS {self.sql}")

    def _tf_tables(self, frame: pa.Table) -> None:
        """Term frequencies over the whole registry, kept: scoring sees a few rows at a time."""
        self.con.register("r", frame)
        for col in probabilistic.TF_COLUMNS:
            if col in self.present:
                # Column names come from the model module's constants, never from data.
                self.con.execute(
                    f"CREATE TABLE tf_{col} AS SELECT {col} AS v, count(*) / "  # noqa: S608
                    f"sum(count(*)) OVER () AS tf FROM r WHERE {col} IS NOT NULL GROUP BY 1"
                )
        self.con.unregister("r")

    def _compile(self) -> str:
        prior = float(self.settings["probability_two_random_records_match"])
        parts: list[str] = []
        tf_joins: list[str] = []
        for comp in self.settings["comparisons"]:
            name = comp["output_column_name"]
            levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
            nulls = [lv for lv in comp["comparison_levels"] if lv.get("is_null_level")]
            level_cases, weight_cases = [], []
            if nulls:
                level_cases.append(f"WHEN {nulls[0]['sql_condition']} THEN -1")
                weight_cases.append(f"WHEN {nulls[0]['sql_condition']} THEN 0.0")
            # Levels EM never saw keep no m; Splink then uses its defaults, and so do we.
            defaults = _default_m_values(len(levels))[::-1] if len(levels) > 1 else [0.95]
            for i, lv in enumerate(levels):
                gamma = len(levels) - 1 - i
                raw = lv["sql_condition"]
                cond = "TRUE" if raw.strip().upper() == "ELSE" else raw
                m, u = lv.get("m_probability") or defaults[i], lv.get("u_probability")
                weight = _log2(m / u) if m and u else 0.0
                tf_col = lv.get("tf_adjustment_column")
                if tf_col and u and tf_col in self.present:
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
                f"weight := round(CASE {' '.join(weight_cases)} END, 2)) AS {name}"
            )
        names = [c["output_column_name"] for c in self.settings["comparisons"]]
        total = " + ".join(f"{n}.weight" for n in names) or "0.0"
        cols = (*probabilistic.FIELDS, "phone7", "unique_id")
        columns = ", ".join(
            [*(f"q.{c} AS {c}_l" for c in cols), *(f"r.{c} AS {c}_r" for c in cols)]
        )
        blocks = (
            " OR ".join(
                "(" + " AND ".join(f"q.{c} = r.{c}" for c in cols) + ")"
                for cols in probabilistic.PREDICT_BLOCKS
                if set(cols) <= self.present | {"phone7"}
            )
            or "FALSE"
        )
        joins = " ".join(
            f"LEFT JOIN {t} ON {t}.v = pairs.{t[3:]}_l AND pairs.{t[3:]}_l = pairs.{t[3:]}_r"
            for t in tf_joins
        )
        log_prior = _log2(prior / (1 - prior))
        # Everything here is the model's own SQL and our constants: no data is interpolated.
        return f"""
        WITH pairs AS (
          SELECT {columns} FROM q JOIN r ON {blocks}
        ),
        scored AS (
          SELECT unique_id_l AS rid, unique_id_r AS cid, {", ".join(parts)}
          FROM pairs {joins}
        )
        SELECT rid::BIGINT AS rid, cid::BIGINT AS cid, weight,
          to_json(struct_pack({", ".join(f"{n} := {n}" for n in names)}))::VARCHAR AS waterfall
        FROM (SELECT *, {log_prior} + {total} AS weight FROM scored)
        WHERE weight >= {self.min_weight}
        """  # noqa: S608

    def score(
        self, query: pa.Table, registry: pa.Table, registry_frame: pa.Table | None = None
    ) -> pa.Table:
        """Like ``model.score`` on prepared frames: rid, cid, probability, weight, waterfall.

        Meant for a few query records against their candidates (``index.BlockIndex``): the
        blocking join here is a plain OR of the model's rules, fine on tens of rows.
        """
        self.con.register("q_in", probabilistic.model_frame(query, self.con))
        if registry_frame is None:
            registry_frame = probabilistic.model_frame(registry, self.con)
        self.con.register("r_in", registry_frame)
        try:
            self.con.execute("DELETE FROM q; DELETE FROM r; INSERT INTO q SELECT * FROM q_in; "
                             "INSERT INTO r SELECT * FROM r_in")  # fmt: skip
            table = self.con.sql("EXECUTE score_pairs").to_arrow_table()
        finally:
            self.con.unregister("q_in")
            self.con.unregister("r_in")
        weight = table.column("weight").to_pylist()
        prob = [1.0 / (1.0 + 2.0 ** (-w)) for w in weight]
        return pa.table(
            {"rid": table.column("rid"), "cid": table.column("cid"),
             "probability": pa.array(prob, pa.float64()), "weight": table.column("weight"),
             "waterfall": table.column("waterfall")},
            schema=probabilistic.SCORED_SCHEMA,
        )  # fmt: skip
