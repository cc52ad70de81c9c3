"""Training the probabilistic tier: u by random sampling, m by EM, with Splink on DuckDB.

``train(left, right, seed=...)`` takes two prepared frames and returns a ``TrainedModel`` whose
``settings`` is Splink's own JSON (see matching/model.py for the comparisons it is built from
and for scoring with it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI
from splink.internals.exceptions import EMTrainingException

from leadlink.matching import labels as reviewed
from leadlink.matching.model import blocks_for, comparisons_for, present_fields, quiet
from leadlink.matching.model_frame import MODEL_VERSION, model_frame


class CannotTrain(ValueError):
    """This data cannot train a model; the message says why in a user's words. `link` and
    `dedupe` then let the rules alone decide (and say so); `model train` fails with it."""


@dataclass(frozen=True)
class Labels:
    """Reviewed pairs to learn from (matching/labels.py): ``pairs`` in LABELS_SCHEMA, the
    ``records`` (prepared) they name, the term frequencies `match` scores with, and the accept
    threshold the agreement is measured at."""

    pairs: pa.Table
    records: pa.Table
    accept: float
    tf: dict[str, pa.Table] | None = None


@dataclass(frozen=True)
class TrainedModel:
    settings: dict[str, Any]
    trained_on: dict[str, Any]

    @property
    def sha256(self) -> str:
        return model_hash(self.settings)


def model_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


# The prior (the chance two random records match) is estimated from the pairs agreeing exactly
# on a strong key, with recall 0.7. Name blocks do not count: they are mostly namesakes, and
# counting them (as the first five blocks once did, a name block among them) put the prior at
# 0.0018 where the true rate at 1 M leads x 500 k drivers is ~1.4e-6, and the model then linked
# namesakes with the same car: 23,600 wrong links at that size (benchmarks/RESULTS.md). Only
# data without any strong key falls back to the first five blocks, names included.
STRONG_PRIOR_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("phone",), ("phone7",), ("doc",), ("plate",), ("email",),
)  # fmt: skip
FALLBACK_PRIOR_BLOCKS: tuple[tuple[str, ...], ...] = (
    *STRONG_PRIOR_BLOCKS, ("family1", "given"), ("family1", "family2"), ("given", "family2"),
    ("birth_date", "family1"), ("birth_date", "given"), ("postcode", "family1"),
)  # fmt: skip


def prior_blocks(present: set[str]) -> list[tuple[str, ...]]:
    return _strong_blocks(present) or _fallback_blocks(present)


def _strong_blocks(present: set[str]) -> list[tuple[str, ...]]:
    return [c for c in STRONG_PRIOR_BLOCKS if set(c) <= _blockable(present)]


def _fallback_blocks(present: set[str]) -> list[tuple[str, ...]]:
    return [c for c in FALLBACK_PRIOR_BLOCKS if set(c) <= _blockable(present)][:5]


def _blockable(present: set[str]) -> set[str]:
    """The fields a prior block may use: those present, and a phone's last 7 digits."""
    return present | ({"phone7"} if "phone" in present else set())


def _names(blocks: list[tuple[str, ...]]) -> str:
    return ", ".join("+".join(c) for c in blocks)


def _estimate_prior(linker: Any, present: set[str]) -> None:
    """The prior from exact agreement on a strong key (STRONG_PRIOR_BLOCKS), recall 0.7.

    A file whose strong keys never agree (a small file, or keys nobody shares) gives a prior
    of 0, with which no pair can ever match: the name blocks are tried next, and CannotTrain
    if no block finds a pair. A file where (almost) every pair agrees on a key has no
    non-matching pairs to learn from: Splink refuses it (observed > possible x recall)."""
    tried: list[tuple[str, ...]] = []
    for blocks in (_strong_blocks(present), _fallback_blocks(present)):
        blocks = [c for c in blocks if c not in tried]
        if not blocks:
            continue
        tried += blocks
        try:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*c) for c in blocks], recall=0.7
            )
        except ValueError as exc:
            if "more observed matches" not in str(exc):
                raise
            raise CannotTrain(
                f"nearly every pair of records agrees exactly on {_names(blocks)}: "
                "no pair that is two persons to learn from"
            ) from None
        settings = linker._settings_obj  # Splink has no public handle on the prior
        if settings.core_model_settings.probability_two_random_records_match > 0:
            return
    raise CannotTrain(
        f"no two records agree exactly on any of {_names(tried)}: "
        "the chance that two records are one person cannot be estimated"
    )


def train(
    left: pa.Table,
    right: pa.Table | None,
    *,
    seed: int = 42,
    max_pairs: float = 1e6,
    labels: Labels | None = None,
) -> TrainedModel:
    """Train on two prepared frames: u by random sampling, m by EM on a few blocking rules,
    then m updated by the accepted ``labels`` (matching/labels.py), whose counts and
    agreement with the trained model go into ``trained_on["labels"]``.

    ``right=None``: one frame against itself (`leadlink dedupe`), as Splink's ``dedupe_only``:
    each pair once and never a record with itself, which would count as a perfect match in
    every EM block and inflate every agreement's m.
    """
    lf = model_frame(left)
    rf = model_frame(right) if right is not None else None
    possible = lf.num_rows * (rf.num_rows if rf is not None else (lf.num_rows - 1) / 2)
    if possible < 1:
        raise CannotTrain("fewer than two records: no pair to compare")
    present = present_fields(lf, rf) if rf is not None else present_fields(lf)
    comparisons = comparisons_for(present)
    if not comparisons:
        raise CannotTrain("no field has a value on both sides: nothing to compare")
    settings = SettingsCreator(
        link_type="link_only" if rf is not None else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocks_for(present),
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )
    with quiet():
        db_api = DuckDBAPI(connection=duckdb.connect(":memory:"))
        inputs = [db_api.register(lf, table_name="q_left")]
        if rf is not None:
            inputs.append(db_api.register(rf, table_name="r_right"))
        linker = Linker(
            inputs,
            settings,
            log_level=None,  # keep Splink from re-enabling its own INFO logging
        )
        # Exact agreement on a strong key is what most true pairs show; recall < 1 admits
        # the others exist (see STRONG_PRIOR_BLOCKS).
        _estimate_prior(linker, present)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        _em_sessions(linker, present)
        model = linker.misc.save_model_to_json()
    # A random id of the Linker object, not of the model: same data, same model, same hash.
    model.pop("linker_uid", None)
    trained_on = {
        "left": left.num_rows, "right": right.num_rows if right is not None else None,
        "seed": seed, "max_pairs": max_pairs,
        "fields": sorted(present), "version": MODEL_VERSION,
    }  # fmt: skip
    if labels is not None:
        em = reviewed.best_pairs(model, labels.records, labels.pairs, tf=labels.tf)
        model = reviewed.learn_m(model, em)
        final = reviewed.best_pairs(model, labels.records, labels.pairs, tf=labels.tf)
        trained_on["labels"] = reviewed.agreement(model, labels.pairs, final,
                                                  accept=labels.accept)  # fmt: skip
    return TrainedModel(settings=model, trained_on=trained_on)


# Splink refuses an m probability under this (float64 would round it to 0).
_UNDERFLOW = "below the minimum allowed"


def em_session(linker: Any, rule: Any) -> int:
    """One EM session on ``rule`` (u fixed); return the iterations it was allowed.

    EM can drive the m of a level no true pair shows towards 0 geometrically (at 1 M leads a
    plate one edit apart: ~1e-12 per iteration, 2.8e-313 by iteration 25), and Splink raises
    rather than store a value float64 cannot hold. The session is retried with half the
    iterations until it stops short of the underflow. A failed session leaves the linker's
    model half-prepared for that session (Splink drops the blocked comparison and raises the
    prior on the object it was given), so the model is put back as it was before each attempt,
    and so is the stored ``max_iterations``. Data that never underflows trains as before.
    """
    settings = linker._settings_obj  # Splink has no public handle on these two
    full, model = settings.training_settings, settings.core_model_settings.copy()
    try:
        while True:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, fix_u_probabilities=True
                )
                return int(settings.training_settings.max_iterations)
            except ValueError as exc:
                allowed = settings.training_settings.max_iterations
                if _UNDERFLOW not in str(exc) or allowed <= 1:
                    settings.core_model_settings = model
                    raise
                settings.core_model_settings = model.copy()
                settings.training_settings = dataclasses.replace(
                    full, max_iterations=allowed // 2
                )
    finally:
        settings.training_settings = full


EM_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("phone",), ("doc",), ("family1", "given"), ("birth_date",), ("email",),
)  # fmt: skip


def _em_sessions(linker: Any, present: set[str]) -> None:
    """Two sessions, so every comparison is estimated in at least one of them: on the first
    two of EM_BLOCKS the data has that block at least one pair (a small file may share no
    phone at all; Splink refuses a session without pairs). CannotTrain if none has any."""
    blocks = [c for c in EM_BLOCKS if set(c) <= present]
    ran = 0
    for c in blocks:
        before = linker._settings_obj.core_model_settings.copy()
        try:
            em_session(linker, block_on(*c))
        except EMTrainingException:
            linker._settings_obj.core_model_settings = before  # as if never tried
            continue
        ran += 1
        if ran == 2:
            return
    if blocks and not ran:  # data without any EM block trains on u and the prior, as ever
        raise CannotTrain(
            f"no two records agree exactly on any of {_names(blocks)}: "
            "the model's m probabilities cannot be estimated"
        )
