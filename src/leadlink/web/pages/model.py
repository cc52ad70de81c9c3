"""The trained model's page (``/model``, ``/model.json``): when and on what it was trained, the
prior, and per comparison each level's m, u and match weight, drawn as Splink draws a model
(an m/u parameters chart and a match weights chart, web/level_charts.py).

The dict is ``leadlink model show --json``'s (``StoredModel.summary``, one service), so the
page's numbers are the CLI's. Without a trained model the page says how to train one; its
JSON is the CLI's error (404, "no model trained yet").
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from leadlink.pipeline.resolution import model as model_service
from leadlink.web.deps import EngineDep, ViewerDep
from leadlink.web.i18n import Translator
from leadlink.web.level_charts import Panel, Row, level_chart, weight_axis
from leadlink.web.pages.common import render, respond, svg, wants_json

router = APIRouter(include_in_schema=False)

# Splink's level labels (label_for_charts) whose wording we translate; any other is shown as
# Splink wrote it.
_JARO_WINKLER = re.compile(r"^Jaro-Winkler distance of .+ >= ([\d.]+)$")
_TYPOS = re.compile(r"^(?:Damerau-)?Levenshtein distance of .+ <= (\d+)$")
_DAYS = re.compile(r"^Abs difference of '.+ <= (\d+) day'$")
_SHARED = re.compile(r"^Array intersection size >= (\d+)$")


def level_label(t: Translator, label: str | None) -> str:
    """A comparison level's label (Splink's ``label_for_charts``) in the page's language."""
    text = label or ""
    if text.startswith("Exact match on "):
        return t("model_level.exact")
    if text == "All other comparisons":
        return t("model_level.else")
    if text == "last 7 digits agree":
        return t("model_level.last7")
    if found := _JARO_WINKLER.match(text):
        return t("model_level.jaro_winkler", n=found[1])
    if found := _TYPOS.match(text):
        return t("model_level.typos", n=found[1])
    if found := _DAYS.match(text):
        return t("model_level.days_within", n=found[1])
    if found := _SHARED.match(text):
        return t("model_level.shared_tokens", n=found[1])
    return text or "—"


def probability(value: float | None) -> str:
    """m, u and λ as ``model show`` prints them (4 significant digits)."""
    return "—" if value is None else f"{value:.4g}"


def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
    """The levels as table rows (labels in the language) and the two charts, from the dict."""
    levels = [
        {**lvl, "field": comp["field"], "field_label": t.code("model_field", comp["field"]),
         "level_label": level_label(t, lvl["label"]), "m_shown": probability(lvl["m"]),
         "u_shown": probability(lvl["u"])}
        for comp in data["comparisons"] for lvl in comp["levels"]
    ]  # fmt: skip
    rows = [Row(lvl["field_label"], lvl["level_label"]) for lvl in levels]
    mu = level_chart(rows, [
        Panel(t("model.m_panel"), [lvl["m"] for lvl in levels], 0.0, 1.0, fmt=_short),
        Panel(t("model.u_panel"), [lvl["u"] for lvl in levels], 0.0, 1.0, fmt=_short),
    ], title=t("model.mu_chart"))  # fmt: skip
    prior = [Row(t("model.prior"), "λ")] if data["prior_weight"] is not None else []
    weights = [*([data["prior_weight"]] if prior else []), *(lvl["weight"] for lvl in levels)]
    lo, hi = weight_axis(weights)
    chart = level_chart([*prior, *rows], [
        Panel(t("model.weight_panel"), weights, lo, hi, fmt=_signed, signed=True),
    ], title=t("model.weights_chart"))  # fmt: skip
    return {"levels": levels, "mu_chart": svg(mu), "weights_chart": svg(chart),
            "prior_shown": probability(data["prior"])}  # fmt: skip


def _short(value: float) -> str:
    return f"{value:.3g}"


def _signed(value: float) -> str:
    return f"{value:+.2f}" if value else "0"


@router.get("/model")
@router.get("/model.json")
def model_page(request: Request, principal: ViewerDep, engine: EngineDep) -> Response:
    if not wants_json(request) and model_service.current(engine) is None:
        # No model yet is a state of the store, not an error: say how to get one.
        return render(request, "model.html", {"data": None}, principal=principal,
                      json_path="/model.json")  # fmt: skip

    def build() -> dict[str, Any]:
        return model_service.show(engine).summary()

    return respond(request, principal, "model.html", build, json_path="/model.json", view=view)
