"""The model frame is one column-wise definition (model_frame.model_frame): it gives exactly
the rows of the SQL it replaced, on small and large generated frames with every edge (NULL and
empty lists, phones shorter than 7 digits, NULL values), and stays fast for one row."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from leadlink.matching.frames import PREPARED_SCHEMA
from leadlink.matching.model_frame import FIELDS, MODEL_FRAME_SCHEMA, model_frame

# The model frame as the batch once computed it in DuckDB: the reference of the definition.
REFERENCE_SQL = """
SELECT rid AS unique_id,
  given, family[1] AS family1, family[2] AS family2,
  CASE WHEN len(family) = 0 AND len(tokens) > 0 THEN tokens END AS name_bag,
  phone, right(phone, 7) AS phone7, ids[1] AS doc, plate, brand_model, date,
  birth_date, postcode, city, state, address, street_number, email
FROM src
"""

LISTS: list[list[str] | None] = [None, [], ["ana"], ["ana", "ruiz"], ["ana", "ruiz", "gil"]]
TEXTS = [None, "", "12", "123456", "1234567", "12345678", "612345678901", "ñandú"]
DATES = [None, dt.date(2024, 1, 1), dt.date(1999, 12, 31)]


def generated(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    text_fields = ("person_key", "given", "phone", "plate", "brand_model", "driver_id",
                   "birth_date", "postcode", "city", "state", "address", "street_number",
                   "email")  # fmt: skip
    rows: list[dict[str, Any]] = []
    for rid in range(n):
        row: dict[str, Any] = {"rid": rid, "date": rng.choice(DATES)}
        row |= {name: rng.choice(TEXTS) for name in text_fields}
        row |= {name: rng.choice(LISTS) for name in ("tokens", "blocks", "ids", "family")}
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=PREPARED_SCHEMA)


def reference(prepared: pa.Table) -> pa.Table:
    con = duckdb.connect(":memory:")
    try:
        con.register("src", prepared)
        return con.sql(REFERENCE_SQL).to_arrow_table().cast(MODEL_FRAME_SCHEMA)
    finally:
        con.close()


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 64, 65, 5000])
def test_the_model_frame_equals_its_sql_reference(rows: int) -> None:
    prepared = generated(rows, seed=rows)
    got = model_frame(prepared)
    assert got.schema == MODEL_FRAME_SCHEMA
    assert got.to_pylist() == reference(prepared).to_pylist()


def test_the_model_frame_of_a_frame_in_many_chunks() -> None:
    parts = [generated(30, seed=s) for s in range(4)]
    chunked = pa.concat_tables(parts)
    assert chunked.column("family").num_chunks == 4
    assert model_frame(chunked).to_pylist() == reference(chunked).to_pylist()


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        ("family", None, "family1", None),
        ("family", [], "family2", None),
        ("family", ["ruiz"], "family2", None),
        ("ids", [], "doc", None),
        ("ids", None, "doc", None),
        ("phone", "123", "phone7", "123"),
        ("phone", "612345678", "phone7", "2345678"),
        ("phone", None, "phone7", None),
    ],
)
def test_edges(field: str, value: Any, column: str, expected: Any) -> None:
    (row,) = generated(1, seed=3).to_pylist()
    prepared = pa.Table.from_pylist([{**row, field: value}], schema=PREPARED_SCHEMA)
    assert model_frame(prepared).column(column).to_pylist() == [expected]


def test_full_names_only_fill_the_name_bag() -> None:
    (row,) = generated(1, seed=5).to_pylist()
    rows = [{**row, "rid": 1, "family": [], "tokens": ["ana", "ruiz"]},
            {**row, "rid": 2, "family": ["ruiz"], "tokens": ["ana", "ruiz"]},
            {**row, "rid": 3, "family": [], "tokens": []}]  # fmt: skip
    frame = model_frame(pa.Table.from_pylist(rows, schema=PREPARED_SCHEMA))
    assert frame.column("name_bag").to_pylist() == [["ana", "ruiz"], None, None]
    assert set(FIELDS) <= set(frame.column_names)


def test_one_row_is_fast() -> None:
    """The online path builds a frame per lead: well under a millisecond (about 0.2 ms here),
    bounded loosely so a busy machine does not fail it."""
    one = generated(1, seed=9)
    model_frame(one)
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        model_frame(one)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[len(timings) // 2] < 0.002
