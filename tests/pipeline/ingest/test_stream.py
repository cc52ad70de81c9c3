"""The streamed reader: pages, blocks and line numbers across both (no database)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadlink.errors import BadInputError
from leadlink.pipeline.ingest import stream
from leadlink.pipeline.ingest.readers import Validator, read_table
from leadlink.sources import SOURCES

TRIPS = SOURCES["trips"]
HEADER = "driver_id,date,completed_trips,note"


def write(tmp_path: Path, content: str | bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def pages(path: Path, page_rows: int, encoding: str | None = None) -> list[list[stream.Row]]:
    with stream.open_table(path, encoding=encoding, page_rows=page_rows) as table:
        return list(table.pages)


def validated(path: Path, page_rows: int, encoding: str | None = None) -> list[tuple[int, str]]:
    """(line, key) of every row, validated page by page as ingest does."""
    with stream.open_table(path, encoding=encoding, page_rows=page_rows) as table:
        validator = Validator(table.file, table.columns, TRIPS, delimiter=table.delimiter)
        return [(r.line, r.source_pk) for page in table.pages for r in validator.page(page)]


def bad(path: Path, page_rows: int = 2, encoding: str | None = None) -> BadInputError:
    with pytest.raises(BadInputError) as info:
        validated(path, page_rows, encoding)
    return info.value


TEXT = (
    f"{HEADER}\r\n"
    "D1,2024-03-05,1,\r\n"
    "\r\n"
    'D2,2024-03-05,2,"three\r\nphysical\nlines"\r\n'
    "D3,2024-03-05,3,é\r"
    "D4,2024-03-05,4,\n"
    "D5,2024-03-05,5,last\r\n"
)
LINES = [2, 4, 7, 8, 9]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 20])
@pytest.mark.parametrize("page_rows", [1, 2, 5, 100])
def test_lines_across_pages_blocks_and_quoted_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, page_rows: int
) -> None:
    # Tiny blocks cut \r\n pairs, the two bytes of 'é' and the BOM in two.
    monkeypatch.setattr(stream, "BLOCK_BYTES", block)
    path = write(tmp_path, b"\xef\xbb\xbf" + TEXT.encode())
    got = pages(path, page_rows)
    assert [len(p) for p in got][:-1] == [page_rows] * (len(got) - 1)
    assert [line for page in got for line, _ in page] == LINES
    rows = [values for page in got for _, values in page]
    assert rows[1][3] == "three\r\nphysical\nlines" and rows[2][3] == "é"
    assert read_table(path).rows == [row for page in got for row in page]
    # A bad value after the quoted one, on a later page, names its own physical line.
    error = bad(write(tmp_path, TEXT.replace("D4,2024-03-05,4", "D4,2024-03-05,x")), page_rows)
    assert (error.line, error.column) == (8, "completed_trips")


def test_duplicate_key_on_a_later_page_names_both_lines(tmp_path: Path) -> None:
    text = f"{HEADER}\nD1,2024-03-05,1,\nD2,2024-03-05,1,\nD3,2024-03-05,1,\nD1,05/03/2024,2,\n"
    error = bad(write(tmp_path, text), page_rows=1)
    assert error.line == 5 and "lines 2 and 5" in str(error)
    assert error.column == "driver_id, date"


@pytest.mark.parametrize("block", [3, 1 << 20])
def test_bad_bytes_on_a_later_block_name_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", block)
    head = f"{HEADER}\r\nD1,2024-03-05,1,é\r\nD2,2024-03-05,1,\"two\r\nlines\"\r\n".encode()
    error = bad(write(tmp_path, head + b"D3,2024-03-05,1,\xff\r\n"))
    assert error.line == 5 and "not UTF-8" in str(error) and "cp1252" in str(error)
    error = bad(write(tmp_path, head + b"D3,2024-03-05,1,\x00\r\n"))
    assert error.line == 5 and "NUL bytes" in str(error)
    error = bad(write(tmp_path, head + b"D3,2024-03-05,1,\xc3"))  # cut inside a character
    assert error.line == 5 and "not UTF-8" in str(error)
    cp = "\r\n".join([HEADER, "D1,2024-03-05,1,café", "D2,2024-03-05,1,x"]).encode("cp1252")
    error = bad(write(tmp_path, cp + b"\r\nD3,2024-03-05,1,\x81\r\n"), encoding="cp1252")
    assert error.line == 4 and "cannot be decoded as cp1252" in str(error)
    assert validated(write(tmp_path, cp), 1, encoding="cp1252") == [
        (2, "D1|2024-03-05"), (3, "D2|2024-03-05")
    ]  # fmt: skip
    utf16 = write(tmp_path, f"{HEADER}\nD1,2024-03-05,1,ñ\n\nD2,2024-03-05,1,\n".encode("utf-16"))
    assert "--encoding utf-16" in str(bad(utf16))
    assert validated(utf16, 1, encoding="utf-16") == [(2, "D1|2024-03-05"), (4, "D2|2024-03-05")]


def test_unclosed_quote_on_a_later_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 5)
    text = f'{HEADER}\nD1,2024-03-05,1,\nD2,2024-03-05,1,\nD3,2024-03-05,1,"never\nclosed\n'
    error = bad(write(tmp_path, text), page_rows=1)
    assert error.line == 4 and "never closed" in str(error)


def test_a_line_without_end_is_refused_without_being_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "MAX_LINE_CHARS", 100)
    monkeypatch.setattr(stream, "BLOCK_BYTES", 16)
    error = bad(write(tmp_path, f"{HEADER}\nD1,2024-03-05,1,\n" + "x," * 200))
    assert error.line == 3 and "longer than 100 characters" in str(error)


def test_parquet_pages_and_a_bad_cell_on_a_later_page(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    drivers = [f"D{i}" for i in range(7)]
    table = pa.table({"driver_id": drivers, "date": ["2024-03-05"] * 7,
                      "completed_trips": [1, 2, 3, 4, 5, 6, 7]})  # fmt: skip
    pq.write_table(table, path, row_group_size=3)  # row groups of 3, pages of 2
    got = pages(path, 2)
    assert [line for page in got for line, _ in page] == list(range(2, 9))
    assert max(len(p) for p in got) <= 2
    pq.write_table(table.set_column(2, "completed_trips", pa.array(["1"] * 5 + ["x", "1"])), path)
    error = bad(path, page_rows=2)
    assert (error.line, error.column) == (7, "completed_trips")
    listed = pa.table({"driver_id": drivers, "date": ["2024-03-05"] * 7,
                       "completed_trips": [[1]] * 7})  # fmt: skip
    pq.write_table(listed, path)
    assert bad(path, page_rows=2).line == 2


rows_st = st.lists(
    st.lists(st.text(alphabet="ab,;\"\r\n é", max_size=6), min_size=2, max_size=2),
    min_size=1, max_size=12,
)  # fmt: skip


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(rows=rows_st, terminator=st.sampled_from(["\n", "\r\n", "\r"]),
       block=st.integers(1, 9), page_rows=st.integers(1, 4))  # fmt: skip
def test_same_records_as_the_csv_module_on_the_whole_text(
    tmp_path: Path, rows: list[list[str]], terminator: str, block: int, page_rows: int
) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows([["h1", "h2"], *rows])
    text = out.getvalue()
    expected, reader = [], csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        fields = next(reader, None)
        if fields is None:
            break
        if len(fields) > 1 or "".join(fields).strip():
            expected.append((start, [f.strip() for f in fields]))
    original = stream.BLOCK_BYTES
    stream.BLOCK_BYTES = block
    try:
        got = [row for page in pages(write(tmp_path, text), page_rows) for row in page]
    finally:
        stream.BLOCK_BYTES = original
    assert [(1, ["h1", "h2"]), *got] == expected
