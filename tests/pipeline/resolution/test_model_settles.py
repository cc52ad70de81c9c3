"""After a retrain, `match --rematch` lets the model settle the open review items it now
decides: accepted (and linked) where it links the pair, rejected where the pair falls under
the review band; decided by "model:<id>", audited, never labels, undone by a person.

The retrains are the model trained on the store with its prior moved (a stored model is data:
the newest one is the one `match` applies): a prior of one half makes the model link what its
guard lets it link, a prior near zero makes every model pair fall away. Which way a pair goes
is then certain, whatever EM estimated on a store this small.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.review_factories import SETTINGS, item_id, review_world, rows

from leadlink.errors import UsageError
from leadlink.matching import training
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.pipeline.resolution import model as model_service
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store import match_models
from leadlink.store.db import transaction

WITH_MODEL = Settings(db="sqlite://", probabilistic=True)
MARCO = {"first_name": "Marco Antonio", "last_name": "Flores Vilca"}


def retrained(
    engine: Engine, base: model_service.StoredModel, prior: float, at: dt.datetime
) -> int:
    """Store ``base`` with another prior as the newest model; its id."""
    settings = {**base.settings, "probability_two_random_records_match": prior}
    with transaction(engine) as session:
        return match_models.save(
            session, version=model_service.probabilistic.MODEL_VERSION,
            sha256=training.model_hash(settings), settings=settings,
            trained_on={**base.trained_on, "prior_set_by_test": prior}, now=at,
        )  # fmt: skip


def state(engine: Engine, lead_id: str) -> list[tuple[Any, ...]]:
    """(status, decided_by, rule) of the lead's review items."""
    return [tuple(r) for r in rows(
        engine,
        "SELECT ri.status, ri.decided_by, ri.rule FROM review_item ri JOIN source_record sr "
        "ON sr.id = ri.record_id WHERE sr.source_pk = :lead ORDER BY ri.id", lead=lead_id,
    )]  # fmt: skip


def audited(engine: Engine, item: int) -> list[tuple[str, str]]:
    return [tuple(r) for r in rows(engine, "SELECT actor, action FROM audit_log WHERE target = "
                                   ":t ORDER BY id", t=f"review_item:{item}")]  # fmt: skip


def active_rule(engine: Engine, lead_id: str) -> list[str]:
    return [r[0] for r in rows(engine, "SELECT l.rule FROM link l JOIN source_record sr ON "
                               "sr.id = l.record_id WHERE sr.source_pk = :lead AND l.active",
                               lead=lead_id)]  # fmt: skip


def test_rematch_after_a_retrain_settles_what_the_model_decides(
    engine: Engine, tmp_path: Path
) -> None:
    review_world(engine, tmp_path)
    # Marco's lead has his full name but another car and nothing else: no rule proposes it.
    load(engine, tmp_path, "drivers", [driver("D5", **MARCO, car_brand="Kia", car_model="Picanto")])
    load(engine, tmp_path, "leads", [lead("L4", **MARCO, car_brand="Chevrolet", car_model="Sail")])
    match(engine, SETTINGS, now=NOW)
    assert state(engine, "L1") == [("open", None, "brand_model_name")]
    assert state(engine, "L4") == []
    base = model_service.train(engine, now=NOW)

    # Retrain 1: the model now links Luis's and Rosa's pairs (names and car agree: its guard
    # holds); the two Juans stay apart; Marco's pair (names only) is capped into review.
    first_at = NOW + dt.timedelta(hours=1)
    first = retrained(engine, base, 0.5, first_at)
    match(engine, WITH_MODEL, now=first_at, rematch=True)
    by = f"model:{first}"
    assert state(engine, "L1") == [("accepted", by, "brand_model_name")]
    assert state(engine, "L2") == [("accepted", by, "brand_model_name")]
    assert active_rule(engine, "L1") == ["model"]
    assert [s for s, _, _ in state(engine, "L3")] == ["open", "open"]
    assert state(engine, "L4") == [("open", None, "model")]
    luis = item_id(engine, "L1", "D1")
    assert audited(engine, luis) == [(by, "review_accept")]

    # Retrain 2: the model gives nothing any weight; Marco's pair falls under the review band.
    second_at = first_at + dt.timedelta(hours=1)
    second = retrained(engine, base, 1e-9, second_at)
    match(engine, WITH_MODEL, now=second_at, rematch=True)
    marco = item_id(engine, "L4", "D5")
    assert state(engine, "L4") == [("rejected", f"model:{second}", "model")]
    assert audited(engine, marco) == [(f"model:{second}", "review_reject")]
    # The Juans are still the rules' review pairs: a model does not settle those.
    assert [s for s, _, _ in state(engine, "L3")] == ["open", "open"]
    assert all(r.ok for r in run_checks(engine, WITH_MODEL, ["review", "links"]))

    # The model's decisions are not labels: a model trained now learned from none of them.
    assert model_service.train(engine, now=second_at).summary()["labels"]["accepted"] == 0

    # A person undoes both: Luis's pair was wrong after all, Marco's was right.
    undo_at = second_at + dt.timedelta(hours=1)
    done = review.reject(engine, SETTINGS, luis, actor="ana", note="otro Luis", now=undo_at)
    assert done["item"]["status"] == "rejected" and done["item"]["decided_by"] == "ana"
    assert active_rule(engine, "L1") == []
    unmatched = rows(engine, "SELECT u.reason, u.band FROM unmatched u JOIN source_record sr ON "
                             "sr.id = u.record_id WHERE sr.source_pk = 'L1'")  # fmt: skip
    assert [tuple(r) for r in unmatched] == [("WEAK_MATCH_ONLY", "review")]
    assert audited(engine, luis) == [(by, "review_accept"), ("ana", "review_reject")]
    review.accept(engine, SETTINGS, marco, actor="ana", now=undo_at)
    assert state(engine, "L4") == [("accepted", "ana", "model")]
    assert active_rule(engine, "L4") == ["review_accept"]
    # A person's decisions are labels again; and a person's decision cannot be undone so.
    labels = model_service.train(engine, now=undo_at).summary()["labels"]
    assert (labels["accepted"], labels["rejected"]) == (1, 1)
    with pytest.raises(UsageError):
        review.reject(engine, SETTINGS, marco, actor="ana", now=undo_at)
    with pytest.raises(UsageError):  # "model:..." is the models' name, not a person's
        review.reject(engine, SETTINGS, item_id(engine, "L3", "D3"), actor="model:1", now=undo_at)
    results = run_checks(engine, WITH_MODEL, list(CHECKS))
    assert all(r.ok for r in results), [(r.name, r.examples) for r in results if not r.ok]
