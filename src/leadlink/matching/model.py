"""The probabilistic tier: a Fellegi-Sunter model, trained and applied with Splink on DuckDB.

Pure like the rest of the core: prepared frames in (``frames.prepare``), a model (a plain JSON
dict) or scored pairs out; Splink runs in a private in-memory DuckDB.

- ``training.train(left, right, seed=...)`` estimates the model (see matching/training.py);
  its ``settings`` is Splink's own JSON: store it, and the same data always scores the same way.
- ``score(model, query, registry)`` returns every blocked pair with its match probability and
  the per-comparison match weights (the waterfall ``explain`` shows).

Comparisons are chosen from the fields the data actually has, so the same module serves our
sources (names, phone, documents, plates, cars, dates) and ``leadlink link`` on any two files
(birth dates, addresses, postcodes, e-mails...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, block_on
from splink.backends.duckdb import DuckDBAPI
from splink.internals.comparison_level_creator import ComparisonLevelCreator

# The model's inputs live in a Splink-free module; they are named here too for the callers
# that reach the whole tier through this module.
from leadlink.matching.model_frame import (
    FIELDS,
    MODEL_FRAME_SCHEMA,
    MODEL_VERSION,
    PREDICT_BLOCKS,
    SCORE_THRESHOLD,
    SCORED_SCHEMA,
    TF_COLUMNS,
    model_frame,
)

__all__ = [
    "FIELDS", "MODEL_FRAME_SCHEMA", "MODEL_VERSION", "PREDICT_BLOCKS", "SCORED_SCHEMA",
    "SCORE_THRESHOLD", "TF_COLUMNS", "blocks_for", "comparisons_for", "in_dialect",
    "model_frame", "predict", "present_fields", "quiet", "score", "score_dedupe", "scored",
]  # fmt: skip

def present_fields(*frames: pa.Table) -> set[str]:
    """Fields with at least one value on every side (a comparison needs both sides)."""
    have = set(FIELDS)
    for frame in frames:
        have &= {f for f in FIELDS if frame.column(f).null_count < frame.num_rows}
    return have


def _null_safe(name: str, *levels: ComparisonLevelCreator) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[cll.NullLevel(name), *levels, cll.ElseLevel()],
    )


def _code(name: str) -> cl.CustomComparison:
    """Identifiers typed by people: exact, then one typo or transposition."""
    return _null_safe(
        name,
        cll.ExactMatchLevel(name),
        cll.DamerauLevenshteinLevel(name, 1),
    )


def comparisons_for(present: set[str]) -> list[Any]:
    out: list[Any] = []
    for name in ("given", "family1", "family2"):
        if name in present:
            out.append(
                cl.JaroWinklerAtThresholds(name, [0.92, 0.8]).configure(
                    term_frequency_adjustments=True
                )
            )
    if "name_bag" in present:
        out.append(cl.ArrayIntersectAtSizes("name_bag", [3, 2, 1]))
    if "phone" in present:
        out.append(
            _null_safe(
                "phone",
                cll.ExactMatchLevel("phone"),
                cll.CustomLevel("right(phone_l, 7) = right(phone_r, 7)", "phone").configure(
                    label_for_charts="last 7 digits agree"
                ),
                cll.DamerauLevenshteinLevel("phone", 1),
            )
        )
    for name in ("doc", "plate", "postcode", "street_number"):
        if name in present:
            out.append(_code(name))
    if "brand_model" in present:
        out.append(cl.ExactMatch("brand_model").configure(term_frequency_adjustments=True))
    if "date" in present:
        out.append(
            cl.AbsoluteDateDifferenceAtThresholds(
                "date",
                input_is_string=False,
                metrics=["day", "day", "day"],
                thresholds=[7, 30, 120],
            )  # fmt: skip
        )
    if "birth_date" in present:
        out.append(cl.DamerauLevenshteinAtThresholds("birth_date", [1, 2]))
    for name in ("city", "state"):
        if name in present:
            out.append(cl.ExactMatch(name).configure(term_frequency_adjustments=True))
    if "address" in present:
        out.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.85]))
    if "email" in present:
        out.append(cl.EmailComparison("email"))
    return out


def blocks_for(present: set[str]) -> list[Any]:
    """Splink's blocking rules of predictions: those of PREDICT_BLOCKS the fields allow."""
    have = present | ({"phone7"} if "phone" in present else set())
    return [block_on(*cols) for cols in PREDICT_BLOCKS if set(cols) <= have]


@contextmanager
def quiet() -> Iterator[None]:
    """Splink narrates every step (and warns of levels the data never showed); stay silent."""
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def score(
    settings: dict[str, Any],
    query: pa.Table,
    registry: pa.Table,
    *,
    threshold: float = SCORE_THRESHOLD,
    tf: dict[str, pa.Table] | None = None,
) -> pa.Table:
    """Blocked pairs of query x registry with probability >= threshold (see SCORED_SCHEMA).

    ``tf``: term frequency lookups (column -> table of ``col, tf_col``) to use instead of the
    frequencies Splink would count in query + registry (``match`` passes the whole registry's,
    so a record scores the same whatever else is in its batch)."""
    if query.num_rows == 0 or registry.num_rows == 0:
        return SCORED_SCHEMA.empty_table()
    qf, rf = model_frame(query), model_frame(registry)
    con = duckdb.connect(":memory:")
    predictions = predict(DuckDBAPI(connection=con), settings, qf, rf, threshold=threshold,
                          tf=tf)  # fmt: skip
    table = _waterfall(con, predictions.physical_name, _names(settings))
    con.close()
    return table


def score_dedupe(
    settings: dict[str, Any], frame: pa.Table, *, threshold: float = SCORE_THRESHOLD
) -> pa.Table:
    """Blocked pairs of one frame with itself (`leadlink dedupe`), as SCORED_SCHEMA.

    Splink's ``dedupe_only`` scores each pair once (``unique_id_l < unique_id_r``, never a
    record with itself); the engine decides every record, so each pair comes back in both
    directions, the second the first turned round (the comparison levels are symmetric)."""
    if frame.num_rows < 2:
        return SCORED_SCHEMA.empty_table()
    mf = model_frame(frame)
    con = duckdb.connect(":memory:")
    try:
        db_api = DuckDBAPI(connection=con)
        blocks = [b.get_blocking_rule("duckdb").blocking_rule_sql
                  for b in blocks_for(present_fields(mf))]  # fmt: skip
        model = {**settings, "link_type": "dedupe_only",
                 "blocking_rules_to_generate_predictions": blocks}  # fmt: skip
        with quiet():
            linker = Linker(db_api.register(mf, table_name="q_left"), model, log_level=None)
            predictions = linker.inference.predict(threshold_match_probability=threshold)
        once = _waterfall(con, predictions.physical_name, _names(settings))
    finally:
        con.close()
    turned = once.select(["cid", "rid", "probability", "weight", "waterfall"])
    return pa.concat_tables([once, turned.rename_columns(SCORED_SCHEMA.names).cast(SCORED_SCHEMA)])


def predict(
    db_api: Any,
    settings: dict[str, Any],
    qf: pa.Table,
    rf: pa.Table,
    *,
    threshold: float = SCORE_THRESHOLD,
    inputs: tuple[Any, Any] | None = None,
    tf: dict[str, pa.Table] | None = None,
) -> Any:
    """Splink's predictions for model frames qf x rf on any Splink backend (``db_api``).

    The blocking rules are those of the fields both frames have, in the backend's dialect, and
    the stored model is applied in that dialect too (``in_dialect``). ``inputs``: qf and rf as
    the backend's own tables, for a backend that cannot take Arrow. Returns Splink's
    SplinkDataFrame of predictions (``scored`` turns it, as Arrow, into SCORED_SCHEMA).
    """
    dialect = db_api.sql_dialect.sql_dialect_str
    blocks = [
        b.get_blocking_rule(dialect).blocking_rule_sql for b in blocks_for(present_fields(qf, rf))
    ]
    model = {**in_dialect(settings, dialect), "blocking_rules_to_generate_predictions": blocks}
    left, right = inputs or (qf, rf)
    with quiet():
        linker = Linker(
            [db_api.register(left, table_name="q_left"),
             db_api.register(right, table_name="r_right")],
            model,
            log_level=None,
        )  # fmt: skip
        for col, lookup in (tf or {}).items():  # see score()
            registered = db_api.register(lookup, table_name=f"tf_lookup_{col}")
            linker.table_management.register_term_frequency_lookup(registered, col)
        return linker.inference.predict(threshold_match_probability=threshold)


def in_dialect(settings: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The stored model with its comparison SQL written for another Splink backend.

    A stored model's level conditions are DuckDB SQL (``jaro_winkler_similarity``, ``EPOCH``),
    which Spark does not speak. The comparisons are rebuilt for ``dialect`` by the same code
    that built them for training, and every other key of every level (m and u probabilities,
    term-frequency settings, labels) is kept from the stored model: same model, other SQL.
    """
    if settings.get("sql_dialect", "duckdb") == dialect:
        return settings
    stored = settings["comparisons"]
    names = [c["output_column_name"] for c in stored]
    rebuilt = [c.create_comparison_dict(dialect) for c in comparisons_for(set(names))]

    def shape(comps: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
        return [(c["output_column_name"], [lv.get("label_for_charts")
                 for lv in c["comparison_levels"]]) for c in comps]  # fmt: skip

    if shape(rebuilt) != shape(stored):
        raise ValueError("the stored model's comparisons are not the ones this version builds")
    comparisons = [
        {**comp, "comparison_levels": [
            {**level, "sql_condition": new["sql_condition"]}
            for level, new in zip(comp["comparison_levels"], fresh["comparison_levels"],
                                  strict=True)]}
        for comp, fresh in zip(stored, rebuilt, strict=True)
    ]  # fmt: skip
    return {**settings, "sql_dialect": dialect, "comparisons": comparisons}


def scored(predictions: pa.Table, settings: dict[str, Any]) -> pa.Table:
    """Splink's predictions (as Arrow, from any backend) as SCORED_SCHEMA pairs."""
    con = duckdb.connect(":memory:")
    try:
        con.register("predictions", predictions)
        return _waterfall(con, "predictions", _names(settings))
    finally:
        con.close()


def _names(settings: dict[str, Any]) -> list[str]:
    return [c["output_column_name"] for c in settings["comparisons"]]


def _waterfall(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> pa.Table:
    """Per comparison: its level (gamma) and match weight, term-frequency adjustment included."""
    cols = set(con.sql(f"SELECT * FROM {table} LIMIT 0").columns)  # noqa: S608 - Splink's table

    def weight(name: str) -> str:  # match weights are log2 Bayes factors: they add up
        mw = f"coalesce(mw_{name}, 0.0)" if f"mw_{name}" in cols else "0.0"
        tf = f" + coalesce(mw_tf_adj_{name}, 0.0)" if f"mw_tf_adj_{name}" in cols else ""
        return f"round({mw}{tf}, 2)"

    parts = ", ".join(
        f"{n} := struct_pack(level := gamma_{n}, weight := {weight(n)})"
        for n in names
        if f"gamma_{n}" in cols
    )
    waterfall = f"to_json(struct_pack({parts}))::VARCHAR" if parts else "'{}'"
    # Code-built SQL over Splink's own column names; no data reaches this string.
    # One input (a dedupe) has no source_dataset: its pairs are (left, right) as they come.
    left = "source_dataset_l = 'q_left'" if "source_dataset_l" in cols else "TRUE"
    sql = f"""
    SELECT CASE WHEN {left} THEN unique_id_l ELSE unique_id_r END::BIGINT AS rid,
           CASE WHEN {left} THEN unique_id_r ELSE unique_id_l END::BIGINT AS cid,
           match_probability::DOUBLE AS probability, match_weight::DOUBLE AS weight,
           {waterfall} AS waterfall
    FROM {table}
    """  # noqa: S608
    return con.sql(sql).to_arrow_table().cast(SCORED_SCHEMA)
