"""Splink used directly on leads x drivers: train and predict, for bench_scale.py's comparison.

What a Splink user would write for these two files (DuckDB backend, one process): the light
cleaning every Splink tutorial does first (accents off, upper case, phone as its last 9 digits,
plate as A-Z0-9, the lead's given names and the two Peruvian family names split into columns),
`link_only` between leads and drivers, comparisons from `splink.comparison_library`
(NameComparison with term-frequency adjustment for the first given name and both surnames,
exact phone, plate within Levenshtein 1, exact car brand and model), blocking rules on phone,
plate, full name and first surname + given name + car brand (name blocks alone grow
quadratically: 294 M pairs at 1 M leads for first surname + given name), the prior from
phone-blocked pairs, u by random sampling, m by EM on the phone block and on the full-name
block (first surname + given name alone is 294 M pairs to train on at 1 M leads: 20 GB),
predictions at match probability >= 0.5 (Splink's own boundary) are its matches. Scored
against truth.csv as (lead, driver) pairs. DuckDB gets a memory limit (`--memory-limit`,
default 6GB, spilling to a temporary directory beyond it) as anyone would set on a machine
shared with other work; without one it takes up to 80% of RAM.

    .venv/bin/python benchmarks/splink_direct.py --leads leads.csv --drivers drivers.csv \\
        --truth truth.csv --seed 7
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import time
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from common import lead_driver_truth, pair_quality
from unidecode import unidecode

THRESHOLD = 0.5
COLUMNS = ("unique_id", "given", "surname1", "surname2", "phone", "plate", "car_brand",
           "car_model")  # fmt: skip


def _text(value: str) -> str:
    return " ".join(unidecode(value or "").upper().split())


def clean(path: Path, *, id_column: str, given_columns: tuple[str, ...]) -> pa.Table:
    """One file to the columns the Splink settings compare."""
    cols: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            givens = _text(" ".join(row.get(c, "") for c in given_columns)).split()
            surnames = _text(row.get("last_name", "")).split()
            digits = re.sub(r"\D", "", row.get("phone", ""))
            plate = re.sub(r"[^A-Z0-9]", "", (row.get("plate") or "").upper())
            values = {
                "unique_id": row[id_column],
                "given": givens[0] if givens else None,
                "surname1": surnames[0] if surnames else None,
                "surname2": surnames[1] if len(surnames) > 1 else None,
                "phone": digits[-9:] if len(digits) >= 9 else None,
                "plate": plate or None,
                "car_brand": _text(row.get("car_brand", "")) or None,
                "car_model": _text(row.get("car_model", "")) or None,
            }
            for c in COLUMNS:
                cols[c].append(values[c])
    return pa.table(cols)


def run(
    leads: Path, drivers: Path, truth_csv: Path, *, seed: int, memory_limit: str = "6GB"
) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    db_api = DuckDBAPI(con)
    left = db_api.register(clean(leads, id_column="lead_id",
                                 given_columns=("first_name", "middle_name")),
                           dataset_display_name="leads")  # fmt: skip
    right = db_api.register(clean(drivers, id_column="driver_id", given_columns=("first_name",)),
                            dataset_display_name="drivers")  # fmt: skip
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname1").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname2").configure(term_frequency_adjustments=True),
            cl.ExactMatch("phone"),
            cl.LevenshteinAtThresholds("plate", 1),
            cl.ExactMatch("car_brand"),
            cl.ExactMatch("car_model"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("plate"),
            block_on("surname1", "surname2", "given"),
            block_on("surname1", "given", "car_brand"),
        ],
    )
    linker = Linker([left, right], settings, log_level=logging.WARNING)
    training = linker.training
    training.estimate_probability_two_random_records_match([block_on("phone")], recall=0.7)
    training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=seed)
    failed = []
    for rule in (block_on("phone"), block_on("surname1", "surname2", "given")):
        try:
            training.estimate_parameters_using_expectation_maximisation(rule)
        except ValueError as exc:  # EM underflows on tiny data sets: say so, predict anyway
            failed.append(f"EM on {rule.get_blocking_rule('duckdb').blocking_rule_sql}: {exc}")
    train_s = time.perf_counter() - t0
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    table = predictions.as_pyarrow_table()  # type: ignore[no-untyped-call]
    wall = time.perf_counter() - t0
    got = table.select(["source_dataset_l", "unique_id_l", "unique_id_r"]).to_pydict()
    predicted = {
        (a, b) if side == "leads" else (b, a)
        for side, a, b in zip(got["source_dataset_l"], got["unique_id_l"], got["unique_id_r"],
                              strict=True)
    }  # fmt: skip
    return {
        "wall_s": wall,
        "train_s": train_s,
        "predict_s": wall - train_s,
        "pairs_at_threshold": len(predicted),
        "em_failures": failed,
        "memory_limit": memory_limit,
        "quality": pair_quality(predicted, lead_driver_truth(truth_csv)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--leads", type=Path, required=True)
    ap.add_argument("--drivers", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB's memory_limit")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # Splink warns about EM on small blocks; results still come
    result = run(args.leads, args.drivers, args.truth, seed=args.seed,
                 memory_limit=args.memory_limit)  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
