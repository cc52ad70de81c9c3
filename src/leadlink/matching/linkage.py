"""Link any two files: the engine `match` uses, trained on the two frames themselves.

``link_frames(left, right, bands)`` takes canonical frames (``rid`` plus canonical fields),
trains the probabilistic model on them, and decides every left record against the right
file with the same rules, bands and margin guard as `match`. Each right record stands for its
own person, so a decision names one right record. Values that did not parse are kept as text
the model compares (``frames.prepare(dirty=True)``); the model's guard is the ``generic``
profile unless told otherwise (outcome.Guard).
"""

from __future__ import annotations

import functools
import json

import pyarrow as pa
import pyarrow.compute as pc

from leadlink.matching import model, training
from leadlink.matching.engine import Bands, Profile, resolve
from leadlink.matching.frames import prepare
from leadlink.matching.rules import RULES

PAIRS_SCHEMA = pa.schema(
    [("left_rid", pa.int64()), ("right_rid", pa.int64()), ("score", pa.float64()),
     ("decision", pa.string()), ("rule", pa.string())]
)  # fmt: skip


def link_frames(
    left: pa.Table,
    right: pa.Table,
    bands: Bands | None = None,
    *,
    seed: int = 42,
    profile: Profile = "generic",
) -> pa.Table:
    """Pairs above the reject band: ``left_rid, right_rid, score, decision, rule``.

    decision is ``match`` (accept band, linked), or ``review`` (review band, or candidates
    too close to tell apart: every such candidate is written, none is guessed).
    """
    bands = bands or Bands()
    query = prepare(left, dirty=True)
    registry = prepare(right, dirty=True)
    keys = pc.cast(registry.column("rid"), pa.string())
    registry = registry.set_column(
        registry.schema.get_field_index("person_key"), "person_key", keys
    )
    trained = training.train(query, registry, seed=seed)
    scorer = functools.partial(model.score, trained.settings)
    decisions = resolve(query, registry, bands, RULES, trained.settings, scorer, profile=profile)
    rows: list[tuple[int, int, float, str, str]] = []
    for d in decisions.to_pylist():
        if d["decision"] == "link":
            rows.append((d["rid"], int(d["person_key"]), d["score"], "match", d["rule"]))
            continue
        for c in json.loads(d["candidates"] or "[]"):
            if c["score"] is not None and c["score"] >= bands.review:
                rows.append((d["rid"], int(c["person_key"]), c["score"], "review", c["rule"]))
    rows.sort(key=lambda r: (r[0], r[1]))
    return pa.table(
        {name: [r[i] for r in rows] for i, name in enumerate(PAIRS_SCHEMA.names)},
        schema=PAIRS_SCHEMA,
    )
