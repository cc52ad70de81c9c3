"""Reviews teach the model: the review items people decided are `model train`'s labels.

A generated store gives EM its data; six drivers of our own have a lead each with the same
name, phone and car but another plate, proposed for review. Accepted, those pairs say "a
true pair can disagree on the plate": the retrained model's m of an exact plate goes down and
its m of "plates differ" goes up, while training on the same data without the labels gives
the model it gave before. A rejected pair is counted and checked, never learned from.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.review_factories import SETTINGS, rows

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution import model as model_service
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.resolve import match
from leadlink.store import review as review_store
from leadlink.store.db import transaction
from leadlink.synth import generate

NAMES = [
    ("Teodoro", "Quispe Huaman"), ("Maribel", "Ccahuana Rojas"), ("Eusebio", "Paucar Limache"),
    ("Yolanda", "Chambi Ticona"), ("Wilfredo", "Apaza Mamani"), ("Nilda", "Huarcaya Poma"),
]  # fmt: skip


def ours(i: int) -> dict[str, str]:
    given, family = NAMES[i]
    return {"first_name": given, "last_name": family, "phone": f"98765{i:04d}",
            "car_brand": "Nissan", "car_model": "Versa"}  # fmt: skip


def labelled_world(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """The generated store, matched; our leads ingested after, each proposed for review with
    its driver's person (``"X<i>"`` -> item id), and one wrong pair (``"wrong"``)."""
    where = tmp_path / "data"
    generate(where, leads=300, seed=5)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(engine, source, where / f"{source}.csv", now=NOW)
    load(engine, tmp_path, "drivers", [driver(f"DX{i}", **ours(i), plate=f"AAA{i:03d}",
                                              document=f"4{i:07d}") for i in range(6)])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    load(engine, tmp_path, "leads", [lead(f"LX{i}", **ours(i), plate=f"ZZZ{i:03d}")
                                     for i in range(6)])  # fmt: skip
    persons = dict(
        rows(
            engine,
            "SELECT sr.source_pk, l.person_key FROM link l JOIN source_record sr "
            "ON sr.id = l.record_id WHERE l.active AND sr.source_pk LIKE 'DX%'",
        )
    )
    leads = dict(rows(engine, "SELECT source_pk, id FROM source_record WHERE source = 'leads' "
                              "AND source_pk LIKE 'LX%'"))  # fmt: skip
    pairs = [(f"X{i}", leads[f"LX{i}"], persons[f"DX{i}"]) for i in range(5)]
    pairs.append(("wrong", leads["LX5"], persons["DX0"]))
    with transaction(engine) as session:
        review_store.propose(session, [
            {"record_id": rid, "person_key": key, "rule": "model", "score": 0.6, "evidence": {},
             "deadline": None} for _, rid, key in pairs
        ], run_id=None, now=NOW)  # fmt: skip
    ids = dict(rows(engine, "SELECT record_id, id FROM review_item"))
    return {name: ids[rid] for name, rid, _ in pairs}


def level(model: dict[str, Any], field: str, label_starts: str) -> dict[str, Any]:
    comp = next(c for c in model["comparisons"] if c["field"] == field)
    return next(lvl for lvl in comp["levels"] if (lvl["label"] or "").startswith(label_starts))


def test_accepted_pairs_that_disagree_on_the_plate_lower_its_exact_m(
    engine: Engine, tmp_path: Path
) -> None:
    item = labelled_world(engine, tmp_path)
    before = model_service.train(engine, now=NOW).summary()
    # Open items are not labels.
    assert before["labels"]["accepted"] == before["labels"]["rejected"] == 0
    assert before["labels"]["agreement"] is None
    later = NOW + dt.timedelta(minutes=5)
    for i in range(5):
        review.accept(engine, SETTINGS, item[f"X{i}"], actor="ana", now=later)
    review.reject(engine, SETTINGS, item["wrong"], actor="ana", now=later)

    after = model_service.train(engine, now=later).summary()
    exact, other = level(before, "plate", "Exact"), level(before, "plate", "All other")
    exact2, other2 = level(after, "plate", "Exact"), level(after, "plate", "All other")
    # Five true pairs, plates differing: exact agreement is less of a sign of a match.
    assert exact2["m"] < exact["m"]
    assert other2["m"] > other["m"]
    assert exact2["weight"] < exact["weight"]
    # The m of a comparison is the Dirichlet posterior with EM's m as prior (matching/labels.py).
    k = after["labels"]["prior_pairs"]
    assert exact2["m"] == pytest.approx(k * exact["m"] / (k + 5))
    assert other2["m"] == pytest.approx((k * other["m"] + 5) / (k + 5))
    # u is left as sampled: rejected pairs are not a random sample of non-matches.
    assert exact2["u"] == exact["u"]
    labels = after["labels"]
    assert (labels["accepted"], labels["rejected"]) == (5, 1)
    assert (labels["learned_from"], labels["compared"]) == (5, 6)
    assert labels["agreed"] == labels["accepted_agreed"] + labels["rejected_agreed"]
    assert labels["agreement"] == pytest.approx(labels["agreed"] / 6, abs=1e-4)
    # Same name, phone and car: the model links them; the wrong pair shares nothing strong.
    assert (labels["accepted_agreed"], labels["rejected_agreed"]) == (5, 1)

    # Training again on the same store gives the same model, labels included. Not byte for
    # byte: DuckDB's parallel sums in Splink's EM may differ in the last bits between runs
    # (a CI run saw another hash), so each m and u is compared to 1e-9.
    again = model_service.train(engine, now=later, accept=0.75).summary()
    assert again["labels"] == after["labels"]
    for comp, comp2 in zip(after["comparisons"], again["comparisons"], strict=True):
        for lvl, lvl2 in zip(comp["levels"], comp2["levels"], strict=True):
            assert lvl2["label"] == lvl["label"]
            for key in ("m", "u"):
                if lvl[key] is None:
                    assert lvl2[key] is None
                else:
                    assert lvl2[key] == pytest.approx(lvl[key], rel=1e-9), (comp["field"], key)
