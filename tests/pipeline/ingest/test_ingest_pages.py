"""Ingest page by page in one transaction (real SQLite and PostgreSQL): a bad row on a later
page leaves the store exactly as it was, the counters add up over pages, re-ingest is a no-op."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import BadInputError
from leadlink.pipeline.ingest import stream
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.store.models import SourceRecord, Unmatched

T1 = dt.datetime(2024, 6, 1, 12, 0, 0)
T2 = dt.datetime(2024, 6, 2, 12, 0, 0)
HEADER = "driver_id,date,completed_trips"


def trips(n: int, *, start: int = 0, trips_of: int = 1) -> list[str]:
    return [f"D{i:03d},2024-03-05,{trips_of}" for i in range(start, start + n)]


def write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def dump(engine: Engine) -> list[tuple[Any, ...]]:
    rec, unm = SourceRecord.__table__, Unmatched.__table__
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(select(rec).order_by(rec.c.id))]
        out += [("unmatched", *r) for r in conn.execute(select(unm).order_by(unm.c.id))]
    return out


def test_bad_row_on_a_later_page_rolls_back_every_page(engine: Engine, tmp_path: Path) -> None:
    first = ingest_file(engine, "trips", write(tmp_path, "a.csv", trips(3)), now=T1)
    assert first.inserted == 3
    before = dump(engine)
    rows = trips(3, trips_of=9) + trips(8, start=3)  # 3 changed, then new ones
    rows[9] = "D009,2024-03-05,nine"  # line 11, on the fifth page of 2
    path = write(tmp_path, "b.csv", rows)
    calls: list[tuple[str, int, int]] = []
    with pytest.raises(BadInputError) as info:
        ingest_file(engine, "trips", path, now=T2, page_rows=2,
                    progress=lambda *a: calls.append(a))  # fmt: skip
    assert (info.value.file, info.value.line, info.value.column) == (
        str(path), 11, "completed_trips"
    )
    assert calls[-1][1] == 8  # the four pages were written before the bad one
    assert dump(engine) == before


def test_duplicate_key_across_pages_rolls_back(engine: Engine, tmp_path: Path) -> None:
    rows = [*trips(5), "D001,05/03/2024,4"]  # the same key as line 3, written as another date
    with pytest.raises(BadInputError, match=r"lines 3 and 7") as info:
        ingest_file(engine, "trips", write(tmp_path, "t.csv", rows), page_rows=2)
    assert info.value.line == 7
    assert dump(engine) == []


def test_counters_add_up_over_pages_and_reingest_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    ingest_file(engine, "trips", write(tmp_path, "a.csv", trips(4)), now=T1, page_rows=3)
    rows = trips(2) + trips(2, start=2, trips_of=5) + trips(3, start=4)
    path = write(tmp_path, "b.csv", rows)
    calls: list[tuple[str, int, int]] = []
    result = ingest_file(engine, "trips", path, now=T2, page_rows=3,
                         progress=lambda *a: calls.append(a))  # fmt: skip
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (7, 3, 2, 2)
    assert calls[-1] == ("ingest trips", 5, 5)
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
    after = dump(engine)
    again = ingest_file(engine, "trips", path, now=T2 + dt.timedelta(days=1), page_rows=2)
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (7, 0, 0, 7)
    assert dump(engine) == after


def test_parquet_bad_cell_on_a_later_page(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    drivers = [f"D{i}" for i in range(6)]
    good = pa.table({"driver_id": drivers, "date": ["2024-03-05"] * 6,
                     "completed_trips": ["1"] * 6})  # fmt: skip
    pq.write_table(good, path, row_group_size=2)
    assert ingest_file(engine, "trips", path, page_rows=2, now=T1).inserted == 6
    before = dump(engine)
    pq.write_table(good.set_column(2, "completed_trips", pa.array(["2"] * 5 + ["-1"])), path)
    with pytest.raises(BadInputError) as info:
        ingest_file(engine, "trips", path, page_rows=2, now=T2)
    assert (info.value.line, info.value.column) == (7, "completed_trips")
    assert dump(engine) == before


def test_header_only_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="header but no data"):
        ingest_file(engine, "trips", write(tmp_path, "h.csv", []), page_rows=1)


def test_cli_bad_later_page_exits_2_and_writes_nothing(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "PAGE_ROWS", 2)
    rows = trips(7)
    rows[6] = "D006,2024-02-30,1"  # line 8, the fourth page
    path = write(tmp_path, "t.csv", rows)
    failed = CliRunner().invoke(app, ["--db", db_url, "ingest", "trips", str(path)])
    assert failed.exit_code == 2
    message = " ".join(failed.stderr.split())
    assert f"{path}, line 8, column 'date'" in message
    assert dump(engine) == []
