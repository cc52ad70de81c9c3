"""`leadlink link`: link two arbitrary files with the matching engine, write the pairs.

Steps, none of which touches the database:

1. read both files (CSV or Parquet, :func:`leadlink.pipeline.ingest.readers.read_table`: encodings,
   delimiters and errors naming file/line/column work as for ``ingest``);
2. map columns onto canonical fields (``--field CANON=COL`` for both files,
   ``--left-field``/``--right-field`` to override one side), check the header has every
   mapped column and the id column, every id is present and unique; count per field the
   values that do not parse (dates, phones): they are kept for the engine to compare as text
   (``matching/dirty.py``), or refused with ``strict`` (file, line, column);
3. build canonical frames (``rid`` = 0-based row index) and call
   :func:`leadlink.matching.linkage.link_frames`, which trains the probabilistic model on the
   two frames and runs the same decision function as ``match``;
4. write ``left_id,right_id,score,decision,rule`` sorted by ``left_id, right_id`` (text
   order), score with 4 decimals: the same inputs give a byte-identical file. The file is
   written to a temporary name and renamed: an error leaves no partial output.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa

from leadlink.dates import parse_timestamp
from leadlink.errors import BadInputError, UsageError
from leadlink.matching.dirty import date_parses, phone_parses
from leadlink.matching.engine import Bands, Profile
from leadlink.pipeline.csv_cells import csv_writer, safe_cell
from leadlink.pipeline.ingest.readers import PARQUET_SUFFIXES, RawTable, data_rows, read_table

# DESIGN.md "Canonical fields for `link --field`".
LINK_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "full_name", "phone", "document", "license", "plate",
    "car_brand", "car_model", "birth_date", "street_number", "address", "city", "postcode",
    "state", "email", "date",
)  # fmt: skip
DATE_FIELDS = frozenset({"birth_date", "date"})
# Fields whose values parse (or not): the ones counted in a run's ``unparsed``.
PARSED_FIELDS = ("birth_date", "date", "phone")
OUTPUT_COLUMNS = ("left_id", "right_id", "score", "decision", "rule")
DECISIONS = ("match", "review", "non_match")
BadDates = Literal["error", "blank"]
"""The deprecated ``--bad-dates``: error = refuse a bad date (``--strict`` for dates only),
blank = treat it as missing; unset (None), a bad date is compared as text."""
Pair = tuple[str, str, str, str, str]
"""One output row: left_id, right_id, score (text, 4 decimals), decision, rule."""


class Decided(NamedTuple):
    """The pairs of a run, and why no model was trained when none could be (too few records,
    no two sharing a key, every pair one person: ``training.CannotTrain``); then the rules
    alone decided. None: a model was trained on the file(s) and scored the rest."""

    rows: list[Pair]
    untrained: str | None = None


def model_summary(untrained: str | None) -> dict[str, Any]:
    """What a run says of its model (``--json`` and the text output): trained or not, why
    not, and so who decided the pairs."""
    return {"trained": untrained is None, "why_not": untrained,
            "decided_by": "rules" if untrained is not None else "rules and model"}  # fmt: skip


def parse_field_options(values: Sequence[str], flag: str = "--field") -> dict[str, str]:
    """``["first_name=given", ...]`` -> ``{"first_name": "given"}``; UsageError if malformed,
    unknown or given twice."""
    fields: dict[str, str] = {}
    for value in values:
        canon, sep, column = value.partition("=")
        canon, column = canon.strip(), column.strip()
        if not sep or not canon or not column:
            raise UsageError(f"{flag} {value!r}: expected CANON=COLUMN, e.g. first_name=given")
        if canon not in LINK_FIELDS:
            raise UsageError(
                f"{flag} {value!r}: unknown canonical field {canon!r}; "
                f"known fields: {', '.join(LINK_FIELDS)}"
            )
        if canon in fields:
            raise UsageError(f"{flag}: {canon} is mapped twice ({fields[canon]!r}, {column!r})")
        fields[canon] = column
    return fields


@dataclass(frozen=True)
class Side:
    """One input file as the engine sees it: its ids in row order and its canonical frame."""

    file: str
    ids: list[str]
    frame: pa.Table
    unparsed: dict[str, int] = field(default_factory=dict)  # mapped parsed field -> values


def read_side(
    path: Path,
    id_column: str,
    fields: Mapping[str, str],
    *,
    encoding: str | None = None,
    strict: bool = False,
    bad_dates: BadDates | None = None,
) -> Side:
    """Read and validate one file; BadInputError names file, line and column.

    A date or phone that does not parse is counted in ``Side.unparsed`` and kept as it is
    (the engine compares it as text); ``strict`` refuses it instead. Dates that parse are
    passed as ISO ``YYYY-MM-DD``."""
    table = read_table(path, encoding=encoding)
    index = _check_header(table, id_column, fields)
    file = table.file
    id_at = index[id_column]
    seen: dict[str, int] = {}
    columns: dict[str, list[str | None]] = {canon: [] for canon in fields}
    unparsed = {canon: 0 for canon in PARSED_FIELDS if canon in fields}
    refuse_dates = strict or bad_dates == "error"
    for line, values in data_rows(table):
        rid = values[id_at]
        if not rid:
            raise BadInputError(file, "the id may not be empty", line=line, column=id_column)
        if rid in seen:
            raise BadInputError(
                file,
                f"duplicate id {rid!r}: lines {seen[rid]} and {line}",
                line=line,
                column=id_column,
            )
        seen[rid] = line
        for canon, column in fields.items():
            value = values[index[column]] or None
            if value is not None and canon in DATE_FIELDS:
                iso = _iso_date(value)
                if iso is None:
                    unparsed[canon] += 1
                    if refuse_dates:
                        raise BadInputError(file, f"{value!r} is not a date{_STRICT}",
                                            line=line, column=column)  # fmt: skip
                value = None if iso is None and bad_dates == "blank" else iso or value
            elif value is not None and canon == "phone" and not phone_parses(value):
                unparsed[canon] += 1
                if strict:
                    raise BadInputError(file, f"{value!r} is not a phone number{_STRICT}",
                                        line=line, column=column)  # fmt: skip
            columns[canon].append(value)
    frame = pa.table(
        {
            "rid": pa.array(range(len(seen)), pa.int64()),
            **{canon: pa.array(vals, pa.string()) for canon, vals in columns.items()},
        }
    )
    return Side(file=file, ids=list(seen), frame=frame, unparsed=unparsed)


def _check_header(table: RawTable, id_column: str, fields: Mapping[str, str]) -> dict[str, int]:
    file = table.file
    for position, name in enumerate(table.columns, start=1):
        if not name:
            raise BadInputError(
                file, f"the header has an empty column name (column {position})", line=1
            )
    dupes = sorted(name for name, n in Counter(table.columns).items() if n > 1)
    if dupes:
        raise BadInputError(
            file, f"duplicate column name(s) in the header: {', '.join(dupes)}", line=1
        )
    index = {name: i for i, name in enumerate(table.columns)}
    wanted = [(id_column, "the id column")] + [
        (column, f"mapped to {canon}") for canon, column in fields.items()
    ]
    for column, why in wanted:
        if column not in index:
            raise BadInputError(
                file,
                f"no column {column!r} ({why}) in the header; it has: {', '.join(table.columns)}",
                line=1,
                column=column,
            )
    return index


_STRICT = " (--strict refuses it; without --strict it is counted and compared as text)"


def _iso_date(value: str) -> str | None:
    if not date_parses(value):
        return None
    stamp = parse_timestamp(value)
    day = stamp.date() if isinstance(stamp, dt.datetime) else stamp
    return day.isoformat()


@dataclass(frozen=True)
class LinkResult:
    pairs: int
    by_decision: dict[str, int]
    by_rule: dict[str, int]
    out: str
    left_rows: int
    right_rows: int
    quality: dict[str, float | int] | None = None  # with a truth file: see pair_quality
    # Per side ("left", "right"): mapped date/phone field -> values that did not parse.
    unparsed: dict[str, dict[str, int]] = field(default_factory=dict)
    profile: Profile = "generic"
    untrained: str | None = None  # why no model was trained (the rules alone decided)

    def as_dict(self) -> dict[str, Any]:
        quality = {"quality": self.quality} if self.quality is not None else {}
        return quality | {
            "model": model_summary(self.untrained),
            "profile": self.profile,
            "unparsed": self.unparsed,
            "pairs": self.pairs,
            "by_decision": self.by_decision,
            "by_rule": self.by_rule,
            "out": self.out,
            "left_rows": self.left_rows,
            "right_rows": self.right_rows,
        }


def link_sides(
    left: Side, right: Side, bands: Bands, *, seed: int = 42, profile: Profile = "generic"
) -> Decided:
    """Run the engine on two sides; ``(left_id, right_id, score, decision, rule)`` rows sorted
    by ids, score as text with 4 decimals. ``profile``: the model's guard (outcome.Guard)."""
    from leadlink.matching.linkage import link_frames  # DuckDB/Splink only when linking

    pairs, untrained = link_frames(left.frame, right.frame, bands, seed=seed, profile=profile)
    data = pairs.select(["left_rid", "right_rid", "score", "decision", "rule"]).to_pydict()
    rows: list[Pair] = [
        (left.ids[lr], right.ids[rr], f"{float(score):.4f}", str(decision), str(rule))
        for lr, rr, score, decision, rule in zip(
            data["left_rid"],
            data["right_rid"],
            data["score"],
            data["decision"],
            data["rule"],
            strict=True,
        )
    ]
    rows.sort(key=lambda row: (row[0], row[1]))
    return Decided(rows, untrained)


def write_pairs(path: Path, rows: Sequence[Pair]) -> None:
    """CSV (or Parquet for a .parquet/.pq name), via a temporary file renamed into place. In
    the CSV, an id a spreadsheet would run as a formula is written as text
    (``csv_cells.safe_cell``); Parquet keeps values as they are (no spreadsheet runs them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            os.close(fd)
            _write_parquet(Path(tmp), rows)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                writer = csv_writer(fh)
                writer.writerow(OUTPUT_COLUMNS)
                # Ids come from the input files; the score is ours and stays a number.
                writer.writerows(
                    (safe_cell(left), safe_cell(right), score, safe_cell(decision), safe_cell(rule))
                    for left, right, score, decision, rule in rows
                )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_parquet(path: Path, rows: Sequence[Pair]) -> None:
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(OUTPUT_COLUMNS)
    table = pa.table(
        {
            "left_id": pa.array(columns[0], pa.string()),
            "right_id": pa.array(columns[1], pa.string()),
            "score": pa.array([float(s) for s in columns[2]], pa.float64()),
            "decision": pa.array(columns[3], pa.string()),
            "rule": pa.array(columns[4], pa.string()),
        }
    )
    pq.write_table(table, path)


def link_files(
    left: Path,
    right: Path,
    out: Path,
    *,
    left_id: str,
    right_id: str,
    left_fields: Mapping[str, str],
    right_fields: Mapping[str, str],
    bands: Bands,
    encoding: str | None = None,
    strict: bool = False,
    bad_dates: BadDates | None = None,
    seed: int = 42,
    truth: Path | None = None,
    profile: Profile = "generic",
) -> LinkResult:
    """Read, validate, link and write; nothing is written unless every step succeeds.
    With ``truth`` (a ``left_id,right_id`` CSV), also measure the ``match`` pairs against it.
    ``strict``, ``bad_dates``: see read_side; ``profile``: see link_sides."""
    if not left_fields and not right_fields:
        raise UsageError("map at least one column: --field CANON=COLUMN (e.g. last_name=surname)")
    if set(left_fields) != set(right_fields):
        only = sorted(set(left_fields) ^ set(right_fields))
        raise UsageError(f"field(s) mapped on one side only: {', '.join(only)}")
    left_side, right_side = (
        read_side(path, id_col, mapped, encoding=encoding, strict=strict, bad_dates=bad_dates)
        for path, id_col, mapped in ((left, left_id, left_fields),
                                     (right, right_id, right_fields))
    )  # fmt: skip
    true_pairs = read_truth(truth) if truth is not None else None
    rows, untrained = link_sides(left_side, right_side, bands, seed=seed, profile=profile)
    write_pairs(out, rows)
    return LinkResult(
        pairs=len(rows),
        by_decision=by_decision(rows),
        by_rule=by_rule(rows),
        out=str(out),
        left_rows=len(left_side.ids),
        right_rows=len(right_side.ids),
        quality=pair_quality(rows, true_pairs) if true_pairs is not None else None,
        unparsed={"left": left_side.unparsed, "right": right_side.unparsed},
        profile=profile,
        untrained=untrained,
    )


def by_decision(rows: Sequence[Pair]) -> dict[str, int]:
    """Pairs per decision: every decision named (0 if none), in DECISIONS' order."""
    decisions = Counter(row[3] for row in rows)
    return {d: decisions.get(d, 0) for d in DECISIONS} | {
        d: n for d, n in decisions.items() if d not in DECISIONS}  # fmt: skip


def by_rule(rows: Sequence[Pair]) -> dict[str, int]:
    """Pairs per rule, by rule name."""
    return dict(sorted(Counter(row[4] for row in rows).items()))


def read_truth(path: Path) -> set[tuple[str, str]]:
    """True pairs from a CSV with columns ``left_id,right_id`` (what generate-people writes)."""
    table = read_table(path)
    index = {name: i for i, name in enumerate(table.columns)}
    for column in ("left_id", "right_id"):
        if column not in index:
            raise BadInputError(table.file, f"no column {column!r} in the header", line=1)
    li, ri = index["left_id"], index["right_id"]
    return {(values[li], values[ri]) for _line, values in table.rows}


def pair_quality(
    rows: Sequence[Pair], truth: set[tuple[str, str]], *, decision: str = "match"
) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of the pairs with ``decision`` against true pairs."""
    predicted = {(row[0], row[1]) for row in rows if row[3] == decision}
    correct = len(predicted & truth)
    precision = correct / len(predicted) if predicted else 1.0
    recall = correct / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true": len(truth),
        "predicted": len(predicted),
        "correct": correct,
    }
