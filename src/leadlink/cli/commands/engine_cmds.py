"""`leadlink model train|show`, `leadlink link` and `leadlink dedupe`: the matching engine's
own commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.commands.data import print_generated
from leadlink.cli.kit import JsonOpt, emit, handles_errors, need, now, state

if TYPE_CHECKING:  # the engine is imported when a command runs, not to print --help
    from leadlink.matching.outcome import Profile
    from leadlink.pipeline.resolution.linkage import BadDates

# --- `leadlink model train|show` (the probabilistic tier's stored model) -----------------------

model_app = typer.Typer(help="The probabilistic tier's trained model.", no_args_is_help=True)


def _print_model(data: dict[str, object], title: str) -> None:
    console.key_values(title, {k: v for k, v in data.items() if k not in ("comparisons", "labels")})
    if isinstance(labels := data.get("labels"), dict):
        console.key_values("labels (review items decided by people)", labels)
    rows = []
    for comp in data["comparisons"]:  # type: ignore[attr-defined]
        for level in comp["levels"]:
            m, u = level["m"], level["u"]
            rows.append((comp["field"], level["label"], _prob(m), _prob(u),
                         f"{level['weight']:+.2f}"))  # fmt: skip
    console.table("comparisons (m = P(level | match), u = P(level | non-match), "
                  "weight = log2(m/u))", ["field", "level", "m", "u", "weight"],
                  rows)  # fmt: skip


def _prob(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "-"


@model_app.command("train")
@handles_errors
def model_train(
    seed: Annotated[int, typer.Option(help="Seed of the random sampling of u")] = 42,
    json_out: JsonOpt = False,
) -> None:
    """Train the model on the store (leads, scouting, migrations against drivers) and keep it.

    The review items people accepted teach it their pairs' m; it is checked against every
    item people accepted or rejected (docs/model.md)."""
    from leadlink.pipeline.resolution.model import train

    accept = state.settings().accept_threshold
    data = train(state.engine(), now=now(), seed=seed, accept=accept).summary()
    emit(data, lambda d: _print_model(d, f"model {d['model_id']} trained"), json_out)


@model_app.command("show")
@handles_errors
def model_show(
    model_id: Annotated[
        int | None, typer.Argument(help="Model id (default: the one in use)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The model `match` applies: what it was trained on, and its m/u per comparison level."""
    from leadlink.pipeline.resolution.model import show

    data = show(state.engine(), model_id).summary()
    emit(data, lambda d: _print_model(d, f"model {d['model_id']}"), json_out)


# --- `leadlink link`, `dedupe`, `generate-people` (docs/link.md) ---------------------------

# What `link` and `dedupe` do with a value that does not parse, and the model's guard.
StrictOpt = Annotated[
    bool,
    typer.Option(help="Refuse a date or phone that does not parse (default: count it and "
                 "compare it as text)"),
]  # fmt: skip
ProfileOpt = Annotated[
    str,
    typer.Option(help="The model's guard: generic (any files) or peru (the partner's "
                 "sources, as match)"),
]  # fmt: skip
BadDatesOpt = Annotated[
    str | None,
    typer.Option(help="Deprecated: error = --strict for dates only; blank = a bad date "
                 "is missing"),
]  # fmt: skip


def _print_unparsed(unparsed: dict[str, dict[str, int]]) -> None:
    rows = [(side, canon, n) for side, counts in unparsed.items() for canon, n in counts.items()]
    if rows:
        console.table("values that did not parse (compared as text)",
                      ["file", "field", "values"], rows)  # fmt: skip


def _print_untrained(model: dict[str, Any]) -> None:
    if not model["trained"]:
        console.out.print(f"no model was trained: {model['why_not']}; the rules alone decided")


def _value_options(profile: str, bad_dates: str | None) -> tuple[Profile, BadDates | None]:
    """The checked ``--profile`` and ``--bad-dates`` (with its deprecation warning)."""
    from leadlink.matching.outcome import PROFILES

    need(bad_dates in (None, "error", "blank"),
         f"--bad-dates must be error or blank, not {bad_dates!r}")  # fmt: skip
    need(profile in PROFILES, f"--profile must be {' or '.join(PROFILES)}, not {profile!r}")
    if bad_dates is not None:
        console.err.print("warning: --bad-dates is deprecated: a date that does not parse is "
                          "now counted and compared as text; --strict refuses it")  # fmt: skip
    dates: BadDates | None = None if bad_dates is None else (
        "blank" if bad_dates == "blank" else "error")  # fmt: skip
    return ("peru" if profile == "peru" else "generic"), dates


@handles_errors
def link_cmd(
    left: Annotated[Path, typer.Argument(help="Left file (CSV or Parquet)")],
    right: Annotated[Path, typer.Argument(help="Right file (CSV or Parquet)")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pairs (CSV, or .parquet)")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="CANON=COLUMN for both files (repeatable)"),
    ] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Id column of both files")] = None,
    left_id: Annotated[str | None, typer.Option(help="Id column of the left file")] = None,
    right_id: Annotated[str | None, typer.Option(help="Id column of the right file")] = None,
    left_field: Annotated[
        list[str] | None, typer.Option(help="CANON=COLUMN for the left file only (repeatable)")
    ] = None,
    right_field: Annotated[
        list[str] | None, typer.Option(help="CANON=COLUMN for the right file only (repeatable)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of CSV inputs, e.g. cp1252")
    ] = None,
    strict: StrictOpt = False,
    profile: ProfileOpt = "generic",
    bad_dates: BadDatesOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the model's random sampling")] = 42,
    truth: Annotated[
        Path | None,
        typer.Option(help="CSV of true pairs (left_id,right_id): also report precision/recall/F1"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Link two arbitrary files; write left_id,right_id,score,decision,rule."""
    from leadlink.matching.engine import Bands
    from leadlink.pipeline.resolution import linkage

    guard, dates = _value_options(profile, bad_dates)
    left_key, right_key = left_id or id_column, right_id or id_column
    need(
        left_key is not None and right_key is not None,
        "name the id column: --id COL (or --left-id and --right-id)",
    )
    assert left_key is not None and right_key is not None  # for mypy: need() raised otherwise
    both = linkage.parse_field_options(field or [], "--field")
    left_fields = both | linkage.parse_field_options(left_field or [], "--left-field")
    right_fields = both | linkage.parse_field_options(right_field or [], "--right-field")
    settings = state.settings()
    bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
    result = linkage.link_files(
        left, right, out, left_id=left_key, right_id=right_key, left_fields=left_fields,
        right_fields=right_fields, bands=bands, encoding=encoding, strict=strict,
        bad_dates=dates, seed=seed, truth=truth, profile=guard,
    )  # fmt: skip

    def render(data: dict[str, Any]) -> None:
        console.key_values(
            f"link {left} × {right} → {out}",
            {k: data[k] for k in ("left_rows", "right_rows", "pairs")},
        )
        console.table("pairs by decision", ["decision", "pairs"], list(data["by_decision"].items()))
        console.table("pairs by rule", ["rule", "pairs"], list(data["by_rule"].items()))
        _print_unparsed(data["unparsed"])
        _print_untrained(data["model"])
        if "quality" in data:
            console.key_values(f"'match' pairs against {truth}", data["quality"])

    emit(result.as_dict(), render, json_out)


@handles_errors
def dedupe_cmd(
    file: Annotated[Path, typer.Argument(help="The file to deduplicate (CSV or Parquet)")],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write id,cluster_id (CSV, or .parquet)")
    ],
    id_column: Annotated[str, typer.Option("--id", help="Id column of the file")],
    field: Annotated[
        list[str] | None, typer.Option("--field", help="CANON=COLUMN (repeatable)")
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(help="Also write the pairs: left_id,right_id,score,decision,rule"),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a CSV input, e.g. cp1252")
    ] = None,
    strict: StrictOpt = False,
    profile: ProfileOpt = "generic",
    bad_dates: BadDatesOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the model's random sampling")] = 42,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="CSV of true pairs (left_id,right_id) or clusters (id,cluster_id): "
            "also report precision/recall/F1"
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Cluster the duplicates of one file; write id,cluster_id for every row."""
    from leadlink.matching.engine import Bands
    from leadlink.pipeline.resolution import dedupe, linkage

    guard, dates = _value_options(profile, bad_dates)
    fields = linkage.parse_field_options(field or [], "--field")
    settings = state.settings()
    bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
    result = dedupe.dedupe_file(
        file, out, id_column=id_column, fields=fields, bands=bands, encoding=encoding,
        strict=strict, bad_dates=dates, seed=seed, truth=truth, pairs_out=pairs, profile=guard,
    )  # fmt: skip

    def render(data: dict[str, Any]) -> None:
        keys = ("rows", "clusters", "duplicate_clusters", "records_in_duplicates",
                "largest_cluster", "pairs")  # fmt: skip
        console.key_values(f"dedupe {file} → {out}", {k: data[k] for k in keys})
        console.table("pairs by decision", ["decision", "pairs"], list(data["by_decision"].items()))
        console.table("pairs by rule", ["rule", "pairs"], list(data["by_rule"].items()))
        _print_unparsed({str(file): data["unparsed"]})
        _print_untrained(data["model"])
        if "quality" in data:
            console.key_values(f"pairs within clusters against {truth}", data["quality"])

    emit(result.as_dict(), render, json_out)


@handles_errors
def generate_people_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder for left.csv, right.csv, truth.csv")],
    people: Annotated[int, typer.Option(min=1, help="Number of persons")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Write a two-file person data set with typos (for `leadlink link`) plus truth.csv."""
    from leadlink.synth.people import generate_people

    counts = generate_people(out_dir, people=people, seed=seed)
    emit({"out_dir": str(out_dir), "rows": counts}, print_generated, json_out)
