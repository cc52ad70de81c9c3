"""Reviews as labels: what a person decided on review pairs teaches the trained model.

Pure like the rest of the core: the labels come in as a frame (``LABELS_SCHEMA``: one row per
(review item, candidate record of its person)), the records they name as a prepared frame, the
model as its JSON dict; a new model dict and the figures come out. The store gathers the
labels (store/review.py ``label_rows``), the pipeline passes them to ``training.train``.

How labels combine with EM (docs/model.md "Labels"): EM estimates m as it always did, then
every comparison's m is updated with the accepted pairs as a Dirichlet posterior whose prior
is EM's estimate, counted as ``PRIOR_PAIRS`` labelled pairs::

    m(level) = (PRIOR_PAIRS * m_EM(level) + accepted pairs at that level)
               / (PRIOR_PAIRS + accepted pairs where the comparison is not null)

A few labels nudge EM's m, many outweigh it; every m stays positive and a comparison's m still
sum to one. Rejected pairs are not used to estimate: u is for random non-matching pairs and is
sampled from up to a million of them, while rejected pairs are the hardest non-matches the
review band picked, so adding them would bias u. They (and the accepted ones) measure the
trained model instead: ``agreement`` is the share of labels it decides the way the person did.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from leadlink.matching.compiled import _PAIR_COLUMNS, compile_model, levels_of
from leadlink.matching.model_frame import model_frame
from leadlink.matching.outcome import Guard

# One row per (review item, candidate record): ``cid`` is NULL when the item's person has no
# other active record to compare with (the label is then counted, not learned from).
LABELS_SCHEMA = pa.schema(
    [("item", pa.int64()), ("rid", pa.int64()), ("cid", pa.int64()), ("accepted", pa.bool_())]
)
# EM's estimate of a level's m weighs as much as this many labelled pairs (see module doc).
PRIOR_PAIRS = 50.0
# Scored pairs: the item's best pair (the engine scores a person by its best record).
PAIRS_SCHEMA = pa.schema(
    [("item", pa.int64()), ("rid", pa.int64()), ("cid", pa.int64()), ("accepted", pa.bool_()),
     ("probability", pa.float64()), ("waterfall", pa.string())]
)  # fmt: skip


def best_pairs(
    settings: dict[str, Any],
    records: pa.Table,
    labels: pa.Table,
    *,
    tf: dict[str, pa.Table] | None = None,
) -> pa.Table:
    """Each labelled item's best pair under ``settings`` (``PAIRS_SCHEMA``).

    A review item pairs a record with a person; the engine compares the record with each of
    the person's records and keeps the best pair, so the label is that pair. ``records``: a
    prepared frame holding every rid and cid; ``tf``: the term frequency lookups `match` uses
    (``engine.term_frequencies``), so the probabilities are the ones `match` would give."""
    paired = labels.filter(pc.is_valid(labels["cid"]))
    if paired.num_rows == 0:
        return PAIRS_SCHEMA.empty_table()
    con = duckdb.connect(":memory:")
    try:
        for col, lookup in (tf or {}).items():
            con.register("lookup", lookup)
            # Column names come from the model module's constants, never from data.
            con.execute(f"CREATE TABLE tf_{col} AS SELECT {col} AS v, tf_{col} AS tf "  # noqa: S608
                        "FROM lookup")  # fmt: skip
            con.unregister("lookup")
        con.register("rec", model_frame(records))
        con.register("labels", paired.cast(LABELS_SCHEMA))
        pairs = (
            f"(SELECT DISTINCT {_PAIR_COLUMNS} FROM labels l "  # noqa: S608
            "JOIN rec q ON q.unique_id = l.rid JOIN rec r ON r.unique_id = l.cid)"
        )
        scored = compile_model(settings, set(tf or {})).select(pairs, -1e300)
        sql = f"""
        SELECT l.item, l.rid, l.cid, l.accepted, s.probability, s.waterfall
        FROM labels l JOIN ({scored}) s ON s.rid = l.rid AND s.cid = l.cid
        QUALIFY row_number() OVER (PARTITION BY l.item ORDER BY s.weight DESC, l.cid) = 1
        ORDER BY l.item
        """  # noqa: S608 - the model's own SQL, no data
        return con.sql(sql).to_arrow_table().cast(PAIRS_SCHEMA)
    finally:
        con.close()


def learn_m(
    settings: dict[str, Any], pairs: pa.Table, *, prior_pairs: float = PRIOR_PAIRS
) -> dict[str, Any]:
    """The model with each comparison's m updated by the accepted pairs (module doc)."""
    flags = pairs["accepted"].to_pylist()
    accepted = [
        json.loads(w) for w, ok in zip(pairs["waterfall"].to_pylist(), flags, strict=True) if ok
    ]
    out = copy.deepcopy(settings)
    for comp in out.get("comparisons", []):
        name = comp["output_column_name"]
        seen = Counter(int(w[name]["level"]) for w in accepted
                       if name in w and int(w[name]["level"]) >= 0)  # fmt: skip
        n = sum(seen.values())
        if not n:
            continue  # no label compares this field: EM's m stands
        for level in levels_of(comp):  # level.spec is the level's dict in ``out``
            m = level.m if level.m is not None else 0.0
            level.spec["m_probability"] = (prior_pairs * m + seen[level.gamma]) / (prior_pairs + n)
    return out


def agreement(
    settings: dict[str, Any], labels: pa.Table, pairs: pa.Table, *, accept: float
) -> dict[str, Any]:
    """How many labels the model learned from and how well it agrees with them.

    The model decides a pair "match" when it would link it alone: probability at least the
    accept threshold and its guard holding (outcome.Guard); anything else is "not a match".
    It agrees with an accepted label it decides match, with a rejected one it does not."""
    guard = Guard.of(settings)
    items = dict(zip(labels["item"].to_pylist(), labels["accepted"].to_pylist(), strict=True))
    agreed = Counter[bool]()
    for ok, probability, waterfall in zip(pairs["accepted"].to_pylist(),
                                          pairs["probability"].to_pylist(),
                                          pairs["waterfall"].to_pylist(), strict=True):  # fmt: skip
        match = probability >= accept and guard.holds(json.loads(waterfall))
        agreed[ok] += match is ok
    paired = Counter(pairs["accepted"].to_pylist())
    compared = paired[True] + paired[False]
    return {
        "accepted": sum(items.values()), "rejected": len(items) - sum(items.values()),
        "learned_from": paired[True], "compared": compared,
        "agreed": agreed[True] + agreed[False],
        "agreement": round((agreed[True] + agreed[False]) / compared, 4) if compared else None,
        "accepted_agreed": agreed[True], "rejected_agreed": agreed[False],
        "prior_pairs": PRIOR_PAIRS, "accept_threshold": accept,
    }  # fmt: skip
