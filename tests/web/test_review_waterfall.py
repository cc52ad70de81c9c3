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


# The waterfall's date levels (matching/model.py): the largest |days| each allows.
DATE_WINDOW = {4: 0, 3: 7, 2: 30, 1: 120}
NAMES = ("Given name", "First surname", "Second surname")


def _rows(table: str, cells: str) -> dict[str, str]:
    """Row header -> the text of the cell after it, for a table's body rows."""
    found = re.findall(rf'<th scope="row">([^<]+)</th>\s*<td[^>]*>({cells})</td>', table,
                       flags=re.S)  # fmt: skip
    return {label.strip(): " ".join(re.sub(r"<[^>]+>", " ", value).split())
            for label, value in found}  # fmt: skip


def test_no_shown_evidence_contradicts_its_match_weight(
    client: TestClient, engine: Engine, make_token: TokenMaker, tmp_path: Path,
    web_settings: Settings,
) -> None:  # fmt: skip
    """Every model proposal's evidence beside its waterfall: names exact on every part means a
    name similarity of 1.00; a date level means the days it allows; an exact phone, plate or
    car means the field reads "yes". Pairs only the model found once read 0.00 and "—"."""
    data = tmp_path / "data"
    generate(data, leads=600, seed=5)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)
    match(engine, web_settings.model_copy(update={"model_min_records": 300}), now=NOW)
    login(client, make_token("viewer", "vera"))
    html = page(client, "/review", params={"limit": 500, "lang": "en"})
    section = r'<section class="candidate[^"]*" data-testid="review-item-\d+">.*?</section>'
    cards = re.findall(section, html, flags=re.S)
    checked = exact_names = dated = 0
    for card in cards:
        if 'data-testid="waterfall"' not in card or 'class="evidence compact"' not in card:
            continue
        evidence = card.split('class="evidence compact"', 1)[1].split("</table>")[0]
        fields = _rows(evidence, ".*?")
        levels = {k: int(v) for k, v in _rows(element(card, "waterfall"), r"-?\d+").items()}
        checked += 1
        if all(levels.get(n) == 3 for n in NAMES):
            exact_names += 1
            assert float(fields["Name similarity"]) == 1.0, (fields, levels)
        date = levels.get("Record date")
        if date is not None and date >= 1:
            dated += 1
            assert fields["Days between dates"] != "—", (fields, levels)
            assert abs(int(fields["Days between dates"])) <= DATE_WINDOW[date], (fields, levels)
        for model_field, level, field in (("Phone", 3, "Same phone"), ("Plate", 2, "Same plate"),
                                          ("Brand and model", 1, "Same brand and model")):
            if levels.get(model_field) == level:
                assert fields[field].startswith("✔"), (field, fields, levels)
    assert checked and exact_names and dated, (checked, exact_names, dated)
