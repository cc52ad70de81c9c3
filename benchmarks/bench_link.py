"""How well and how fast `leadlink link` links two person files, next to Splink used directly.

For every size: `leadlink.synth.people.generate_people` writes left.csv, right.csv and
truth.csv; then, in the same process and on the same files,

1. **leadlink**: `leadlink.pipeline.resolution.linkage.link_files` (what `leadlink link`
   runs) with every column mapped to its canonical field and the default bands; the `match`
   pairs are scored against truth.csv (pairwise precision, recall, F1);
2. **Splink** (DuckDB backend) used directly with default-ish settings: the light cleaning
   every Splink tutorial does first (upper case, accents off, dates to ISO, phone digits), a
   few comparisons from `splink.comparison_library`, blocking rules on name, date of birth,
   postcode+number, email and phone, u by random sampling, m by EM on two blocking rules,
   pairs with match probability >= 0.5 (Splink's own boundary) are its matches.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_link.py --people 5000 20000 --seed 7

Writes a Markdown section (between `<!-- bench:link-seedS -->` markers, replaced when rerun)
into benchmarks/RESULTS.md (`--no-results` skips it) and the raw numbers to
benchmarks/out/link/result-seedS.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import splink  # noqa: E402
from common import pair_quality as quality  # noqa: E402  (benchmarks/common.py)
from unidecode import unidecode  # noqa: E402

from leadlink.dates import DateParseError, parse_date  # noqa: E402
from leadlink.matching.engine import Bands  # noqa: E402
from leadlink.pipeline.resolution import linkage  # noqa: E402
from leadlink.settings import Settings  # noqa: E402
from leadlink.synth.people import COLUMNS, generate_people  # noqa: E402

FIELDS = {c: c for c in COLUMNS if c != "rec_id"}  # the generator names columns canonically
SPLINK_THRESHOLD = 0.5


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_leadlink(data: Path, truth: set[tuple[str, str]], seed: int) -> dict[str, Any]:
    settings = Settings()
    bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
    out = data / "pairs-leadlink.csv"
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu()
    result = linkage.link_files(
        data / "left.csv", data / "right.csv", out, left_id="rec_id", right_id="rec_id",
        left_fields=FIELDS, right_fields=FIELDS, bands=bands, seed=seed,
    )  # fmt: skip
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    matched = {(r["left_id"], r["right_id"]) for r in rows if r["decision"] == "match"}
    reviewed = {(r["left_id"], r["right_id"]) for r in rows if r["decision"] == "review"}
    return {
        "wall_s": wall, "cpu_s": cpu_s, "load": load, **quality(matched, truth),
        "review_pairs": len(reviewed), "review_true": len(reviewed & truth),
        "by_decision": result.by_decision, "by_rule": result.by_rule,
    }  # fmt: skip


def _clean(path: Path) -> pa.Table:
    """The cleaning a Splink user does before linking: the same for both files."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    def text(v: str) -> str | None:
        v = " ".join(unidecode(v).upper().split())
        return v or None

    def date(v: str) -> str | None:
        try:
            return parse_date(v).isoformat() if v else None
        except DateParseError:
            return None

    def phone(v: str) -> str | None:
        digits = re.sub(r"\D", "", v)
        return digits[-9:] if len(digits) >= 9 else None

    cleaners = {"birth_date": date, "phone": phone, "email": lambda v: v.lower() or None}
    columns: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
    for row in rows:
        for c in COLUMNS:
            columns[c].append(row[c] if c == "rec_id" else cleaners.get(c, text)(row[c]))
    return pa.table(columns)


def run_splink(data: Path, truth: set[tuple[str, str]], seed: int) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu()
    db_api = DuckDBAPI(duckdb.connect())
    left = db_api.register(_clean(data / "left.csv"), dataset_display_name="left_file")
    right = db_api.register(_clean(data / "right.csv"), dataset_display_name="right_file")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.JaroWinklerAtThresholds("address"),
            cl.ExactMatch("street_number"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("postcode", 1),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("birth_date"),
            block_on("postcode", "street_number"),
            block_on("email"),
            block_on("phone"),
        ],
    )
    linker = Linker([left, right], settings, log_level=None)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=seed)
    training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    table = predictions.as_pyarrow_table()
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    got = table.select(["source_dataset_l", "rec_id_l", "rec_id_r"]).to_pydict()
    matched = {
        (a, b) if side == "left_file" else (b, a)
        for side, a, b in zip(got["source_dataset_l"], got["rec_id_l"], got["rec_id_r"],
                              strict=True)
    }  # fmt: skip
    return {"wall_s": wall, "cpu_s": cpu_s, "load": load, **quality(matched, truth)}


def read_truth(path: Path) -> set[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["left_id"], r["right_id"]) for r in csv.DictReader(fh)}


def commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True, check=True)  # fmt: skip
        return out.stdout.strip() + (" (+ uncommitted changes in src/)" if dirty.stdout else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def section(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = " ".join(str(n) for n in args.people)
    lines = [
        f"## Link · generated person files with typos (seed {args.seed})",
        "",
        f"- Date: {when}; leadlink commit {commit()}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}; Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}, Splink {splink.__version__}",
        f"- Command: `.venv/bin/python benchmarks/bench_link.py --people {sizes} "
        f"--seed {args.seed}`",
        "- Data: `leadlink generate-people` (`synth/people.py`): 80% of the persons in both "
        "files, 10% in each only; typos, nicknames, initials, swapped names, dates transposed "
        "or one digit off, abbreviated addresses, moves, relatives and twins at one address.",
        "- leadlink: `link_files` (= `leadlink link`, default bands) on the raw files, every "
        "column mapped; its `match` pairs are scored. Splink: used directly (DuckDB, tutorial "
        "cleaning, NameComparison ×2 with TF, DateOfBirthComparison, JaroWinkler address, "
        "exact number/city/phone, Levenshtein postcode, EmailComparison; u by random "
        f"sampling, EM on name and on date of birth); pairs with probability ≥ "
        f"{SPLINK_THRESHOLD} are its matches. Same process, same files, one after the other; "
        "wall and CPU seconds include reading the files and training; CPU s is this process's "
        "user + system time (DuckDB threads included), load the 1-minute load average at the "
        "start (other work on the machine inflates wall s, not CPU s).",
        "",
        "| persons | left × right rows | true pairs | tool | precision | recall | F1 "
        "| predicted | wall s | CPU s | load |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for tool in ("leadlink", "splink"):
            q = r[tool]
            lines.append(
                f"| {r['people']:,} | {r['left']:,} × {r['right']:,} | {r['true']:,} | {tool} "
                f"| {q['precision']:.4f} | {q['recall']:.4f} | {q['f1']:.4f} "
                f"| {q['predicted']:,} | {q['wall_s']:.2f} | {q['cpu_s']:.2f} | {q['load']:.1f} |"
            )
    lines.append("")
    for r in results:
        ll = r["leadlink"]
        lines.append(
            f"leadlink at {r['people']:,}: pairs by decision {ll['by_decision']}; by rule "
            f"{ll['by_rule']}; review band {ll['review_pairs']:,} pairs of which "
            f"{ll['review_true']:,} true."
        )
    return "\n".join(lines) + "\n"


SECTION = re.compile(r"<!-- bench:(?P<key>[^ ]+) -->\n.*?<!-- /bench:(?P=key) -->\n?", re.DOTALL)


def write_results(path: Path, key: str, text: str) -> None:
    """Replace this key's section, or append it after everything else in the file."""
    block = f"<!-- bench:{key} -->\n{text}<!-- /bench:{key} -->\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(m.group("key") == key for m in SECTION.finditer(old)):
        new = SECTION.sub(lambda m: block if m.group("key") == key else m.group(0), old)
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--people", type=int, nargs="+", default=[5000, 20000])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "link")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    p.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    p.add_argument("--skip-splink", action="store_true", help="leadlink only")
    args = p.parse_args(argv)
    results = []
    for n in args.people:
        data = args.out / f"people-{n}-seed{args.seed}"
        counts = generate_people(data, people=n, seed=args.seed)
        truth = read_truth(data / "truth.csv")
        row: dict[str, Any] = {"people": n, "left": counts["left"], "right": counts["right"],
                               "true": len(truth)}  # fmt: skip
        row["leadlink"] = run_leadlink(data, truth, args.seed)
        print(f"{n}: leadlink {json.dumps(row['leadlink'], default=str)}", flush=True)
        if not args.skip_splink:
            row["splink"] = run_splink(data, truth, args.seed)
            print(f"{n}: splink {json.dumps(row['splink'])}", flush=True)
        results.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"result-seed{args.seed}.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.skip_splink:
        return 0
    text = section(results, args)
    print(text)
    if not args.no_results:
        write_results(args.results, f"link-seed{args.seed}", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
