"""The model's page: its JSON is `leadlink model show --json` on the same database; the page
shows every level's m, u and match weight, the prior, and the two Splink-style charts, with
field and level names in the page's language. Without a model it says how to train one."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.conftest import TokenMaker
from tests.web.dashboard import data, element, login, page, text_of
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution import model as model_service
from leadlink.synth import generate
from leadlink.web.i18n import Translator
from leadlink.web.level_charts import Panel, Row, level_chart
from leadlink.web.pages.model import level_label


def cli_json(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--db", db_url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def trained(engine: Engine, tmp_path: Path) -> None:
    """A generated store (leads, scouting, migrations, drivers) and a model trained on it."""
    where = tmp_path / "data"
    generate(where, leads=400, seed=5)
    for source in ("drivers", "migrations", "scouting", "leads"):
        ingest_file(engine, source, where / f"{source}.csv", now=NOW)
    model_service.train(engine, now=NOW)


def test_without_a_model_the_page_says_how_to_train_one(
    client: TestClient, make_token: TokenMaker
) -> None:
    login(client, make_token("viewer", "vera"))
    html = page(client, "/model")
    assert text_of(html, "model-train-command") == "leadlink model train"
    assert "Aún no hay un modelo entrenado." in element(html, "model-none")
    # The JSON is the CLI's answer: no model is a 404 naming the command.
    body = data(client, "/model.json", status=404)
    assert "leadlink model train" in json.dumps(body)
    assert 'data-testid="nav-model"' in html


def test_the_page_is_model_show_with_every_level_and_both_charts(
    client: TestClient, engine: Engine, db_url: str, make_token: TokenMaker, tmp_path: Path
) -> None:
    trained(engine, tmp_path)
    expected = cli_json(db_url, "model", "show")
    login(client, make_token("viewer", "vera"))
    got = data(client, "/model.json")
    assert got == expected
    # The weights are the ones scoring uses: log2(m/u), with the prior's log2(λ/(1-λ)).
    prior = expected["prior"]
    assert expected["prior_weight"] == pytest.approx(math.log2(prior / (1 - prior)), abs=1e-4)
    levels = [(c["field"], lvl) for c in expected["comparisons"] for lvl in c["levels"]]
    assert len(levels) > 10
    for _, lvl in levels:
        if lvl["m"] and lvl["u"]:
            assert lvl["weight"] == pytest.approx(math.log2(lvl["m"] / lvl["u"]), abs=1e-4)
        assert lvl["m_default"] is (not lvl["m"])

    html = page(client, "/model")
    assert text_of(html, "model-prior") == f"{prior:.4g}"
    assert text_of(html, "model-prior-weight") == f"{expected['prior_weight']:+.2f}"
    for field, lvl in levels:
        key = f"{field}-{lvl['level']}"
        assert text_of(html, f"model-weight-{key}") == f"{lvl['weight']:+.2f}"
        shown_m = text_of(html, f"model-m-{key}").rstrip(" *")
        assert shown_m == ("—" if lvl["m"] is None else f"{lvl['m']:.4g}")
        assert text_of(html, f"model-u-{key}") == ("—" if lvl["u"] is None else f"{lvl['u']:.4g}")
    # Field and level names in Spanish; Splink's English labels are not shown as they are.
    table = element(html, "model-levels")
    assert "Nombre" in table and "Coincidencia exacta" in table
    assert "Exact match on" not in html and "All other comparisons" not in html
    # The charts: one bar per level in each of the m/u chart's two panels; the weights chart
    # has the prior's bar too. Drawn on the server, no inline style (the CSP forbids it).
    mu, weights = element(html, "model-mu-chart"), element(html, "model-weights-chart")
    defined_m = sum(lvl["m"] is not None for _, lvl in levels)
    defined_u = sum(lvl["u"] is not None for _, lvl in levels)
    assert _bars(mu) == defined_m + defined_u
    assert _bars(weights) == len(levels) + 1
    assert "style=" not in html and "<script" not in html
    # English too.
    english = page(client, "/model", lang="en")
    assert "Exact match" in element(english, "model-levels")
    assert "Given name" in element(english, "model-levels")


def _bars(chart: str) -> int:
    """Bars of a level chart: its rects that carry a title (the frame's background has none)."""
    return len(re.findall(r"<rect [^>]*><title>", chart))


@pytest.mark.parametrize(
    ("label", "spanish"),
    [
        ("Exact match on given", "Coincidencia exacta"),
        ("Jaro-Winkler distance of family1 >= 0.92", "Parecido (Jaro-Winkler ≥ 0.92)"),
        ("Damerau-Levenshtein distance of plate <= 1",
         "A 1 error de tipeo (Damerau-Levenshtein ≤ 1)"),
        ("Abs difference of 'date <= 30 day'", "Fechas a ≤ 30 días"),
        ("last 7 digits agree", "Últimos 7 dígitos iguales"),
        ("Array intersection size >= 2", "≥ 2 palabras en común"),
        ("All other comparisons", "Todas las demás comparaciones"),
        ("Something Splink may say one day", "Something Splink may say one day"),
        (None, "—"),
    ],
)  # fmt: skip
def test_level_labels_in_spanish(label: str | None, spanish: str) -> None:
    assert level_label(Translator("es"), label) == spanish


def test_level_charts_escape_their_texts_and_clip_what_lies_off_the_axis() -> None:
    rows = [Row("<b>given</b>", "exact & more"), Row("<b>given</b>", "else")]
    chart = level_chart(rows, [Panel("w", [4.0, -85.0], -20.0, 20.0, signed=True)], title="t")
    assert "<b>" not in chart and "&lt;b&gt;given&lt;/b&gt;" in chart
    assert "exact &amp; more" in chart
    assert "◀ -85" in chart  # clipped at the axis, its true value printed
    assert chart.count("&lt;b&gt;given&lt;/b&gt;</text>") == 1  # the group named once


def test_the_page_shows_how_many_reviews_the_model_learned_from(
    client: TestClient, engine: Engine, db_url: str, make_token: TokenMaker, tmp_path: Path
) -> None:
    from tests.review_factories import SETTINGS, rows

    from leadlink.pipeline.resolution import review
    from leadlink.pipeline.resolution.resolve import match
    from leadlink.store import review as review_store
    from leadlink.store.db import transaction

    trained(engine, tmp_path)
    login(client, make_token("viewer", "vera"))
    # Trained with no review decided: none counted, no agreement to measure.
    html = page(client, "/model")
    assert text_of(html, "model-labels-accepted") == "0"
    assert text_of(html, "model-labels-agreement") == "—"
    # One pair a person accepted, one rejected (a lead with two drivers' persons), retrained.
    match(engine, SETTINGS, now=NOW)
    free = "SELECT id FROM source_record WHERE source = 'leads' AND id NOT IN (SELECT record_id "
    lead_id = rows(engine, free + "FROM link WHERE active) ORDER BY id LIMIT 1")[0][0]
    keys = [r[0] for r in rows(engine, "SELECT l.person_key FROM link l JOIN source_record sr ON "
                               "sr.id = l.record_id WHERE l.active AND sr.source = 'drivers' "
                               "ORDER BY sr.id LIMIT 2")]  # fmt: skip
    with transaction(engine) as session:
        review_store.propose(session, [
            {"record_id": lead_id, "person_key": k, "rule": "model", "score": 0.6,
             "evidence": {}, "deadline": None} for k in keys
        ], run_id=None, now=NOW)  # fmt: skip
    first, second = (r[0] for r in rows(engine, "SELECT id FROM review_item WHERE record_id = "
                                        ":r ORDER BY id", r=lead_id))  # fmt: skip
    review.reject(engine, SETTINGS, second, actor="ana", now=NOW)
    review.accept(engine, SETTINGS, first, actor="ana", now=NOW)
    model_service.train(engine, now=NOW)

    expected = cli_json(db_url, "model", "show")
    assert data(client, "/model.json") == expected
    labels = expected["labels"]
    assert (labels["accepted"], labels["rejected"], labels["learned_from"]) == (1, 1, 1)
    html = page(client, "/model")
    assert text_of(html, "model-labels-accepted") == "1"
    assert text_of(html, "model-labels-rejected") == "1"
    assert text_of(html, "model-labels-learned") == "1"
    shown = f"{labels['agreement'] * 100:.1f} % ({labels['agreed']} / {labels['compared']})"
    assert text_of(html, "model-labels-agreement") == shown
    assert "Lo que aprendió de las revisiones" in element(html, "model-labels")
    assert "What it learned from reviews" in page(client, "/model", lang="en")
