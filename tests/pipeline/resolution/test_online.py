"""The online path: one lead decided against the registry, like the batch, without writing."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution.online import OnlineMatcher
from leadlink.pipeline.resolution.resolve import Resolver, match
from leadlink.settings import Settings
from leadlink.synth import generate

NOW = dt.datetime(2026, 11, 23, 12, 0)
HELD_OUT = 120
# A small store still trains a model (the default minimum is for real data sets).
SETTINGS = Settings(model_min_records=300)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> tuple[Engine, list[dict[str, str]], dict[str, str]]:
    """A matched store (model trained) and leads it has never seen."""
    data = tmp_path / "data"
    generate(data, leads=600, seed=5)
    leads = _rows(data / "leads.csv")
    kept = tmp_path / "kept_leads.csv"
    with kept.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(leads[0]))
        writer.writeheader()
        writer.writerows(leads[:-HELD_OUT])
    for source in ("drivers", "migrations", "scouting"):
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)
    ingest_file(engine, "leads", kept, now=NOW)
    result = match(engine, SETTINGS, now=NOW)
    assert result.model and "id" in result.model
    truth = {r["source_pk"]: r["entity_id"] for r in _rows(data / "truth.csv")}
    return engine, leads[-HELD_OUT:], truth


def _entity_of_person(engine: Engine, truth: dict[str, str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT l.person_key, s.source_pk FROM link l JOIN source_record s "
            "ON s.id = l.record_id WHERE l.active AND s.source = 'drivers'"
        )).all()  # fmt: skip
    return {key: truth[pk] for key, pk in rows}


def _counts(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608 - constant
            for t in ("link", "unmatched", "origin", "person", "review_item", "job_run")
        )


def test_online_decisions_agree_with_the_batch_and_write_nothing(
    registry: tuple[Engine, list[dict[str, str]], dict[str, str]],
) -> None:
    engine, held, truth = registry
    before = _counts(engine)
    matcher = OnlineMatcher(engine, SETTINGS)
    assert matcher.model_id is not None
    online = [matcher.decide(lead) for lead in held]
    assert _counts(engine) == before  # deciding writes nothing
    # Each lead read only the linked records sharing a key with it, never the registry.
    with engine.connect() as conn:
        registry = conn.execute(text("SELECT count(*) FROM link WHERE active")).scalar() or 0
    assert 0 < matcher.candidates_read < 0.1 * registry * len(held)

    # The batch path on the same leads (as records with ids, decided not written).
    resolver = Resolver(engine, SETTINGS, now=NOW)
    rows = [(-(i + 2), lead["lead_id"], lead) for i, lead in enumerate(held)]
    batch = {d["rid"]: d for d in resolver.decide("leads", rows)}
    same = sum(
        (o["decision"], o["person_key"] if o["decision"] == "link" else None)
        == (b["decision"], b["person_key"] if b["decision"] == "link" else None)
        for o, b in zip(online, (batch[r[0]] for r in rows), strict=True)
    )
    assert same >= 0.97 * len(held), same

    entity = _entity_of_person(engine, truth)
    linked = [o for o in online if o["decision"] == "link"]
    assert linked, "some held-out leads have a driver"
    wrong = [o for o in linked if entity.get(o["person_key"]) != truth[o["lead_id"]]]
    assert len(wrong) <= max(1, len(linked) // 100), wrong
    for o in online:
        assert set(o) >= {"lead_id", "person_key", "decision", "rule", "score", "reason"}
        assert (o["reason"] is None) == (o["decision"] == "link")

    # With the tier off, the rules alone decide.
    matcher = OnlineMatcher(engine, Settings(probabilistic=False))
    assert matcher.model_id is None and matcher.compiled is None
    decided = [matcher.decide(lead) for lead in held[:20]]
    assert all(d["rule"] != "model" for d in decided)
