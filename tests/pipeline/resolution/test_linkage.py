"""`leadlink link`: reading and validating two files, the engine on a generated person set,
and the output file. `link` never opens a database, so there is no SQLite/PostgreSQL split."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import BadInputError, UsageError
from leadlink.matching.engine import Bands
from leadlink.pipeline.resolution import linkage
from leadlink.synth.people import generate_people

runner = CliRunner()
HEADER = ["id", "given", "surname", "dob", "zip"]
FIELDS = {"first_name": "given", "last_name": "surname", "birth_date": "dob", "postcode": "zip"}


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER, **kw: str) -> Path:
    with path.open("w", encoding=kw.get("encoding", "utf-8"), newline="") as fh:
        writer = csv.writer(fh, delimiter=kw.get("delimiter", ","), lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


ROWS = [
    ["a1", "José", "Quispe", "15/03/1980", "15001"],
    ["a2", "María", "Flores", "1979-12-01", ""],
    ["a3", "Luis", "Núñez", "19910704", "04001"],
]


# --- options ---------------------------------------------------------------------------------


def test_field_options_map_canonical_fields_to_columns() -> None:
    got = linkage.parse_field_options(["first_name=given", " postcode = zip "])
    assert got == {"first_name": "given", "postcode": "zip"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("first_name", "expected CANON=COLUMN"),
        ("=given", "expected CANON=COLUMN"),
        ("first_name=", "expected CANON=COLUMN"),
        ("forename=given", "unknown canonical field 'forename'; known fields: first_name"),
        ("driver_id=x", "unknown canonical field 'driver_id'"),  # ours, not a link field
    ],
)
def test_bad_field_options_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        linkage.parse_field_options([value])


def test_a_field_mapped_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="first_name is mapped twice"):
        linkage.parse_field_options(["first_name=a", "first_name=b"])


# --- reading one side ------------------------------------------------------------------------


def test_csv_and_parquet_give_the_same_frame_with_iso_dates(tmp_path: Path) -> None:
    from_csv = linkage.read_side(write(tmp_path / "a.csv", ROWS), "id", FIELDS)
    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.table({h: [r[i] for r in ROWS] for i, h in enumerate(HEADER)}), parquet)
    from_parquet = linkage.read_side(parquet, "id", FIELDS)
    assert from_csv.ids == from_parquet.ids == ["a1", "a2", "a3"]
    assert from_csv.frame.equals(from_parquet.frame)
    frame = from_csv.frame.to_pydict()
    assert frame["rid"] == [0, 1, 2]
    assert frame["birth_date"] == ["1980-03-15", "1979-12-01", "1991-07-04"]
    assert frame["postcode"] == ["15001", None, "04001"]  # empty is missing
    assert frame["first_name"] == ["José", "María", "Luis"]  # the engine normalises
    assert set(frame) == {"rid", *FIELDS}  # unmapped columns never reach the engine


def test_semicolon_cp1252_file_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv", ROWS, delimiter=";", encoding="cp1252")
    with pytest.raises(BadInputError, match="not UTF-8.*--encoding cp1252"):
        linkage.read_side(path, "id", FIELDS)
    side = linkage.read_side(path, "id", FIELDS, encoding="cp1252")
    assert side.frame.column("last_name").to_pylist() == ["Quispe", "Flores", "Núñez"]


@pytest.mark.parametrize(
    ("rows", "header", "id_col", "line", "column", "message"),
    [
        (ROWS, HEADER, "key", 1, "key", "no column 'key' (the id column) in the header"),
        (ROWS, ["id", "given", "apellido", "dob", "zip"], "id", 1, "surname",
         "no column 'surname' (mapped to last_name)"),
        ([*ROWS, ["a2", "Ana", "Ramos", "", ""]], HEADER, "id", 5, "id",
         "duplicate id 'a2': lines 3 and 5"),
        ([ROWS[0], ["", "Ana", "Ramos", "", ""]], HEADER, "id", 3, "id", "id may not be empty"),
        ([ROWS[0], ["a9", "Ana", "Ramos", "1990"]], HEADER, "id", 3, None,
         "this row has 4 values but the header has 5"),
        (ROWS, ["id", "given", "surname", "dob", "id"], "id", 1, None,
         "duplicate column name"),
        ([], HEADER, "id", None, None, "no rows"),
    ],
)  # fmt: skip
def test_bad_input_names_file_line_and_column(
    tmp_path: Path,
    rows: list[list[str]],
    header: list[str],
    id_col: str,
    line: int | None,
    column: str | None,
    message: str,
) -> None:
    path = write(tmp_path / "in.csv", rows, header)
    with pytest.raises(BadInputError) as info:
        linkage.read_side(path, id_col, FIELDS)
    err = info.value
    assert (err.file, err.line, err.column) == (str(path), line, column)
    assert message in str(err)


BAD_DATE = [ROWS[0], ["a9", "Ana", "Ramos", "31/02/1990", ""], ROWS[2]]


def test_a_date_that_does_not_parse_is_kept_and_counted(tmp_path: Path) -> None:
    side = linkage.read_side(write(tmp_path / "in.csv", BAD_DATE), "id", FIELDS)
    # Kept as written: the engine compares it as text (matching/dirty.py).
    assert side.frame.column("birth_date").to_pylist() == ["1980-03-15", "31/02/1990",
                                                           "1991-07-04"]  # fmt: skip
    assert side.unparsed == {"birth_date": 1}  # mapped parsed fields only, no phone here


def test_a_phone_that_does_not_parse_is_kept_and_counted(tmp_path: Path) -> None:
    rows = [["a1", "Ana", "07 1234 5678"], ["a2", "Luis", "987654321"], ["a3", "Eva", ""]]
    path = write(tmp_path / "in.csv", rows, ["id", "given", "tel"])
    side = linkage.read_side(path, "id", {"first_name": "given", "phone": "tel"})
    assert side.frame.column("phone").to_pylist() == ["07 1234 5678", "987654321", None]
    assert side.unparsed == {"phone": 1}  # an empty value is missing, not unparsed
    with pytest.raises(BadInputError) as info:
        linkage.read_side(path, "id", {"first_name": "given", "phone": "tel"}, strict=True)
    assert (info.value.line, info.value.column) == (2, "tel")
    assert "'07 1234 5678' is not a phone number (--strict refuses it" in str(info.value)


def test_strict_refuses_a_bad_date_naming_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", BAD_DATE)
    for kw in ({"strict": True}, {"bad_dates": "error"}):  # the deprecated spelling
        with pytest.raises(BadInputError) as info:
            linkage.read_side(path, "id", FIELDS, **kw)  # type: ignore[arg-type]
        err = info.value
        assert (err.file, err.line, err.column) == (str(path), 3, "dob")
        assert "'31/02/1990' is not a date" in str(err)


def test_bad_dates_blank_treats_them_as_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", BAD_DATE)
    side = linkage.read_side(path, "id", FIELDS, bad_dates="blank")
    assert side.frame.column("birth_date").to_pylist() == ["1980-03-15", None, "1991-07-04"]
    assert side.unparsed == {"birth_date": 1}


# --- output and quality ----------------------------------------------------------------------


def test_pair_quality_counts_match_pairs_only() -> None:
    rows: list[linkage.Pair] = [
        ("a", "x", "0.9900", "match", "model"),
        ("b", "y", "0.9000", "match", "model"),
        ("c", "z", "0.6000", "review", "model"),  # true, but not a match: a miss
    ]
    got = linkage.pair_quality(rows, {("a", "x"), ("c", "z"), ("d", "w")})
    assert got == {"precision": 0.5, "recall": 0.3333, "f1": 0.4, "true": 3, "predicted": 2,
                   "correct": 1}  # fmt: skip


def test_write_pairs_csv_and_parquet(tmp_path: Path) -> None:
    rows: list[linkage.Pair] = [("a", "x", "0.9900", "match", "phone_exact")]
    linkage.write_pairs(tmp_path / "sub" / "p.csv", rows)
    text = (tmp_path / "sub" / "p.csv").read_text(encoding="utf-8")
    assert text == "left_id,right_id,score,decision,rule\na,x,0.9900,match,phone_exact\n"
    linkage.write_pairs(tmp_path / "p.parquet", rows)
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column_names == list(linkage.OUTPUT_COLUMNS)
    assert table.to_pylist() == [{"left_id": "a", "right_id": "x", "score": 0.99,
                                  "decision": "match", "rule": "phone_exact"}]  # fmt: skip


def test_an_engine_failure_leaves_the_previous_output_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = write(tmp_path / "l.csv", ROWS)
    out = tmp_path / "out" / "pairs.csv"
    out.parent.mkdir()
    out.write_text("previous\n", encoding="utf-8")

    def boom(*_args: object, **_kw: object) -> list[linkage.Pair]:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(linkage, "link_sides", boom)
    with pytest.raises(RuntimeError, match="engine exploded"):
        linkage.link_files(left, left, out, left_id="id", right_id="id", left_fields=FIELDS,
                           right_fields=FIELDS, bands=Bands())  # fmt: skip
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in out.parent.iterdir()] == ["pairs.csv"]  # no temporary left over


def test_fields_must_be_mapped_on_both_sides(tmp_path: Path) -> None:
    left = write(tmp_path / "l.csv", ROWS)
    without_postcode = {k: v for k, v in FIELDS.items() if k != "postcode"}
    with pytest.raises(UsageError, match="one side only: postcode"):
        linkage.link_files(left, left, tmp_path / "o.csv", left_id="id", right_id="id",
                           left_fields=without_postcode, right_fields=FIELDS,
                           bands=Bands())  # fmt: skip
    with pytest.raises(UsageError, match="map at least one column"):
        linkage.link_files(left, left, tmp_path / "o.csv", left_id="id", right_id="id",
                           left_fields={}, right_fields={}, bands=Bands())  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


# --- the command line ------------------------------------------------------------------------


def link(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["link", *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.stdout if code == 0 else result.output  # stderr may carry Splink's logging


def test_cli_usage_and_input_errors_exit_2_and_write_nothing(tmp_path: Path) -> None:
    left = str(write(tmp_path / "l.csv", ROWS))
    bad = str(write(tmp_path / "r.csv", [*ROWS, ROWS[0]]))
    out = tmp_path / "pairs.csv"
    base = [left, left, "--out", str(out)]
    cases = [
        ([*base, "--field", "last_name=surname"], "name the id column"),
        ([*base, "--id", "id", "--field", "surname=surname"], "unknown canonical field"),
        ([*base, "--id", "id"], "map at least one column"),
        ([*base, "--id", "id", "--field", "city=town"], "no column 'town'"),
        ([left, bad, "--out", str(out), "--id", "id", "--field", "last_name=surname"],
         "line 5, column 'id': duplicate id 'a1'"),
        ([*base, "--id", "id", "--field", "last_name=surname", "--bad-dates", "x"],
         "--bad-dates must be error or blank"),
        ([*base, "--id", "id", "--field", "last_name=surname", "--profile", "spain"],
         "--profile must be peru or generic, not 'spain'"),
    ]  # fmt: skip
    for args, message in cases:
        output = link(*args, code=2)
        assert message in " ".join(output.split()), (args, output)
    assert not out.exists()


# --- the engine on a generated person set ----------------------------------------------------


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("people")
    generate_people(folder, people=2000, seed=5)
    return folder


def people_args(folder: Path, out: Path) -> list[str]:
    args = [str(folder / "left.csv"), str(folder / "right.csv"), "--id", "rec_id"]
    for canon in ("first_name", "last_name", "birth_date", "street_number", "address", "city",
                  "postcode", "email", "phone"):  # fmt: skip
        args += ["--field", f"{canon}={canon}"]
    return [*args, "--out", str(out)]


@pytest.fixture(scope="module")
def linked(people: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One `leadlink link --truth --json` run on the generated set (the engine takes seconds)."""
    out = tmp_path_factory.mktemp("linked") / "pairs.csv"
    args = [*people_args(people, out), "--truth", str(people / "truth.csv"), "--json"]
    return out, json.loads(link(*args))


def test_link_on_generated_people_reaches_f1_098(linked: tuple[Path, dict[str, Any]]) -> None:
    quality = linked[1]["quality"]
    assert quality["precision"] >= 0.99, quality
    assert quality["f1"] >= 0.98, quality


def test_a_bad_date_links_and_is_counted_and_strict_refuses_it(
    people: Path, tmp_path: Path
) -> None:
    # FEBRL's case: one date of birth with a digit no calendar has (a 93rd day).
    with (people / "right.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    dated = next(i for i, r in enumerate(rows) if r["birth_date"])
    day, month, year = rows[dated]["birth_date"].split("/")
    rows[dated]["birth_date"] = f"{year}{month}9{day[1]}"
    right = tmp_path / "right.csv"
    with right.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    args = people_args(people, tmp_path / "pairs.csv")
    args[1] = str(right)
    data = json.loads(link(*args, "--json"))
    assert data["unparsed"] == {"left": {"birth_date": 0, "phone": 0},
                                "right": {"birth_date": 1, "phone": 0}}  # fmt: skip
    assert data["profile"] == "generic" and data["pairs"] > 0
    output = link(*args, "--strict", code=2)
    assert f"{right}, line {dated + 2}, column 'birth_date'" in " ".join(output.split())
    assert "is not a date" in output


def test_link_output_shape_and_byte_identical_rerun(
    people: Path, linked: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    first, data = linked
    assert set(data) >= {"pairs", "by_decision", "out", "left_rows", "right_rows", "quality"}
    assert data["quality"]["precision"] >= 0.99, data["quality"]  # what it links is right
    assert data["quality"]["recall"] >= 0.85, data["quality"]
    with (people / "left.csv").open(encoding="utf-8") as fh:
        assert data["left_rows"] == sum(1 for _ in fh) - 1
    with first.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == linkage.OUTPUT_COLUMNS
    body = rows[1:]
    assert len(body) == data["pairs"] == sum(data["by_decision"].values())
    assert body == sorted(body, key=lambda r: (r[0], r[1]))
    assert {r[3] for r in body} <= set(linkage.DECISIONS)
    assert all(r[4] for r in body)
    # Only pairs above the reject band are written (default review threshold 0.5).
    assert all(0.5 <= float(r[2]) <= 1.0 for r in body)
    # One match per left record at most: a decision names one right record.
    matched = [r[0] for r in body if r[3] == "match"]
    assert len(matched) == len(set(matched))
    link(*people_args(people, tmp_path / "again.csv"))
    assert (tmp_path / "again.csv").read_bytes() == first.read_bytes()
