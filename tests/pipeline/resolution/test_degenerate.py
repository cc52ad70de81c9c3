"""`leadlink dedupe` and `link` on files too small or too uniform to train a model.

Each case is a real file in tmp_path run through the CLI. A file with no candidate pair gives
every row its own cluster (dedupe) or no pairs (link), exit 0; a file whose pairs exist but
cannot train the model is decided by the rules. Either way the text output and ``--json`` say
that no model was trained and why, and nothing is a traceback. Bad input (a header and no
rows, a missing --id column) is exit 2 naming the file and the column.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadlink.cli import app

runner = CliRunner()
HEADER = ["id", "given", "surname", "dni", "cell", "dob"]
FIELDS = {"first_name": "given", "last_name": "surname", "document": "dni", "phone": "cell",
          "birth_date": "dob"}  # fmt: skip
ANA = ["Ana", "Quispe Rojas", "41234567", "987654321", "1980-03-15"]
LUIS = ["Luis", "Flores Paz", "09876543", "912345678", "1975-07-01"]
ROSA = ["Rosa", "Vega Soto", "77889900", "944555666", "1990-02-02"]
PEDRO = ["Pedro", "Castillo Luna", "55667788", "933222111", "1969-09-09"]
JULIA = ["Julia", "Mendoza Ríos", "66778899", "966333444", "1979-12-12"]
STRANGERS = [ANA, LUIS, ROSA, PEDRO, JULIA]  # no two share a name, key, phone or date


def rows(*people: list[str], prefix: str = "r") -> list[list[str]]:
    return [[f"{prefix}{i}", *person] for i, person in enumerate(people)]


def no_document(person: list[str]) -> list[str]:
    return [person[0], person[1], "", person[3], person[4]]


def write(path: Path, body: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(body)
    return path


def field_args() -> list[str]:
    return [arg for canon, col in FIELDS.items() for arg in ("--field", f"{canon}={col}")]


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[1:]


# name, rows, expected clusters (id -> cluster id), why no model (None: a model was trained)
DEDUPE_CASES = [
    ("one row", rows(ANA), {"r0": "r0"}, "fewer than two records"),
    ("two rows, one person", rows(ANA, ANA), {"r0": "r0", "r1": "r0"},
     "nearly every pair of records agrees"),
    ("two strangers", rows(ANA, LUIS), {"r0": "r0", "r1": "r1"}, "no two records agree"),
    ("no pair shares any block", rows(*STRANGERS), {f"r{i}": f"r{i}" for i in range(5)},
     "no two records agree"),
    ("every row one person", rows(*[ANA] * 4), {f"r{i}": "r0" for i in range(4)},
     "nearly every pair of records agrees"),
    ("a field empty in every row", rows(*map(no_document, [ANA, ANA, LUIS, ROSA])),
     {"r0": "r0", "r1": "r0", "r2": "r2", "r3": "r3"}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows_", "clusters", "why"), [c[1:] for c in DEDUPE_CASES], ids=[c[0] for c in DEDUPE_CASES]
)
def test_dedupe_degenerate_files(
    tmp_path: Path, rows_: list[list[str]], clusters: dict[str, str], why: str | None
) -> None:
    src, out = write(tmp_path / "in.csv", rows_), tmp_path / "clusters.csv"
    result = run("dedupe", str(src), "--out", str(out), "--id", "id", *field_args(), "--json")
    data = json.loads(result.stdout)
    assert dict(map(tuple, read(out))) == clusters  # every row, singletons included
    assert data["rows"] == len(rows_) and data["clusters"] == len(set(clusters.values()))
    model = data["model"]
    assert model["trained"] is (why is None)
    if why is None:
        assert model == {"trained": True, "why_not": None, "decided_by": "rules and model"}
    else:
        assert why in model["why_not"] and model["decided_by"] == "rules"
        text = run("dedupe", str(src), "--out", str(out), "--id", "id", *field_args()).stdout
        assert "no model was trained" in " ".join(text.split())
        assert "the rules alone decided" in " ".join(text.split())


# name, left rows, right rows, expected (left_id, right_id, decision), why no model
LINK_CASES = [
    ("one row each, one person", rows(ANA, prefix="a"), rows(ANA, prefix="b"),
     [("a0", "b0", "match")], "nearly every pair of records agrees"),
    ("one row each, strangers", rows(ANA, prefix="a"), rows(LUIS, prefix="b"), [],
     "no two records agree"),
    ("no pair shares any block", rows(*STRANGERS[:3], prefix="a"),
     rows(*STRANGERS[3:], prefix="b"), [], "no two records agree"),
    ("every pair one person", rows(ANA, ANA, prefix="a"), rows(ANA, ANA, prefix="b"),
     [("a0", "b0", "review"), ("a0", "b1", "review"), ("a1", "b0", "review"),
      ("a1", "b1", "review")], "nearly every pair of records agrees"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("left", "right", "pairs", "why"), [c[1:] for c in LINK_CASES], ids=[c[0] for c in LINK_CASES]
)
def test_link_degenerate_files(
    tmp_path: Path, left: list[list[str]], right: list[list[str]],
    pairs: list[tuple[str, str, str]], why: str,
) -> None:  # fmt: skip
    a, b = write(tmp_path / "a.csv", left), write(tmp_path / "b.csv", right)
    out = tmp_path / "pairs.csv"
    args = ["link", str(a), str(b), "--out", str(out), "--id", "id", *field_args()]
    data = json.loads(run(*args, "--json").stdout)
    assert [(r[0], r[1], r[3]) for r in read(out)] == pairs
    assert data["pairs"] == len(pairs)
    assert data["model"]["trained"] is False and why in data["model"]["why_not"]
    assert data["model"]["decided_by"] == "rules"
    text = " ".join(run(*args).stdout.split())
    assert f"no model was trained: {data['model']['why_not']}" in text


def test_a_file_without_shared_phones_still_trains_on_its_documents(tmp_path: Path) -> None:
    """EM is run on the first two blocks the file has pairs in: no two rows here share a
    phone (Splink refuses an EM session without pairs), so documents and names train it."""
    people = [[*p[:3], f"9{i:08d}", p[4]] for i, p in enumerate([ANA, ANA, LUIS, LUIS, ROSA,
                                                                   PEDRO, JULIA])]  # fmt: skip
    src, out = write(tmp_path / "in.csv", rows(*people)), tmp_path / "clusters.csv"
    result = run("dedupe", str(src), "--out", str(out), "--id", "id", *field_args(), "--json")
    assert json.loads(result.stdout)["model"]["trained"] is True
    assert dict(map(tuple, read(out)))["r1"] == "r0"


@pytest.mark.parametrize("command", ["dedupe", "link"])
def test_header_only_file_is_bad_input(tmp_path: Path, command: str) -> None:
    empty, full = write(tmp_path / "empty.csv", []), write(tmp_path / "full.csv", rows(ANA))
    files = [str(empty)] if command == "dedupe" else [str(full), str(empty)]
    out = tmp_path / "out.csv"
    result = run(command, *files, "--out", str(out), "--id", "id", *field_args(), code=2)
    assert "empty.csv" in result.output and "no data" in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["dedupe", "link"])
def test_missing_id_column_is_bad_input(tmp_path: Path, command: str) -> None:
    src, out = write(tmp_path / "in.csv", rows(ANA, LUIS)), tmp_path / "out.csv"
    files = [str(src)] if command == "dedupe" else [str(src), str(src)]
    result = run(command, *files, "--out", str(out), "--id", "code", *field_args(), code=2)
    assert "in.csv" in result.output and "'code'" in result.output
    assert "the id column" in result.output
    assert not out.exists()
