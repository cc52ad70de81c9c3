"""`leadlink init|ingest|generate|demo`: the database, and the data put into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.commands.resolution import print_match
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state
from leadlink.store.db import migrate


@handles_errors
def init(json_out: JsonOpt = False) -> None:
    """Create or migrate the database."""
    engine = state.engine(migrated=False)
    migrate(engine)
    result = {"database": engine.url.render_as_string(hide_password=True), "status": "at head"}
    emit(result, lambda r: console.out.print(f"database {r['database']} is at head"), json_out)


@handles_errors
def ingest(
    source: Annotated[
        str, typer.Argument(help="leads, scouting, migrations, drivers, trips, payments")
    ],
    file: Annotated[
        Path | None, typer.Argument(help="CSV or Parquet file (or --from and --query)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a CSV, e.g. cp1252 for Excel exports.")
    ] = None,
    from_url: Annotated[
        str | None,
        typer.Option("--from", help="Database URL to read the source from (with --query); "
                     "its password is never printed."),
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="The SELECT returning the source's rows.")
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="COL=SRC: our column COL is the query's column SRC "
                     "(repeatable)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Load a CSV or Parquet file, or a database query, into a source; upsert by source_pk
    (all or nothing)."""
    from leadlink.errors import UsageError
    from leadlink.pipeline.ingest.files import IngestResult, ingest_file

    result: IngestResult
    if from_url is None:
        if query is not None or maps:
            raise UsageError("--query and --map go with --from URL (a database source)")
        if file is None:
            raise UsageError("give a FILE, or --from URL --query SELECT")
        with console.progress(not json_out) as report:
            result = ingest_file(state.engine(), source, file, encoding=encoding,
                                 progress=report)  # fmt: skip
        shown = str(file)
    else:
        from leadlink.pipeline.ingest.query import ingest_query, parse_map

        if file is not None or encoding is not None:
            raise UsageError("--from reads a database: give no FILE and no --encoding")
        if query is None:
            raise UsageError("--from needs --query \"SELECT ...\" (the source's rows)")
        mapping = parse_map(maps or [])
        with console.progress(not json_out) as report:
            result = ingest_query(state.engine(), source, from_url, query, mapping=mapping,
                                  progress=report)  # fmt: skip
        shown = result.file
    emit(result.as_dict(), lambda d: console.key_values(f"ingest {source} ← {shown}", d), json_out)


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
    emit({"out_dir": str(out_dir), "rows": counts}, print_generated, json_out)


def print_generated(data: dict[str, Any]) -> None:
    """What `generate` and `generate-people` wrote: rows per file."""
    console.table(f"generated into {data['out_dir']}", ["file", "rows"],
                  sorted(data["rows"].items()))  # fmt: skip


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
                           leads=leads, seed=seed, now=now(), progress=report)  # fmt: skip
    emit(summary, lambda s: _print_demo(s, data_dir), json_out)


def _print_demo(summary: dict[str, Any], data_dir: Path) -> None:
    console.table("ingested", ["source", "rows", "inserted", "updated", "unchanged"],
                  [(s, r["rows"], r["inserted"], r["updated"], r["unchanged"])
                   for s, r in summary["ingest"].items()])  # fmt: skip
    print_match(summary["match"])
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
    console.table("backlog by segment (leadlink backlog)",
                  ["segment", "leads", "S/ at stake"],
                  [(k, v["leads"], v["at_stake"]) for k, v in imp["segments"].items()])  # fmt: skip
    console.key_values("lost, by reason", imp["lost_by_reason"])
    claims = summary["claims"]["claims"]
    console.key_values("claims (S/)", {
        "claims": claims["total"], "by status": claims["by_status"],
        "outstanding": claims["amount_outstanding"],
        "funnel": summary["claims"]["funnel"],
    })  # fmt: skip
    console.key_values("gap analysis", summary["gap"])
    unlinked = summary["unlinked_activity"]
    console.key_values("unlinked activity (no lead, no origin)", {
        "drivers": unlinked["drivers"], "S/ would claim": f"{unlinked['would_claim']:.2f}",
    })  # fmt: skip
    console.out.print(
        f"\nDatabase: {summary['database']}\nNext: `leadlink explain leads <lead_id>`, "
        "`leadlink review list`, `leadlink backlog`, `leadlink activity`, "
        "`leadlink gap --risk high`, `leadlink claims`, "
        f"`leadlink evaluate --truth {data_dir / 'truth.csv'}`, `leadlink check all`.\n"
        "The console: `leadlink token create --role operator`, then `leadlink serve` and open "
        "http://127.0.0.1:8000/ (docs/console.md)."
    )
