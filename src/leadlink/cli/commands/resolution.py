"""`leadlink match|explain|evaluate|export links`: resolving the store's records, and what
was decided."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, need, now, state
from leadlink.sources import SOURCES


def print_match(data: dict[str, Any]) -> None:
    """A match run's counts (`match`, and the match step of `demo`)."""
    model = data.get("model") or {}
    summary = {k: data[k] for k in ("run_id", "processed", "linked", "new_persons", "review")}
    summary["merged persons"] = data.get("merged", 0)
    summary["model"] = (f"#{model['id']}" + (" (trained now)" if model.get("trained_now") else "")
                        if "id" in model else model.get("skipped", "not used"))  # fmt: skip
    console.key_values("match", summary)
    console.table("unmatched by reason", ["reason", "records"], sorted(data["unmatched"].items()))
    console.table("links by rule", ["rule", "links"], sorted(data["by_rule"].items()))


class ScoringEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@handles_errors
def match_cmd(
    rematch: Annotated[
        bool, typer.Option("--rematch", help="Also reconsider records left unmatched before.")
    ] = False,
    scoring: Annotated[
        ScoringEngine,
        typer.Option(
            "--engine",
            help="What scores the model's pairs: Splink on DuckDB, or on Spark (docs/spark.md).",
        ),
    ] = ScoringEngine.duckdb,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for another linking job (match, "
                     "recover) to end (0: exit 1 at once, naming it)."),
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Resolve every pending record; print counts per decision and reason."""
    from contextlib import nullcontext

    from leadlink.pipeline.resolution.resolve import match

    settings = state.settings()
    spark = None
    if scoring is ScoringEngine.spark:  # no pyspark, no Java, no master: exit 2 before any work
        from leadlink.pipeline.resolution.spark import SparkEngine

        spark = SparkEngine(settings)
    with spark or nullcontext(), console.progress(not json_out) as report:
        result = match(state.engine(), settings, now=now(), progress=report,
                       rematch=rematch, scorer=spark, wait=wait or False)  # fmt: skip
    data = result.as_dict()
    data["engine"] = {"name": scoring.value, **(spark.stats.as_dict() if spark else {})}

    def render(data: dict[str, Any]) -> None:
        print_match(data)
        if spark:
            console.key_values("model pairs scored by Spark", data["engine"])

    emit(data, render, json_out)


def _print_waterfall(waterfall: dict[str, Any]) -> None:
    """A model decision: each field's level and match weight (log2 Bayes factor)."""
    if waterfall:
        rows = [(k, v["level"], f"{v['weight']:+.2f}") for k, v in waterfall.items()]
        console.table("match weights (model)", ["field", "level", "weight"], rows)


@handles_errors
def explain(
    source: Annotated[str, typer.Argument(help="Source of the record")],
    source_pk: Annotated[str, typer.Argument(help="The record's source_pk")],
    json_out: JsonOpt = False,
) -> None:
    """Why this record is linked (or not): rule, evidence, candidates."""
    from leadlink.pipeline.resolution.explain import explain as explain_record

    need(source in SOURCES, f"unknown source {source!r}; one of: {', '.join(SOURCES)}")
    data = explain_record(state.engine(), source, source_pk)
    emit(data, lambda d: _print_explain(d, f"{source}/{source_pk}"), json_out)


def _print_explain(data: dict[str, Any], title: str) -> None:
    console.key_values(title, {"status": data["status"], **data["data"]})
    if "link" in data:
        link = data["link"]
        console.key_values(
            "link",
            {k: link[k] for k in ("person_key", "rule", "rule_label", "score", "confidence")},
        )
        fields = link["evidence"].get("fields") or {}
        console.table("evidence", ["field", "value"], sorted(fields.items()))
        _print_waterfall(link["evidence"].get("waterfall") or {})
        console.table(
            "records of this person",
            ["source", "source_pk", "rule", "score"],
            [(r["source"], r["source_pk"], r["rule"], r["score"]) for r in data["person_records"]],
        )
        console.table(
            "origins",
            ["origin", "record", "status", "decided_by"],
            [
                (o["origin"], f"{o['source']}/{o['source_pk']}", o["status"], o["decided_by"])
                for o in data["origins"]
            ],
        )
    if "unmatched" in data:
        console.key_values("unmatched", data["unmatched"])
        items = data.get("review_items") or []
        if items:
            console.table("review items", ["id", "person_key", "rule", "score", "status"],
                          [(i["id"], i["person_key"], i["rule"], i["score"], i["status"])
                           for i in items])  # fmt: skip
            _print_waterfall(items[0]["evidence"].get("waterfall") or {})
    if data.get("candidates"):
        console.table("candidates considered", ["person_key", "record", "rule", "score"],
                      [(c.get("person_key"), c.get("record"), c.get("rule"), c.get("score"))
                       for c in data["candidates"]])  # fmt: skip


export_app = typer.Typer(help="Export what leadlink decided.", no_args_is_help=True)


@export_app.command("links")
@handles_errors
def export_links_cmd(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    json_out: JsonOpt = False,
) -> None:
    """source,source_pk,person_key,rule,score,confidence for every linked record, sorted."""
    from leadlink.pipeline.resolution.explain import export_links

    n = export_links(state.engine(), out)
    emit({"out": str(out), "links": n},
         lambda d: console.out.print(f"wrote {d['links']} links to {d['out']}"),
         json_out)  # fmt: skip


@handles_errors
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="truth.csv: source,source_pk,entity_id")],
    json_out: JsonOpt = False,
) -> None:
    """Pairwise precision, recall and F1 against ground truth."""
    from leadlink.pipeline.resolution.explain import evaluate as run_evaluate

    emit(run_evaluate(state.engine(), truth), _print_evaluate, json_out)


def _print_evaluate(data: dict[str, Any]) -> None:
    console.table("pairwise quality", ["pairs", "precision", "recall", "f1", "true", "predicted",
                                       "correct"],
                  [(k, v["precision"], v["recall"], v["f1"], v["true_pairs"],
                    v["predicted_pairs"], v["correct_pairs"])
                   for k, v in data.items() if k != "records"])  # fmt: skip
