"""The probabilistic tier: training, scoring, the guard, compiled scoring, and decisions."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from leadlink.matching import RULES, Bands, prepare, resolve, training
from leadlink.matching import model as probabilistic
from leadlink.matching.compiled import BatchScorer, CompiledModel
from leadlink.matching.engine import model_guard, term_frequencies
from leadlink.matching.outcome import Guard, model_cap
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.synth import generate


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """1,500 generated leads against their drivers, a model trained once for the module."""
    out = tmp_path_factory.mktemp("model")
    generate(out, leads=1500, seed=11)

    def rows(source: str) -> list[dict[str, str]]:
        with (out / f"{source}.csv").open(encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    drivers, leads = rows("drivers"), rows("leads")
    truth = {}
    with (out / "truth.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            truth[(r["source"], r["source_pk"])] = r["entity_id"]
    # Registry: each driver is its own person, keyed by its entity (so truth is the key).
    reg = prepare(canonical_frame(
        ("drivers", i, d, truth[("drivers", d["driver_id"])]) for i, d in enumerate(drivers)
    ))  # fmt: skip
    query = prepare(canonical_frame(
        ("leads", 100_000 + i, d, None) for i, d in enumerate(leads)
    ))  # fmt: skip
    lead_truth = {100_000 + i: truth[("leads", d["lead_id"])] for i, d in enumerate(leads)}
    trained = training.train(query, reg, seed=42)
    return {"reg": reg, "query": query, "truth": lead_truth, "model": trained}


def test_the_prior_is_near_the_true_rate_of_matching_pairs(world: dict[str, Any]) -> None:
    """Counted on strong keys, not on name blocks (mostly namesakes: a prior 1,000x too high
    at 1 M leads made the model link namesakes with the same car)."""
    registry = set(world["reg"].column("person_key").to_pylist())
    true_pairs = sum(1 for entity in world["truth"].values() if entity in registry)
    rate = true_pairs / (world["query"].num_rows * world["reg"].num_rows)
    prior = world["model"].settings["probability_two_random_records_match"]
    assert rate / 3 < prior < rate * 3, (prior, rate)


def test_training_is_reproducible_and_keeps_versioned_json(world: dict[str, Any]) -> None:
    """Runs are reproducible because they apply the stored model; retraining on the same data
    with the same seed gives the same parameters up to floating-point summation order."""
    again = training.train(world["query"], world["reg"], seed=42)

    def params(settings: dict[str, Any]) -> list[float]:
        keys = ("m_probability", "u_probability")
        return [lv.get(k) or 0.0 for c in settings["comparisons"]
                for lv in c["comparison_levels"] for k in keys]  # fmt: skip

    a, b = params(again.settings), params(world["model"].settings)
    assert len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6
    assert world["model"].trained_on["version"] == probabilistic.MODEL_VERSION
    names = {c["output_column_name"] for c in world["model"].settings["comparisons"]}
    assert {"given", "family1", "family2", "phone", "plate", "brand_model", "date"} <= names
    json.dumps(world["model"].settings)  # storable as JSON


def test_common_surnames_weigh_less_than_rare_ones(world: dict[str, Any]) -> None:
    """Term-frequency adjustment: an exact QUISPE is worth less than an exact rare surname."""
    scored = probabilistic.score(world["model"].settings, world["query"], world["reg"])
    weights: dict[str, list[float]] = {}
    reg_family = dict(zip(world["reg"].column("rid").to_pylist(),
                          world["reg"].column("family").to_pylist(), strict=True))  # fmt: skip
    for row in scored.to_pylist():
        w = json.loads(row["waterfall"]).get("family1", {})
        fam = reg_family[row["cid"]]
        if w.get("level") == 3 and fam:
            weights.setdefault(fam[0], []).append(w["weight"])
    common = max(weights, key=lambda k: len(weights[k]))
    rare = min(weights, key=lambda k: len(weights[k]))
    assert max(weights[common]) < min(weights[rare])


def test_model_decisions_recover_leads_the_rules_leave_open(world: dict[str, Any]) -> None:
    rules_only = resolve(world["query"], world["reg"], Bands(), RULES).to_pylist()
    settings = world["model"].settings
    with_model = resolve(world["query"], world["reg"], Bands(), RULES, settings,
                         functools.partial(probabilistic.score, settings)).to_pylist()  # fmt: skip
    linked_rules = {d["rid"] for d in rules_only if d["decision"] == "link"}
    linked_model = {d["rid"]: d for d in with_model if d["decision"] == "link"}
    assert linked_rules <= set(linked_model)  # the model never undoes a rule's link
    recovered = [d for rid, d in linked_model.items() if rid not in linked_rules]
    assert recovered and all(d["rule"] == "model" for d in recovered)
    wrong = [d for d in linked_model.values() if d["person_key"] != world["truth"][d["rid"]]]
    assert len(wrong) / len(linked_model) < 0.01
    for d in recovered:
        evidence = json.loads(d["evidence"])
        assert evidence["waterfall"] and d["score"] >= Bands().accept
        assert d["confidence"] in ("high", "medium")


@pytest.mark.parametrize(
    ("waterfall", "may_link"),
    [
        ({"given": 3, "family1": 3, "phone": 3}, True),  # names and a strong key
        ({"given": 3, "family1": 3, "family2": 3, "brand_model": 1}, True),  # full name + car
        ({"given": 3, "family1": 3, "brand_model": 1}, False),  # one family name + car: homonym
        ({"given": 3, "family1": 3, "family2": 3}, False),  # a name alone
        ({"given": 0, "family1": 3, "family2": 3, "phone": 3}, False),  # relatives share a phone
        ({"given": -1, "family1": -1, "phone": 3}, False),  # names unknown
    ],
)
def test_guard(world: dict[str, Any], waterfall: dict[str, int], may_link: bool) -> None:
    import duckdb

    wf = json.dumps({k: {"level": v, "weight": 0.0} for k, v in waterfall.items()})
    guard = model_guard(world["model"].settings)
    sql = f"SELECT {guard} FROM (SELECT $wf::VARCHAR AS waterfall) m"  # noqa: S608
    assert duckdb.connect().execute(sql, {"wf": wf}).fetchone() == (may_link,)


def _registry_tf(world: dict[str, Any]) -> dict[str, pa.Table]:
    """Term frequency lookups counted over the registry, as `match` and the online path do."""
    import duckdb

    con = duckdb.connect()
    con.register("rf", probabilistic.model_frame(world["reg"]))
    sql = "SELECT {c}, count(*) FROM rf WHERE {c} IS NOT NULL GROUP BY 1"
    counts = {c: con.execute(sql.format(c=c)).fetchall() for c in probabilistic.TF_COLUMNS}
    return term_frequencies(counts)


def test_compiled_model_scores_like_splink(world: dict[str, Any]) -> None:
    """The online path's compiled model against Splink's predict, both weighing terms by the
    registry's frequencies: the same pairs and probabilities."""
    query = world["query"].slice(0, 200)
    splink = probabilistic.score(world["model"].settings, query, world["reg"], threshold=0.0,
                                 tf=_registry_tf(world))  # fmt: skip
    compiled = CompiledModel(world["model"].settings, world["reg"], threshold=0.0).score(
        query, world["reg"]
    )
    a = {(r["rid"], r["cid"]): r["probability"] for r in splink.to_pylist()}
    b = {(r["rid"], r["cid"]): r["probability"] for r in compiled.to_pylist()}
    assert set(a) == set(b) and a
    assert max(abs(a[k] - b[k]) for k in a) < 1e-9


def test_batch_scorer_scores_exactly_like_splink_given_the_same_frequencies(
    world: dict[str, Any],
) -> None:
    """`match` scores with the compiled model: same pairs, probabilities and waterfalls as
    Splink's predict when both weigh terms by the registry's frequencies."""
    tf = _registry_tf(world)
    settings = world["model"].settings
    splink = probabilistic.score(settings, world["query"], world["reg"], threshold=0.0, tf=tf)
    batch = BatchScorer(settings, tf, threshold=0.0)(world["query"], world["reg"])
    a = {(r["rid"], r["cid"]): r for r in splink.to_pylist()}
    b = {(r["rid"], r["cid"]): r for r in batch.to_pylist()}
    assert set(a) == set(b) and len(a) > 500
    assert max(abs(a[k]["probability"] - b[k]["probability"]) for k in a) < 1e-9
    assert all(json.loads(a[k]["waterfall"]) == json.loads(b[k]["waterfall"]) for k in a)
    # Without lookups it counts them in the registry it is given: here, the same numbers.
    own = BatchScorer(settings, None, threshold=0.0)(world["query"], world["reg"])
    assert {(r["rid"], r["cid"]): r["probability"] for r in own.to_pylist()} == {
        k: r["probability"] for k, r in b.items()
    }
    # At the default threshold, pairs under 0.05 are dropped, as Splink's are.
    kept = BatchScorer(settings, tf)(world["query"], world["reg"])
    assert {(r["rid"], r["cid"]) for r in kept.to_pylist()} == {
        k for k, r in a.items() if r["probability"] >= probabilistic.SCORE_THRESHOLD
    }


def test_bands_and_reasons_with_the_model(world: dict[str, Any]) -> None:
    """Every band and reason the decision function gives, on model-scored data."""
    settings = world["model"].settings
    decided = resolve(world["query"], world["reg"], Bands(), RULES, settings,
                      functools.partial(probabilistic.score, settings)).to_pylist()  # fmt: skip
    bands = {d["band"] for d in decided}
    reasons = {d["reason"] for d in decided}
    assert {"accept", "review", "reject"} <= bands
    assert {None, "NO_CANDIDATES", "WEAK_MATCH_ONLY", "MISSING_IDENTIFIERS"} <= reasons
    for d in decided:
        if d["band"] == "review":
            assert Bands().review <= d["score"] < Bands().accept or d["reason"] == (
                "MULTIPLE_CANDIDATES"
            )
        if d["reason"] == "MULTIPLE_CANDIDATES":
            cands = json.loads(d["candidates"])
            assert cands[0]["score"] - cands[1]["score"] < Bands().margin


def test_model_frame_has_every_field(world: dict[str, Any]) -> None:
    frame = probabilistic.model_frame(world["query"].slice(0, 5))
    assert set(probabilistic.FIELDS) <= set(frame.column_names)
    assert isinstance(frame, pa.Table)


def test_too_few_fields_is_refused() -> None:
    empty = prepare(canonical_frame([("leads", 1, {"lead_id": "L1"}, None)]))
    with pytest.raises(ValueError, match="nothing to compare"):
        training.train(empty, empty)


_ = Path


def test_single_record_path_decides_like_the_batch_engine(world: dict[str, Any]) -> None:
    """The online path's Python decision equals engine.resolve, record by record."""
    from leadlink.matching.index import BlockIndex
    from leadlink.matching.single import resolve_one

    settings = world["model"].settings
    compiled = CompiledModel(settings, world["reg"])
    index = BlockIndex(world["reg"])
    query = world["query"].slice(0, 400)
    batch = resolve(query, world["reg"], Bands(), RULES, settings,
                    lambda q, r: compiled.score(q, r)).to_pylist()  # fmt: skip
    keys = ("decision", "person_key", "cid", "rule", "reason", "band", "confidence")
    differ = []
    for i, expected in enumerate(batch):
        one = query.slice(i, 1)
        candidates, frame = index.candidates(one)
        got = resolve_one(one, candidates, Bands(), RULES, settings,
                          lambda q, r, f=frame: compiled.score(q, r, f))  # fmt: skip
        same = all(got[k] == expected[k] for k in keys) and (
            got["score"] is None
            and expected["score"] is None
            or abs(got["score"] - expected["score"]) < 1e-9
        )
        same = same and json.loads(got["candidates"]) == json.loads(expected["candidates"])
        # The evidence too: a pair only the model found has its features on both paths.
        same = same and json.loads(got["evidence"]) == json.loads(expected["evidence"])
        if not same:
            differ.append((expected, got))
    assert not differ, [{k: (e[k], g[k]) for k in e if e[k] != g[k]} for e, g in differ[:2]]
    assert {d["rule"] for d in batch} >= {"phone_exact", "model"}


@pytest.mark.parametrize("seed", range(30))
def test_guard_sql_and_python_agree(world: dict[str, Any], seed: int) -> None:
    import random

    import duckdb

    rng = random.Random(seed)
    names = [c["output_column_name"] for c in world["model"].settings["comparisons"]]
    waterfall = {n: {"level": rng.choice([-1, 0, 1, 2, 3]), "weight": 0.0} for n in names}
    guard = Guard.of(world["model"].settings)
    sql = f"SELECT {guard.sql()} FROM (SELECT $wf::VARCHAR AS waterfall) m"  # noqa: S608
    (got,) = duckdb.connect().execute(sql, {"wf": json.dumps(waterfall)}).fetchone() or (None,)
    assert got == guard.holds(waterfall)


@pytest.mark.parametrize(
    ("accept", "review"), [(0.75, 0.5), (0.75, 0.745), (0.75, 0.75), (0.9, 0.2), (0.5, 0.0)]
)
def test_a_guarded_pair_never_reaches_the_accept_band(accept: float, review: float) -> None:
    cap = model_cap(Bands(accept=accept, review=review))
    assert cap < accept
    assert cap >= min(review, accept - 1e-9)


def test_a_model_without_its_scorer_is_refused(world: dict[str, Any]) -> None:
    """The engine never imports Splink: a model comes with the scorer that applies it."""
    with pytest.raises(ValueError, match="scorer"):
        resolve(world["query"].slice(0, 1), world["reg"], Bands(), RULES,
                world["model"].settings)  # fmt: skip
