"""The command line. Thin: parse, call a service, print; LeadlinkError becomes an exit code."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, app, handles_errors, state
from leadlink.cli.kit import need as _need
from leadlink.cli.kit import now as _now
from leadlink.sources import SOURCES
from leadlink.store.db import migrate


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (env LEADLINK_DB; default sqlite:///leadlink.db)."),
    ] = None,
) -> None:
    state.db = db
    state._settings = None
    state._engine = None


@app.command()
@handles_errors
def init(json_out: JsonOpt = False) -> None:
    """Create or migrate the database."""
    engine = state.engine(migrated=False)
    migrate(engine)
    result = {"database": engine.url.render_as_string(hide_password=True), "status": "at head"}
    if json_out:
        console.emit_json(result)
    else:
        console.out.print(f"database {result['database']} is at head")


@app.command()
@handles_errors
def ingest(
    source: Annotated[
        str, typer.Argument(help="leads, scouting, migrations, drivers, trips, payments")
    ],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file")],
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a CSV, e.g. cp1252 for Excel exports.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Load a CSV or Parquet file into a source; upsert by source_pk (all or nothing)."""
    from leadlink.pipeline.ingest.files import ingest_file

    with console.progress(not json_out) as report:
        result = ingest_file(state.engine(), source, file, encoding=encoding, progress=report)
    data = result.as_dict()
    if json_out:
        console.emit_json(data)
    else:
        console.key_values(f"ingest {source} ← {file}", data)


def _print_match(data: dict[str, Any]) -> None:
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


@app.command("match")
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
        result = match(state.engine(), settings, now=_now(), progress=report,
                       rematch=rematch, scorer=spark)  # fmt: skip
    data = result.as_dict()
    data["engine"] = {"name": scoring.value, **(spark.stats.as_dict() if spark else {})}
    if json_out:
        console.emit_json(data)
    else:
        _print_match(data)
        if spark:
            console.key_values("model pairs scored by Spark", data["engine"])


@app.command()
@handles_errors
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the CSV files into")],
    leads: Annotated[int, typer.Option(min=1, help="Number of lead rows")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Write a synthetic Peruvian data set as CSV files plus truth.csv."""
    from leadlink.synth import generate as gen

    counts = gen(out_dir, leads=leads, seed=seed)
    if json_out:
        console.emit_json({"out_dir": str(out_dir), "rows": counts})
    else:
        console.table(f"generated into {out_dir}", ["file", "rows"], sorted(counts.items()))


@app.command()
@handles_errors
def demo(
    leads: Annotated[int, typer.Option(min=1, help="Number of lead rows")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    data_dir: Annotated[Path, typer.Option(help="Where the generated files go")] = Path(
        "demo-data"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Generate a synthetic data set, ingest it, match it, and print a summary."""
    from leadlink.pipeline.operations.demo import run_demo

    with console.progress(not json_out) as report:
        summary = run_demo(state.engine(migrated=False), state.settings(), data_dir,
                           leads=leads, seed=seed, now=_now(), progress=report)  # fmt: skip
    if json_out:
        console.emit_json(summary)
        return
    console.table("ingested", ["source", "rows", "inserted", "updated", "unchanged"],
                  [(s, r["rows"], r["inserted"], r["updated"], r["unchanged"])
                   for s, r in summary["ingest"].items()])  # fmt: skip
    _print_match(summary["match"])
    ev = summary["evaluate"]
    console.table("quality against truth.csv (pairwise)", ["pairs", "precision", "recall", "f1"],
                  [(k, ev[k]["precision"], ev[k]["recall"], ev[k]["f1"])
                   for k in ("lead_driver", "all_sources")])  # fmt: skip
    rec, imp = summary["recover"], summary["impact"]
    console.key_values("KPI-red backlog (recovery queue)", {
        "queued": summary["queue"]["enqueued"], "processed": rec["processed"],
        "matched": rec["matched"], "unmatched": rec["unmatched"], "failed": rec["failed"],
        "backlog now": imp["backlog_after"], "top fail reason": imp["top_fail_reason"],
    })  # fmt: skip
    claims = summary["claims"]["claims"]
    console.key_values("claims (S/)", {
        "claims": claims["total"], "by status": claims["by_status"],
        "outstanding": claims["amount_outstanding"],
        "funnel": summary["claims"]["funnel"],
    })  # fmt: skip
    console.key_values("gap analysis", summary["gap"])
    console.out.print(
        f"\nDatabase: {summary['database']}\nNext: `leadlink explain leads <lead_id>`, "
        "`leadlink review list`, `leadlink gap --risk high`, `leadlink claims`, "
        f"`leadlink evaluate --truth {data_dir / 'truth.csv'}`, `leadlink check all`.\n"
        "The console: `leadlink token create --role operator`, then `leadlink serve` and open "
        "http://127.0.0.1:8000/ (docs/console.md)."
    )


def _print_waterfall(waterfall: dict[str, Any]) -> None:
    """A model decision: each field's level and match weight (log2 Bayes factor)."""
    if waterfall:
        rows = [(k, v["level"], f"{v['weight']:+.2f}") for k, v in waterfall.items()]
        console.table("match weights (model)", ["field", "level", "weight"], rows)


@app.command()
@handles_errors
def explain(
    source: Annotated[str, typer.Argument(help="Source of the record")],
    source_pk: Annotated[str, typer.Argument(help="The record's source_pk")],
    json_out: JsonOpt = False,
) -> None:
    """Why this record is linked (or not): rule, evidence, candidates."""
    from leadlink.pipeline.resolution.explain import explain as explain_record

    _need(source in SOURCES, f"unknown source {source!r}; one of: {', '.join(SOURCES)}")
    data = explain_record(state.engine(), source, source_pk)
    if json_out:
        console.emit_json(data)
        return
    console.key_values(f"{source}/{source_pk}", {"status": data["status"], **data["data"]})
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
app.add_typer(export_app, name="export")


@export_app.command("links")
@handles_errors
def export_links_cmd(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    json_out: JsonOpt = False,
) -> None:
    """source,source_pk,person_key,rule,score,confidence for every linked record, sorted."""
    from leadlink.pipeline.resolution.explain import export_links

    n = export_links(state.engine(), out)
    if json_out:
        console.emit_json({"out": str(out), "links": n})
    else:
        console.out.print(f"wrote {n} links to {out}")


@app.command()
@handles_errors
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="truth.csv: source,source_pk,entity_id")],
    json_out: JsonOpt = False,
) -> None:
    """Pairwise precision, recall and F1 against ground truth."""
    from leadlink.pipeline.resolution.explain import evaluate as run_evaluate

    data = run_evaluate(state.engine(), truth)
    if json_out:
        console.emit_json(data)
        return
    console.table("pairwise quality", ["pairs", "precision", "recall", "f1", "true", "predicted",
                                       "correct"],
                  [(k, v["precision"], v["recall"], v["f1"], v["true_pairs"],
                    v["predicted_pairs"], v["correct_pairs"])
                   for k, v in data.items() if k != "records"])  # fmt: skip


@app.command()
@handles_errors
def check(
    which: Annotated[str, typer.Argument(help="all, or one of the checks")] = "all",
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Sample size of sampling checks (drain).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the invariants; exit 1 on a violation, naming what broke."""
    from leadlink.pipeline.operations.checks import CHECKS, run_checks

    names = list(CHECKS) if which == "all" else [which]
    _need(which == "all" or which in CHECKS,
          f"unknown check {which!r}; one of: all, {', '.join(CHECKS)}")  # fmt: skip
    settings = state.settings()
    if n is not None:
        settings = settings.model_copy(update={"check_sample": n})
    results = run_checks(state.engine(), settings, names)
    ok = all(r.ok for r in results)
    if json_out:
        console.emit_json({"ok": ok, "checks": {r.name: r.as_dict() for r in results}})
    else:
        console.table("checks", ["check", "ok", "violations", "detail"],
                      [(r.name, "ok" if r.ok else "FAILED", r.violations, r.detail)
                       for r in results])  # fmt: skip
        for r in results:
            for example in r.examples:
                console.err.print(f"[red]{r.name}[/]: {example}", highlight=False)
    if not ok:
        raise typer.Exit(1)


# Command groups live in their own modules and register themselves on the shared app.
from leadlink.cli.commands import (  # noqa: E402, F401
    console_cmds,
    engine_cmds,
    money,
    ops,
    persons,
    recovery,
    review,
)


def main() -> Any:
    return app()
