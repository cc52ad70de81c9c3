"""`leadlink dedupe`: one file's duplicates clustered by the link engine, on a hand-made file
whose clusters are written out below. Like `link`, it never opens a database."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import BadInputError, UsageError
from leadlink.matching import blocking
from leadlink.matching.engine import Bands
from leadlink.matching.frames import prepare
from leadlink.pipeline.resolution import dedupe

runner = CliRunner()
HEADER = ["id", "given", "surname", "dni", "cell", "dob"]
FIELDS = {"first_name": "given", "last_name": "surname", "document": "dni", "phone": "cell",
          "birth_date": "dob"}  # fmt: skip
ROWS = [
    ["c01", "Ana", "Quispe Rojas", "41234567", "987654321", "1980-03-15"],
    ["c02", "Ana", "Quispe Rojas", "41234567", "", "15/03/1980"],  # c01's document
    ["c03", "Anita", "Quispe Rojas", "", "987654321", "1980-03-15"],  # c01's phone, not c02's
    ["c04", "Luis", "Flores Paz", "09876543", "912345678", "1975-07-01"],
    ["c05", "Luis Alberto", "Flores Paz", "09876543", "", "1975-07-01"],
    ["c06", "María", "Núñez Soto", "", "955111222", "1991-01-20"],
    ["c07", "Jorge", "Ramos Vega", "33445566", "944555666", "1988-11-11"],  # c08's brother:
    ["c08", "Rosa", "Ramos Vega", "77889900", "944555666", "1990-02-02"],  # one phone, two DNIs
    ["c09", "Pedro", "Castillo Luna", "55667788", "933222111", "1969-09-09"],
    ["c10", "Carmen", "Torres Díaz", "22334455", "977888999", "1985-05-05"],
    ["c11", "Carmen", "Torres Diaz", "22334455", "977888999", "1985-05-05"],
    ["c12", "Julia", "Mendoza Ríos", "66778899", "966333444", "1979-12-12"],
    # Three rows of one person: each has two candidates equally good, which the margin would
    # hold back as "too close to tell apart" if they were two persons.
    ["c13", "Julio", "Vargas Llosa", "11223344", "922111000", "1970-01-01"],
    ["c14", "Julio", "Vargas Llosa", "11223344", "922111000", "1970-01-01"],
    ["c15", "Julio", "Vargas Llosa", "11223344", "922111000", "1970-01-01"],
]
# By hand: who is whom. c02 and c03 share nothing with each other but both are c01; the
# siblings c07/c08 stay apart; every other row is its own cluster (singletons listed too).
EXPECTED = {
    "c01": "c01", "c02": "c01", "c03": "c01",
    "c04": "c04", "c05": "c04",
    "c06": "c06", "c07": "c07", "c08": "c08", "c09": "c09",
    "c10": "c10", "c11": "c10",
    "c12": "c12",
    "c13": "c13", "c14": "c13", "c15": "c13",
}  # fmt: skip


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["dedupe", *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.stdout if code == 0 else result.output  # stderr may carry Splink's logging


def field_args() -> list[str]:
    return [arg for canon, col in FIELDS.items() for arg in ("--field", f"{canon}={col}")]


@pytest.fixture(scope="module")
def deduped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One `leadlink dedupe --pairs --json` run on the hand-made file."""
    folder = tmp_path_factory.mktemp("dedupe")
    source = write(folder / "people.csv", ROWS)
    args = [str(source), "--id", "id", *field_args(), "--out", str(folder / "clusters.csv"),
            "--pairs", str(folder / "pairs.csv"), "--json"]  # fmt: skip
    return folder, json.loads(cli(*args))


# --- the clusters ----------------------------------------------------------------------------


def test_clusters_of_the_hand_made_file(deduped: tuple[Path, dict[str, Any]]) -> None:
    folder, data = deduped
    rows = read_csv(folder / "clusters.csv")
    assert list(rows[0]) == list(dedupe.OUTPUT_COLUMNS)
    assert {r["id"]: r["cluster_id"] for r in rows} == EXPECTED
    assert [r["id"] for r in rows] == sorted(EXPECTED)  # every row, singletons too, by id
    assert data["rows"] == 15
    assert data["clusters"] == 9
    assert data["duplicate_clusters"] == 4
    assert data["records_in_duplicates"] == 10
    assert data["largest_cluster"] == 3


def test_pairs_once_each_never_a_record_with_itself(deduped: tuple[Path, dict[str, Any]]) -> None:
    folder, data = deduped
    pairs = read_csv(folder / "pairs.csv")
    keys = [(p["left_id"], p["right_id"]) for p in pairs]
    assert all(a < b for a, b in keys)  # no self-pair, no (b, a) next to (a, b)
    assert len(keys) == len(set(keys)) == data["pairs"]
    assert keys == sorted(keys)
    matched = {k for k, p in zip(keys, pairs, strict=True) if p["decision"] == "match"}
    assert {("c07", "c08")}.isdisjoint(matched)
    # The three rows of one person: each decision names one record (c14 and c15 name c13),
    # but every pair at or above accept inside the group they are linked to is a match, so
    # the cluster is the group, whichever record each decision named.
    assert {("c13", "c14"), ("c13", "c15"), ("c14", "c15")} <= matched
    assert not {p["decision"] for p in pairs if p["left_id"] >= "c13"} - {"match"}
    assert data["by_decision"]["match"] == len(matched)


def test_rerun_is_byte_identical(deduped: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, _data = deduped
    again, again_pairs = tmp_path / "again.csv", tmp_path / "again-pairs.csv"
    args = [str(folder / "people.csv"), "--id", "id", *field_args(),
            "--out", str(again), "--pairs", str(again_pairs)]  # fmt: skip
    cli(*args)
    assert again.read_bytes() == (folder / "clusters.csv").read_bytes()
    assert again_pairs.read_bytes() == (folder / "pairs.csv").read_bytes()


def test_cluster_id_is_the_smallest_member_in_text_order() -> None:
    ids = ["b10", "b2", "a9", "z1", "solo"]
    pairs: list[tuple[str, str, str, str, str]] = [
        ("b10", "b2", "0.9900", "match", "r"),
        ("b2", "z1", "0.9000", "match", "r"),
        ("a9", "b10", "0.6000", "review", "r"),  # review does not join clusters
    ]
    assert dedupe.cluster_ids(ids, pairs) == {
        "b10": "b10", "b2": "b10", "z1": "b10", "a9": "a9", "solo": "solo",
    }  # fmt: skip


# --- --truth -----------------------------------------------------------------------------------


def test_cluster_quality_counts_pairs_within_clusters() -> None:
    clusters = {"a": "a", "b": "a", "c": "a", "d": "d", "e": "e"}  # implies ab, ac, bc
    truth_pairs = {("a", "b"), ("d", "e")}
    got = dedupe.cluster_quality(clusters, truth_pairs)
    assert got == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "true": 2, "predicted": 3,
                   "correct": 1}  # fmt: skip
    as_clusters = {"a": "1", "b": "1", "c": "2", "d": "3", "e": "3"}  # the same truth
    assert dedupe.cluster_quality(clusters, as_clusters) == got


def test_truth_as_pairs_or_as_clusters_via_the_cli(
    deduped: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    folder, _data = deduped
    # The truth says c07/c08 are one person and c10/c11 are not: of the 3 + 1 + 1 + 3 pairs
    # the clusters imply, c10-c11 is wrong; c07-c08 is missed.
    true_pairs = [["c02", "c01"], ["c01", "c03"], ["c02", "c03"], ["c04", "c05"],
                  ["c07", "c08"], ["c13", "c14"], ["c13", "c15"], ["c14", "c15"]]  # fmt: skip
    pairs_file = write(tmp_path / "truth-pairs.csv", true_pairs, ["left_id", "right_id"])
    groups = {"c01": "p", "c02": "p", "c03": "p", "c04": "q", "c05": "q", "c07": "s",
              "c08": "s", "c10": "t", "c11": "u", "c13": "v", "c14": "v", "c15": "v"}  # fmt: skip
    clusters_file = write(tmp_path / "truth-clusters.csv", [[k, v] for k, v in groups.items()],
                          ["id", "cluster_id"])  # fmt: skip
    expected = {"precision": 0.875, "recall": 0.875, "f1": 0.875, "true": 8, "predicted": 8,
                "correct": 7}  # fmt: skip
    for truth in (pairs_file, clusters_file):
        args = [str(folder / "people.csv"), "--id", "id", *field_args(),
                "--out", str(tmp_path / "c.csv"), "--truth", str(truth), "--json"]  # fmt: skip
        assert json.loads(cli(*args))["quality"] == expected, truth
    bad = write(tmp_path / "truth-bad.csv", [["c01", "c02"]], ["a", "b"])
    with pytest.raises(BadInputError, match="left_id,right_id .* or id,cluster_id"):
        dedupe.read_truth(bad)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "line", "column", "message"),
    [
        ([*ROWS[:3], ["c02", "Ana", "Ramos", "", "", ""]], 5, "id",
         "duplicate id 'c02': lines 3 and 5"),
        ([ROWS[0], ["c09", "Ana", "Ramos", "", "", "31/02/1990"]], 3, "dob",
         "'31/02/1990' is not a date"),
        ([ROWS[0], ["", "Ana", "Ramos", "", "", ""]], 3, "id", "id may not be empty"),
    ],
)  # fmt: skip
def test_bad_input_names_file_line_and_column_and_writes_nothing(
    tmp_path: Path, rows: list[list[str]], line: int, column: str, message: str
) -> None:
    path = write(tmp_path / "in.csv", rows)
    out = tmp_path / "clusters.csv"
    with pytest.raises(BadInputError) as info:
        dedupe.dedupe_file(path, out, id_column="id", fields=FIELDS, bands=Bands(), strict=True)
    err = info.value
    assert (err.file, err.line, err.column) == (str(path), line, column)
    assert message in str(err)
    assert not out.exists()


def test_a_bad_date_is_counted_and_compared_as_text_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", [*ROWS, ["c99", "Ana", "Ramos", "", "", "31/02/1990"]])
    out = tmp_path / "clusters.csv"
    result = dedupe.dedupe_file(path, out, id_column="id", fields=FIELDS, bands=Bands())
    assert result.unparsed["birth_date"] == 1 and result.unparsed["phone"] == 0
    assert result.rows == len(ROWS) + 1 and out.exists()


def test_cli_errors_exit_2_and_write_nothing(tmp_path: Path) -> None:
    source = str(write(tmp_path / "in.csv", [*ROWS[:3], ROWS[1]]))
    out = tmp_path / "clusters.csv"
    base = [source, "--out", str(out)]
    cases = [
        ([*base, "--id", "id"], "map at least one column"),
        ([*base, "--id", "id", "--field", "surname=surname"], "unknown canonical field"),
        ([*base, "--id", "key", "--field", "last_name=surname"], "no column 'key'"),
        ([*base, "--id", "id", "--field", "last_name=surname"],
         "line 5, column 'id': duplicate id 'c02'"),
        ([*base, "--id", "id", "--field", "last_name=surname", "--bad-dates", "x"],
         "--bad-dates must be error or blank"),
        ([*base, "--id", "id", "--field", "last_name=surname", "--pairs", str(out)],
         "--pairs and --out name the same file"),
    ]  # fmt: skip
    for args, message in cases:
        output = cli(*args, code=2)
        assert message in " ".join(output.split()), (args, output)
    assert not out.exists()


def test_an_engine_failure_leaves_the_previous_output_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "in.csv", ROWS)
    out = tmp_path / "out" / "clusters.csv"
    out.parent.mkdir()
    out.write_text("previous\n", encoding="utf-8")

    def boom(*_args: object, **_kw: object) -> None:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(dedupe, "dedupe_side", boom)
    with pytest.raises(RuntimeError, match="engine exploded"):
        dedupe.dedupe_file(source, out, id_column="id", fields=FIELDS, bands=Bands())
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in out.parent.iterdir()] == ["clusters.csv"]


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="map at least one column"):
        dedupe.dedupe_file(Path("x.csv"), Path("o.csv"), id_column="id", fields={},
                           bands=Bands())  # fmt: skip


# --- the engine: a pair's features computed once -----------------------------------------------


def test_mirrored_features_equal_both_directions_computed() -> None:
    """blocking.MIRROR_SQL turns (a, b) round for (b, a): the same rows as computing both."""
    frame = prepare(
        pa.table({
            "rid": [0, 1, 2, 3],
            "first_name": ["Ana", "Ana", "Anita", "Luis"],
            "last_name": ["Quispe Rojas", "Quispe Rojas", "Quispe Rojas", "Flores"],
            "phone": ["987654321", None, "987654321", "987654321"],
            "document": ["41234567", "41234567", None, None],
            "date": ["2024-01-01", "2024-03-01", None, "2023-12-01"],
        })
    )  # fmt: skip
    frame = frame.set_column(1, "person_key", pa.array(["0", "1", "2", "3"]))

    def features(**kw: bool) -> list[tuple[Any, ...]]:
        con = blocking.connect()
        try:
            blocking.build_features(con, frame, frame, **kw)
            return sorted(con.execute("SELECT * FROM features").fetchall())
        finally:
            con.close()

    mirrored = features(self_join=True, mirror=True)
    assert mirrored == features(self_join=True)
    assert len(mirrored) == 8  # 0-1 (document); 0-2, 0-3, 2-3 (phone): each both ways
    assert all(row[0] != row[1] for row in mirrored)
