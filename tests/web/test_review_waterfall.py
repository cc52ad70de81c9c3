"""The review page's waterfall explains the score: the model's prior, each comparison's match
weight, their total and the probability it means; a proposal the guard held back says that its
score is the cap. On a generated store with a trained model (the model proposals are real)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.api_world import rows
from tests.web.conftest import TokenMaker
from tests.web.dashboard import element, login, page

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.synth import generate
from leadlink.web.pages.review import explanation

NUMBER = re.compile(r"[+-]?\d+\.\d+")


@pytest.mark.parametrize(
    ("weights", "prior", "score", "total", "probability", "capped"),
    [
        ({"a": 6.0, "b": -1.0}, 0.5, 0.9697, 5.0, 0.9697, False),  # 1 / (1 + 2^-5)
        ({"a": 6.0, "b": -1.0}, 0.5, 0.74, 5.0, 0.9697, True),  # held back at the cap
        ({"a": math.log2(9)}, 0.1, 0.5, 0.0, 0.5, False),  # the weight cancels the prior
    ],
)
def test_the_waterfall_adds_up(
    weights: dict[str, float], prior: float, score: float, total: float, probability: float,
    capped: bool,
) -> None:  # fmt: skip
    evidence = {"score": score, "waterfall": {k: {"level": 1, "weight": w}
                                              for k, w in weights.items()}}  # fmt: skip
    got = explanation(evidence, prior)["sum"]
    assert got["total"] == round(total, 2) and got["probability"] == pytest.approx(probability,
                                                                                   abs=1e-4)
    assert got["prior"] == round(math.log2(prior / (1 - prior)), 2)
    assert got["capped"] is capped and got["score"] == score
    assert "sum" not in explanation(evidence)  # no model known: no waterfall sum


def test_every_model_proposal_on_the_page_sums_to_its_score(
    client: TestClient, engine: Engine, make_token: TokenMaker, tmp_path: Path,
    web_settings: Settings,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    generate(data, leads=600, seed=5)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)
    match(engine, web_settings.model_copy(update={"model_min_records": 300}), now=NOW)
    proposals = rows(engine, "SELECT count(*) FROM review_item WHERE status = 'open' "
                             "AND rule = 'model'")[0][0]  # fmt: skip
    assert proposals > 0, "the generated store has model proposals to explain"
    login(client, make_token("viewer", "vera"))
    html = page(client, "/review", params={"limit": 500})
    tables = re.findall(r'<table class="waterfall compact" data-testid="waterfall">.*?</table>',
                        html, flags=re.S)  # fmt: skip
    summed = [t for t in tables if 'data-testid="waterfall-total"' in t]
    assert len(summed) >= proposals
    for table in summed:
        prior = float(NUMBER.findall(element(table, "waterfall-prior"))[-1])
        after_prior = table.split('data-testid="waterfall-prior"', 1)[1].split("</tr>", 1)[1]
        body = after_prior.split("<tfoot>")[0]  # the comparisons' rows
        weights = [float(w) for w in re.findall(r'<span class="num">([+-]\d+\.\d+)</span>', body)]
        total = float(NUMBER.findall(element(table, "waterfall-total"))[-1])
        assert total == pytest.approx(prior + sum(weights), abs=0.01 * (len(weights) + 1))
        shown = float(NUMBER.findall(element(table, "waterfall-probability"))[-1])
        assert shown == pytest.approx(1 / (1 + 2 ** -total), abs=0.01)
