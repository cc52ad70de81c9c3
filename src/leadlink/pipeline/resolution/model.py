"""`leadlink model train|show`: the probabilistic tier's trained model, kept in the store.

A model is trained on the records of the attaching sources (leads, scouting, migrations)
against the driver records, stored whole with its hash and what it was trained on, and the
newest one of the current format is what `match` applies. When none exists, `match` trains
one first, so a fresh database gets the probabilistic tier without an extra step, and every
later run applies the same stored model (reproducible) until someone trains again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, UsageError
from leadlink.matching import labels as reviewed
from leadlink.matching import model as probabilistic
from leadlink.matching import prepare, training
from leadlink.matching.compiled import levels_of, prior_weight
from leadlink.matching.engine import term_frequencies
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.settings import Settings
from leadlink.store import keys, match_models
from leadlink.store import review as review_store
from leadlink.store.db import transaction
from leadlink.store.resolution import records_of

ATTACHING = ("leads", "scouting", "migrations")
# Records of each source a model is trained on, at most (an even spread of ids): training on
# the whole of a 1 M-lead store took over 5.8 GB; u is sampled from pairs anyway.
TRAIN_PER_SOURCE = 100_000
ACCEPT_THRESHOLD: float = Settings.model_fields["accept_threshold"].default


@dataclass(frozen=True)
class StoredModel:
    id: int
    sha256: str
    settings: dict[str, Any]
    trained_on: dict[str, Any]
    created_at: dt.datetime

    def summary(self) -> dict[str, Any]:
        """``model show --json`` (and the dashboard's /model): per comparison, each level
        (highest first) with its stored m and u, and the match weight scoring gives it,
        log2(m / u) before term frequencies (``m_default``: EM estimated no m, Splink's
        default is used); the prior λ and its match weight log2(λ / (1 - λ))."""
        comparisons = []
        for comp in self.settings.get("comparisons", []):
            levels = [
                {"level": lvl.gamma, "label": lvl.spec.get("label_for_charts"),
                 "m": lvl.spec.get("m_probability"), "u": lvl.spec.get("u_probability"),
                 "weight": round(lvl.weight, 4), "m_default": lvl.m_default,
                 "tf_adjusted": bool(lvl.spec.get("tf_adjustment_column"))}
                for lvl in levels_of(comp)
            ]  # fmt: skip
            comparisons.append({"field": comp["output_column_name"], "levels": levels})
        prior = self.settings.get("probability_two_random_records_match")
        return {
            "model_id": self.id,
            "version": probabilistic.MODEL_VERSION,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat(sep=" "),
            "trained_on": self.trained_on,
            "prior": prior,
            "prior_weight": None if prior is None else round(prior_weight(self.settings), 4),
            "comparisons": comparisons,
            # How many reviews it learned from and how well it agrees with them (None: trained
            # before models learned from reviews).
            "labels": self.trained_on.get("labels"),
        }


class TooLittleData(UsageError):
    """Too few records to estimate a model from."""


def train(
    engine: Engine,
    *,
    now: dt.datetime,
    seed: int = 42,
    min_records: int = 1,
    accept: float = ACCEPT_THRESHOLD,
) -> StoredModel:
    """Train on the whole store and keep the result; raise TooLittleData if there is too little.

    The review items people decided are the model's labels (``labels``); ``accept`` is the
    accept threshold its agreement with them is measured at (the settings' in `match`)."""
    with transaction(engine) as session:
        rows = records_of(session, (*ATTACHING, "drivers"), per_source=TRAIN_PER_SOURCE)
        labelled = labels(session, accept)
    left = prepare(canonical_frame((s, rid, d, None) for rid, s, d in rows if s != "drivers"))
    right = prepare(canonical_frame((s, rid, d, None) for rid, s, d in rows if s == "drivers"))
    if min(left.num_rows, right.num_rows) < min_records:
        raise TooLittleData(
            f"too little to train on: {left.num_rows} lead/scouting/migration records and "
            f"{right.num_rows} drivers (need {min_records} of each)"
        )
    trained = training.train(left, right, seed=seed, labels=labelled)
    with transaction(engine) as session:
        model_id = match_models.save(
            session, version=probabilistic.MODEL_VERSION, sha256=trained.sha256,
            settings=trained.settings, trained_on=trained.trained_on, now=now,
        )  # fmt: skip
    return StoredModel(model_id, trained.sha256, trained.settings, trained.trained_on, now)


def labels(session: Session, accept: float) -> training.Labels:
    """The store's review decisions as training labels (matching/labels.py): each item with
    every record of its person, the records they name, and `match`'s term frequencies."""
    rows = review_store.label_rows(session)
    pairs = pa.table(
        [pa.array([r[i] for r in rows], t.type) for i, t in enumerate(reviewed.LABELS_SCHEMA)],
        schema=reviewed.LABELS_SCHEMA,
    )
    ids = {r[1] for r in rows} | {r[2] for r in rows if r[2] is not None}
    records = review_store.records_by_id(session, ids)
    frame = prepare(canonical_frame((s, rid, d, None) for rid, s, d in records))
    tf = term_frequencies(keys.term_counts(session)) if rows else None
    return training.Labels(pairs=pairs, records=frame, accept=accept, tf=tf)


def current(engine: Engine) -> StoredModel | None:
    with transaction(engine) as session:
        row = match_models.latest(session, probabilistic.MODEL_VERSION)
        if row is None:
            return None
        return StoredModel(row.id, row.sha256, row.settings, row.trained_on, row.created_at)


def show(engine: Engine, model_id: int | None = None) -> StoredModel:
    with transaction(engine) as session:
        row = (
            match_models.by_id(session, model_id)
            if model_id is not None
            else match_models.latest(session, probabilistic.MODEL_VERSION)
        )
        if row is None:
            raise NotFoundError(
                f"no model {model_id}" if model_id is not None
                else "no model trained yet: run `leadlink model train` (or `leadlink match`)"
            )  # fmt: skip
        return StoredModel(row.id, row.sha256, row.settings, row.trained_on, row.created_at)
