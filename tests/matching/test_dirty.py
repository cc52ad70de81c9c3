"""Values that do not parse, kept as text (matching/dirty.py): the keys, and the model's own
comparison levels reading them, through the SQL both scorers run (compiled.compile_model)."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from leadlink.matching import dirty, model
from leadlink.matching.compiled import compile_model, levels_of
from leadlink.matching.frames import DIRTY_SCHEMA, PREPARED_SCHEMA, canonical_from_rows, prepare
from leadlink.matching.model_frame import model_frame


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("19450493", "1945-04-93"),  # no 93rd day: the digits, in date order
        ("1945-04-93", "1945-04-93"),
        ("93/04/1945", "1945-04-93"),  # DD/MM/YYYY put year first, like a parsed date
        ("31-2-1990", "1990-02-31"),
        ("1945.4.3", "1945-04-03"),  # a separator no reader takes, a date all the same
        ("ca. 1945", "1945"),  # no date's shape: its digits
        ("unknown", None),
        ("", None),
    ],
)
def test_date_digits(raw: str, key: str | None) -> None:
    assert dirty.date_digits(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("07 1234 5678", "0712345678"),  # an Australian number: no Peruvian phone
        ("(02) 9876-5432 ext", "0298765432"),
        ("123456", None),  # under 7 digits: identifies nobody
        ("000000000", None),  # a placeholder many records share
        ("n/a", None),
    ],
)
def test_phone_digits(raw: str, key: str | None) -> None:
    assert dirty.phone_digits(raw) == key


def test_without_dirty_a_value_that_does_not_parse_is_missing_as_for_our_sources() -> None:
    frame = canonical_from_rows([{"rid": 0, "birth_date": "19450493", "phone": "07 1234 5678"}])
    plain = prepare(frame)
    assert plain.schema == PREPARED_SCHEMA
    assert plain.column("birth_date").to_pylist() == [None]
    assert model_frame(plain).column("phone").to_pylist() == [None]
    kept = prepare(frame, dirty=True)
    assert kept.schema == DIRTY_SCHEMA
    assert kept.column("birth_date").to_pylist() == ["1945-04-93"]
    assert kept.column("phone").to_pylist() == [None]  # the rules never see it
    assert model_frame(kept).column("phone").to_pylist() == ["0712345678"]
    assert model_frame(kept).column("phone7").to_pylist() == ["2345678"]


def _settings(field: str) -> dict[str, Any]:
    """A model of one comparison with made-up m and u: only its levels are looked at."""
    comparison = model.comparisons_for({field})[0].get_comparison("duckdb").as_dict()
    for level in comparison["comparison_levels"]:
        if not level.get("is_null_level"):
            level.update(m_probability=0.5, u_probability=0.01)
    return {"probability_two_random_records_match": 0.001, "comparisons": [comparison]}


def level_of(field: str, left: str | None, right: str | None) -> str:
    """The label of the level the model gives two raw values of ``field``, as `link` feeds
    them (prepare with dirty=True, then the model frame) to the compiled model's SQL."""
    settings = _settings(field)
    frames = [model_frame(prepare(canonical_from_rows([{"rid": i, field: v}]), dirty=True))
              for i, v in enumerate((left, right))]  # fmt: skip
    pairs = pa.table(
        {f"{c}_{side}": frame.column(c if c != "unique_id" else "unique_id")
         for side, frame in zip("lr", frames, strict=True)
         for c in ("unique_id", field, *(("phone7",) if field == "phone" else ()))}
    )  # fmt: skip
    con = duckdb.connect()
    con.register("pairs_in", pairs)
    sql = compile_model(settings, set()).select("pairs_in", -1e9)
    (row,) = con.execute(sql).fetchall()
    level = json.loads(row[4])[field]["level"]
    if level == -1:
        return "null"
    labels = {lv.gamma: lv.spec["label_for_charts"] for lv in levels_of(settings["comparisons"][0])}
    return str(labels[level])


DATE_DL1 = "Damerau-Levenshtein distance of birth_date <= 1"
DATE_DL2 = "Damerau-Levenshtein distance of birth_date <= 2"


@pytest.mark.parametrize(
    ("field", "left", "right", "label"),
    [
        ("birth_date", "1945-04-03", "03/04/1945", "Exact match on birth_date"),
        # FEBRL's typo: one wrong digit is close, as Splink's DateOfBirthComparison reads it.
        ("birth_date", "1945-04-03", "19450493", DATE_DL1),
        ("birth_date", "1945-04-03", "93/04/1945", DATE_DL1),
        ("birth_date", "19450493", "1945-04-93", "Exact match on birth_date"),
        ("birth_date", "1945-04-03", "1945-04-39", DATE_DL2),
        ("birth_date", "1945-04-03", "1987-13-45", "All other comparisons"),
        ("birth_date", "1945-04-03", "unknown", "null"),
        ("phone", "987654321", "+51 987 654 321", "Exact match on phone"),
        ("phone", "07 1234 5678", "0712345678", "Exact match on phone"),
        ("phone", "(02) 9876 5432", "9876 5432 x", "last 7 digits agree"),
        ("phone", "07 1234 5678", "07 1234 5679", "Damerau-Levenshtein distance of phone <= 1"),
        ("phone", "07 1234 5678", "03 9999 0000", "All other comparisons"),
        ("phone", "000000000", "000000000", "null"),
        ("phone", "123456", "123456", "null"),
    ],
)  # fmt: skip
def test_dirty_values_fall_in_the_levels_that_suit_them(
    field: str, left: str, right: str, label: str
) -> None:
    assert level_of(field, left, right) == label
