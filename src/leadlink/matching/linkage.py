"""Link any two files: the engine `match` uses, trained on the two frames themselves.

``link_frames(left, right, bands)`` takes canonical frames (``rid`` plus canonical fields),
trains the probabilistic model on them, and decides every left record against the right
file with the same rules, bands and margin guard as `match`. Each right record stands for its
own person, so a decision names one right record. Values that did not parse are kept as text
the model compares (``frames.prepare(dirty=True)``); the model's guard is the ``generic``
profile unless told otherwise (outcome.Guard).

``dedupe_frame(frame, bands)`` is the same with one file against itself (`leadlink dedupe`):
the model is trained on the file alone (Splink's ``dedupe_only``), every record is decided
against the others, and each pair comes out once, ``left_rid < right_rid``.

Data too small or too uniform to train a model (``training.CannotTrain``: one record, no two
records sharing a key, every pair one person...) is decided by the rules alone; the result
says so (``Linked.untrained``) and never fails for it.
"""

from __future__ import annotations

import functools
import json
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from leadlink.matching import model, training
from leadlink.matching.engine import Bands, Profile, resolve, resolve_dedupe
from leadlink.matching.frames import prepare
from leadlink.matching.rules import RULES

PAIRS_SCHEMA = pa.schema(
    [("left_rid", pa.int64()), ("right_rid", pa.int64()), ("score", pa.float64()),
     ("decision", pa.string()), ("rule", pa.string())]
)  # fmt: skip


class Linked(NamedTuple):
    """Pairs (PAIRS_SCHEMA) and, when no model could be trained, why: the rules alone
    decided (None: the model was trained and scored the pairs the rules left open)."""

    pairs: pa.Table
    untrained: str | None = None


# Pairs sampled for u in `link`/`dedupe` (`model train` on the store keeps 1e6): sampling u
# was half of a FEBRL run's time, and 2.5e5 pairs gave the same pairs on febrl1/2/4 and
# generated person files (benchmarks/RESULTS.md, section febrl) in ~30 % less CPU time.
U_PAIRS = 2.5e5


def _train(
    left: pa.Table, right: pa.Table | None, seed: int
) -> tuple[training.TrainedModel | None, str | None]:
    try:
        return training.train(left, right, seed=seed, max_pairs=U_PAIRS), None
    except training.CannotTrain as exc:
        return None, str(exc)


def _keyed(frame: pa.Table) -> pa.Table:
    """A prepared frame where every record is its own person (``person_key`` = its rid)."""
    keys = pc.cast(frame.column("rid"), pa.string())
    return frame.set_column(frame.schema.get_field_index("person_key"), "person_key", keys)


def _pairs_table(rows: list[tuple[int, int, float, str, str]]) -> pa.Table:
    rows.sort(key=lambda r: (r[0], r[1]))
    return pa.table(
        {name: [r[i] for r in rows] for i, name in enumerate(PAIRS_SCHEMA.names)},
        schema=PAIRS_SCHEMA,
    )


def _decided_pairs(decisions: pa.Table, bands: Bands) -> list[tuple[int, int, float, str, str]]:
    """Each record's link (``match``), or its candidates in the review band (``review``): the
    record each names (``cid``; in a link that is the person, a right record, too)."""
    rows: list[tuple[int, int, float, str, str]] = []
    for d in decisions.to_pylist():
        if d["decision"] == "link":
            rows.append((d["rid"], int(d["cid"]), d["score"], "match", d["rule"]))
            continue
        for c in json.loads(d["candidates"] or "[]"):
            if c["score"] is not None and c["score"] >= bands.review:
                rows.append((d["rid"], int(c["cid"]), c["score"], "review", c["rule"]))
    return rows


def link_frames(
    left: pa.Table,
    right: pa.Table,
    bands: Bands | None = None,
    *,
    seed: int = 42,
    profile: Profile = "generic",
) -> Linked:
    """Pairs above the reject band: ``left_rid, right_rid, score, decision, rule``.

    decision is ``match`` (accept band, linked), or ``review`` (review band, or candidates
    too close to tell apart: every such candidate is written, none is guessed).
    """
    bands = bands or Bands()
    query = prepare(left, dirty=True)
    registry = _keyed(prepare(right, dirty=True))
    trained, untrained = _train(query, registry, seed)
    settings = trained.settings if trained is not None else None
    scorer = functools.partial(model.score, settings) if settings is not None else None
    decisions = resolve(query, registry, bands, RULES, settings, scorer, profile=profile)
    return Linked(_pairs_table(_decided_pairs(decisions, bands)), untrained)


def dedupe_frame(
    frame: pa.Table, bands: Bands | None = None, *, seed: int = 42,
    profile: Profile = "generic",
) -> Linked:  # fmt: skip
    """Pairs of one frame above the reject band, each once: ``left_rid < right_rid``.

    Every record is decided against all the others, as a left record is in ``link_frames``
    (``engine.resolve_dedupe``). ``match``: the pairs at or above accept inside the group of
    records a record is linked to (so the clusters, connected components of these pairs, are
    those groups); ``review``: the candidates an unlinked record proposes, as in a link.
    """
    bands = bands or Bands()
    registry = _keyed(prepare(frame, dirty=True))
    trained, untrained = _train(registry, None, seed)
    scored: dict[str, pa.Table] = {}

    def scorer(subset: pa.Table, whole: pa.Table) -> pa.Table:
        # One dedupe_only scoring of the whole file, then the given records' rows of it.
        if "all" not in scored:
            assert trained is not None  # only offered with a model
            scored["all"] = model.score_dedupe(trained.settings, whole)
        pairs = scored["all"]
        return pairs.filter(pc.is_in(pairs.column("rid"), value_set=subset.column("rid")))

    settings = trained.settings if trained is not None else None
    decisions, matches = resolve_dedupe(registry, bands, RULES, settings,
                                        scorer if settings is not None else None,
                                        profile=profile)  # fmt: skip
    m = matches.to_pydict()
    best: dict[tuple[int, int], tuple[int, int, float, str, str]] = {
        (a, b): (a, b, score, "match", rule)
        for a, b, score, rule in zip(
            m["left_rid"], m["right_rid"], m["score"], m["rule"], strict=True
        )
    }
    for rid, cid, score, decision, rule in _decided_pairs(decisions, bands):
        key = (min(rid, cid), max(rid, cid))
        old = best.get(key)
        # match beats review; between two reviews the higher score, then the rule's name.
        if old is None or (decision == "match", score, rule) > (old[3] == "match", old[2], old[4]):
            best[key] = (*key, score, decision, rule)
    return Linked(_pairs_table(list(best.values())), untrained)
