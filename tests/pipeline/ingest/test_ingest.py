"""Ingest against real databases (every test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import BadInputError, UsageError
from leadlink.pipeline.ingest import files as ingest_mod
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.sources import SOURCES
from leadlink.store import records
from leadlink.store.models import SourceRecord, Unmatched

T1 = dt.datetime(2024, 6, 1, 12, 0, 0)
T2 = dt.datetime(2024, 6, 2, 12, 0, 0)

LEAD_COLS = list(SOURCES["leads"].columns)
# Sample files, one per source (long header lines are data, not code).
SAMPLE_FILES = {
    "leads": """\
lead_id,external_id,first_name,middle_name,last_name,phone,plate,car_brand,car_model,car_color,created_at,status,park_name,city
L1,E1,Juan,Carlos,Quispe Mamani,987654321,ABC-123,Toyota,Yaris,rojo,05/03/2024,new,Lima Norte,Lima
L2,,Ana,,Flores,+51 987 654 322,,Kia,Rio,,2024-03-06 09:15,new,Lima Norte,Lima
L3,E3,Luis,,Huamán,987654323,XYZ999,,,,20240307,,,Arequipa
""",
    "scouting": """\
scout_id,driver_name,driver_phone,driver_license,registration_date
S1,Juan Quispe,987654321,Q12345678,05/03/2024
S1,Rosa Mamani,,,2024-03-08
""",
    "migrations": """\
driver_id,driver_name,scout_id,hire_date
D1,Juan Quispe,S1,2024-03-10
D2,Rosa Mamani,,11/03/2024
""",
    "drivers": """\
driver_id,park_id,first_name,last_name,phone,license,document,plate,car_brand,car_model,hire_date,fire_date,work_status
D1,P1,Juan,Quispe,987654321,Q12345678,12345678,ABC123,Toyota,Yaris,2024-03-10,,working
D2,P1,Rosa,Mamani,,,,,,,20240311,30/04/2024,fired
""",
    "trips": """\
driver_id,date,completed_trips
D1,2024-03-11,3
D1,12/03/2024,0
D2,20240312,12
""",
    "payments": """\
payment_id,driver_id,driver_name,milestone,amount,paid_at
PAY1,D1,Juan Quispe,M1,25,2024-03-20
PAY2,,Rosa Mamani,M25,100.00,21/03/2024
""",
}
SAMPLES: dict[str, list[dict[str, str]]] = {
    source: list(csv.DictReader(io.StringIO(text))) for source, text in SAMPLE_FILES.items()
}
# (source_pk, event_date) each sample row should get.
EXPECTED_KEYS: dict[str, list[tuple[str, dt.date]]] = {
    "leads": [
        ("L1", dt.date(2024, 3, 5)),
        ("L2", dt.date(2024, 3, 6)),
        ("L3", dt.date(2024, 3, 7)),
    ],
    "scouting": [
        (
            hashlib.sha256(b"S1|Juan Quispe|987654321|Q12345678|05/03/2024").hexdigest()[:16],
            dt.date(2024, 3, 5),
        ),
        (hashlib.sha256(b"S1|Rosa Mamani|||2024-03-08").hexdigest()[:16], dt.date(2024, 3, 8)),
    ],
    "migrations": [("D1", dt.date(2024, 3, 10)), ("D2", dt.date(2024, 3, 11))],
    "drivers": [("D1", dt.date(2024, 3, 10)), ("D2", dt.date(2024, 3, 11))],
    "trips": [
        ("D1|2024-03-11", dt.date(2024, 3, 11)),
        ("D1|2024-03-12", dt.date(2024, 3, 12)),
        ("D2|2024-03-12", dt.date(2024, 3, 12)),
    ],
    "payments": [("PAY1", dt.date(2024, 3, 20)), ("PAY2", dt.date(2024, 3, 21))],
}


def csv_text(rows: list[dict[str, str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(list(rows[0]))
    writer.writerows([list(r.values()) for r in rows])
    return out.getvalue()


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def leads_csv(rows: list[dict[str, str]] | None = None) -> str:
    return csv_text(rows or SAMPLES["leads"])


def dump(engine: Engine) -> list[tuple[Any, ...]]:
    """Every row of source_record and unmatched, in a stable order."""
    rec, unm = SourceRecord.__table__, Unmatched.__table__
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(select(rec).order_by(rec.c.id))]
        out += [("unmatched", *r) for r in conn.execute(select(unm).order_by(unm.c.id))]
    return out


def stored(engine: Engine, source: str) -> dict[str, Any]:
    rec = SourceRecord.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(rec).where(rec.c.source == source)).mappings().all()
    return {r["source_pk"]: dict(r) for r in rows}


# --- happy paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(SAMPLES))
def test_each_source_csv(engine: Engine, tmp_path: Path, source: str) -> None:
    path = write(tmp_path, f"{source}.csv", csv_text(SAMPLES[source]))
    result = ingest_file(engine, source, path, now=T1)
    n = len(SAMPLES[source])
    assert result.as_dict() == {
        "source": source,
        "file": str(path),
        "rows": n,
        "inserted": n,
        "updated": 0,
        "unchanged": 0,
    }
    got = stored(engine, source)
    assert sorted(got) == sorted(k for k, _ in EXPECTED_KEYS[source])
    for (key, event_date), raw in zip(EXPECTED_KEYS[source], SAMPLES[source], strict=True):
        row = got[key]
        assert row["event_date"] == event_date
        assert row["ingested_at"] == T1 and row["updated_at"] == T1
        assert set(row["data"]) == set(raw)
        canonical = json.dumps(
            row["data"], sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        assert row["content_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
        assert ingest_mod.content_hash(row["data"]) == row["content_hash"]
        for col, kind in SOURCES[source].kinds.items():
            if kind == "date" and raw[col]:
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?", row["data"][col])
    if source == "leads":
        assert got["L1"]["data"]["created_at"] == "2024-03-05"
        assert got["L2"]["data"]["created_at"] == "2024-03-06T09:15:00"
        assert got["L3"]["data"]["last_name"] == "Huamán"


@pytest.mark.parametrize("source", ["leads", "trips", "payments"])
def test_parquet(engine: Engine, tmp_path: Path, source: str) -> None:
    rows = SAMPLES[source]
    arrays: dict[str, Any] = {c: [r[c] for r in rows] for c in rows[0]}
    if source == "trips":  # typed Parquet columns: date32 and int64
        arrays["date"] = pa.array(
            [dt.date(2024, 3, 11), dt.date(2024, 3, 12), dt.date(2024, 3, 12)], pa.date32()
        )
        arrays["completed_trips"] = pa.array([3, 0, 12], pa.int64())
    path = tmp_path / f"{source}.parquet"
    pq.write_table(pa.table(arrays), path)
    result = ingest_file(engine, source, path, now=T1)
    assert (result.rows, result.inserted) == (len(rows), len(rows))
    got = stored(engine, source)
    assert sorted(got) == sorted(k for k, _ in EXPECTED_KEYS[source])
    # Same data as the CSV of the same rows: re-ingesting that CSV changes nothing.
    again = ingest_file(engine, source, write(tmp_path, "same.csv", csv_text(rows)), now=T2)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(rows))


def test_bom_semicolon_and_extra_columns(engine: Engine, tmp_path: Path) -> None:
    rows = [{**r, "campaign": f"fb-{i}", "notes": "a; b"} for i, r in enumerate(SAMPLES["leads"])]
    text = csv_text(rows, ";")
    assert '"a; b"' in text
    path = write(tmp_path, "leads.csv", "\ufeff" + text)
    assert ingest_file(engine, "leads", path).inserted == 3
    got = stored(engine, "leads")
    assert got["L1"]["data"]["campaign"] == "fb-0"
    assert got["L1"]["data"]["notes"] == "a; b"
    assert "\ufefflead_id" not in got["L1"]["data"]


def test_cp1252_needs_the_option(engine: Engine, tmp_path: Path) -> None:
    rows = [dict(SAMPLES["leads"][0]), dict(SAMPLES["leads"][1], last_name="Peña Ñahui")]
    path = write(tmp_path, "excel.csv", leads_csv(rows), encoding="cp1252")
    with pytest.raises(BadInputError) as info:
        ingest_file(engine, "leads", path)
    assert info.value.line == 3
    message = str(info.value)
    assert str(path) in message and "not UTF-8" in message and "--encoding cp1252" in message
    assert dump(engine) == []
    assert ingest_file(engine, "leads", path, encoding="cp1252").inserted == 2
    assert stored(engine, "leads")["L2"]["data"]["last_name"] == "Peña Ñahui"


def test_reingest_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", leads_csv())
    ingest_file(engine, "leads", path, now=T1)
    before = dump(engine)
    result = ingest_file(engine, "leads", path, now=T2)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 3)
    assert dump(engine) == before  # updated_at did not move


def test_changed_row_is_updated_and_leaves_unmatched(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine, "leads", write(tmp_path, "a.csv", leads_csv()), now=T1)
    ids = {pk: row["id"] for pk, row in stored(engine, "leads").items()}
    with engine.begin() as conn:
        conn.execute(
            insert(Unmatched.__table__),
            [
                {
                    "record_id": ids[pk],
                    "reason": "NO_CANDIDATES",
                    "candidates": [],
                    "band": "reject",
                    "updated_at": T1,
                }
                for pk in ("L1", "L2")
            ],
        )
    rows = [
        dict(SAMPLES["leads"][0], phone="999888777"),
        SAMPLES["leads"][1],
        dict(SAMPLES["leads"][2], lead_id="L4"),
    ]
    result = ingest_file(engine, "leads", write(tmp_path, "b.csv", leads_csv(rows)), now=T2)
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (3, 1, 1, 1)
    got = stored(engine, "leads")
    assert got["L1"]["data"]["phone"] == "999888777"
    assert (got["L1"]["ingested_at"], got["L1"]["updated_at"]) == (T1, T2)
    assert got["L1"]["id"] == ids["L1"]
    assert got["L2"]["updated_at"] == T1 and got["L3"]["updated_at"] == T1  # L3 not in file
    assert got["L4"]["ingested_at"] == T2
    with engine.connect() as conn:
        left = conn.execute(select(Unmatched.__table__.c.record_id)).scalars().all()
    assert left == [ids["L2"]]


def test_scouting_record_id_and_trips_key_normalised(engine: Engine, tmp_path: Path) -> None:
    rows = [dict(r, record_id=rid) for r, rid in zip(SAMPLES["scouting"], ["R1", ""], strict=True)]
    ingest_file(engine, "scouting", write(tmp_path, "s.csv", csv_text(rows)))
    assert sorted(stored(engine, "scouting")) == sorted(["R1", EXPECTED_KEYS["scouting"][1][0]])
    trips = [
        {"driver_id": "D1", "date": "11/03/2024", "completed_trips": "3"},
        {"driver_id": "D1", "date": "2024-03-11", "completed_trips": "4"},
    ]
    with pytest.raises(BadInputError, match=r"lines 2 and 3") as info:
        ingest_file(engine, "trips", write(tmp_path, "t.csv", csv_text(trips)))
    assert info.value.column == "driver_id, date" and "D1|2024-03-11" in str(info.value)


def test_many_rows_in_several_chunks(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "CHUNK", 7)
    rows = [dict(SAMPLES["leads"][0], lead_id=f"L{i:03d}") for i in range(50)]
    path = write(tmp_path, "leads.csv", leads_csv(rows))
    calls: list[tuple[str, int, int]] = []
    result = ingest_file(engine, "leads", path, progress=lambda *a: calls.append(a))
    assert result.inserted == 50 and len(stored(engine, "leads")) == 50
    assert calls[0] == ("ingest leads", 7, 50) and calls[-1] == ("ingest leads", 50, 50)
    changed = [dict(r, city="Cusco") if i % 3 == 0 else r for i, r in enumerate(rows)]
    result = ingest_file(engine, "leads", write(tmp_path, "b.csv", leads_csv(changed)))
    assert (result.inserted, result.updated, result.unchanged) == (0, 17, 33)


def test_sources_do_not_share_keys(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine, "drivers", write(tmp_path, "d.csv", SAMPLE_FILES["drivers"]), now=T1)
    ingest_file(engine, "migrations", write(tmp_path, "m.csv", SAMPLE_FILES["migrations"]), now=T1)
    driver_d1 = stored(engine, "drivers")["D1"]
    with engine.begin() as conn:
        conn.execute(
            insert(Unmatched.__table__),
            {
                "record_id": driver_d1["id"],
                "reason": "NO_CANDIDATES",
                "candidates": [],
                "updated_at": T1,
            },
        )
    changed = SAMPLE_FILES["migrations"].replace("Juan Quispe", "Juan Quispe Q")
    result = ingest_file(engine, "migrations", write(tmp_path, "m2.csv", changed), now=T2)
    assert (result.updated, result.unchanged) == (1, 1)
    assert stored(engine, "drivers")["D1"] == driver_d1
    with engine.connect() as conn:
        assert conn.execute(select(Unmatched.__table__.c.record_id)).scalars().all() == [
            driver_d1["id"]
        ]


def test_now_is_stored_as_naive_utc(engine: Engine, tmp_path: Path) -> None:
    lima = dt.timezone(dt.timedelta(hours=-5))
    ingest_file(
        engine,
        "trips",
        write(tmp_path, "t.csv", SAMPLE_FILES["trips"]),
        now=dt.datetime(2024, 6, 1, 7, 0, tzinfo=lima),
    )
    assert {r["ingested_at"] for r in stored(engine, "trips").values()} == {T1}


@given(st.dictionaries(st.text(), st.text()))
def test_canonical_json_is_sorted_compact_json(data: dict[str, str]) -> None:
    expected = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert records.canonical_json(data) == expected


def test_failure_while_writing_rolls_everything_back(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_file(engine, "leads", write(tmp_path, "a.csv", leads_csv()), now=T1)
    before = dump(engine)

    def boom(*_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_mod.records_store, "forget_unmatched", boom)
    rows = [dict(r, city="Cusco") for r in SAMPLES["leads"]] + [
        dict(SAMPLES["leads"][0], lead_id="L9")
    ]
    with pytest.raises(RuntimeError):
        ingest_file(engine, "leads", write(tmp_path, "b.csv", leads_csv(rows)), now=T2)
    assert dump(engine) == before


# --- bad input: clear error, nothing written -------------------------------------------------

HEADER = ",".join(LEAD_COLS)
GOOD = leads_csv()


def _lead_line(**changes: str) -> str:
    return ",".join(dict(SAMPLES["leads"][0], **changes)[c] for c in LEAD_COLS)


def _replace_cell(source: str, row: int, column: str, value: str) -> str:
    rows = [dict(r) for r in SAMPLES[source]]
    rows[row][column] = value
    return csv_text(rows)


# (id, source, file content, line, column, fragment of the message)
BAD: list[tuple[str, str, str | bytes, int | None, str | None, str]] = [
    (
        "missing-column",
        "leads",
        GOOD.replace(",phone,", ",fone,", 1),
        1,
        "phone",
        "missing required column",
    ),
    (
        "bad-date",
        "leads",
        _replace_cell("leads", 1, "created_at", "2024-02-30"),
        3,
        "created_at",
        "'2024-02-30' is not a date",
    ),
    (
        "text-date",
        "leads",
        _replace_cell("leads", 2, "created_at", "March 5th"),
        4,
        "created_at",
        "DD/MM/YYYY",
    ),
    (
        "bad-int",
        "trips",
        _replace_cell("trips", 0, "completed_trips", "3.5"),
        2,
        "completed_trips",
        "'3.5' is not a whole number",
    ),
    (
        "negative-int",
        "trips",
        _replace_cell("trips", 1, "completed_trips", "-1"),
        3,
        "completed_trips",
        "whole number",
    ),
    (
        "decimal-comma",
        "payments",
        _replace_cell("payments", 1, "amount", "25,00"),
        3,
        "amount",
        "'25,00' is not an amount",
    ),
    (
        "bad-milestone",
        "payments",
        _replace_cell("payments", 0, "milestone", "M2"),
        2,
        "milestone",
        "expected one of M1, M5, M25",
    ),
    (
        "empty-not-null",
        "leads",
        _replace_cell("leads", 1, "lead_id", "  "),
        3,
        "lead_id",
        "may not be empty",
    ),
    (
        "duplicate-id",
        "leads",
        GOOD + _lead_line(first_name="Otro") + "\n",
        5,
        "lead_id",
        "duplicate record key 'L1' (same lead_id): lines 2 and 5",
    ),
    (
        "non-utf8",
        "leads",
        GOOD.encode() + _lead_line(lead_id="L7", city="Ñaña").encode("cp1252"),
        5,
        None,
        "not UTF-8",
    ),
    ("empty-file", "leads", b"", None, None, "no rows"),
    ("header-only", "leads", HEADER + "\n", None, None, "no rows"),
    ("binary", "leads", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\x00", 3, None, "binary file"),
    (
        "long-line",
        "leads",
        HEADER + "\n" + _lead_line(city="x" * (2 << 20)) + "\n",
        2,
        None,
        "1 MiB",
    ),
    (
        "ragged",
        "leads",
        GOOD + _lead_line(lead_id="L8") + ",extra\n",
        5,
        None,
        "15 values but the header has 14",
    ),
    ("unclosed-quote", "leads", GOOD + _lead_line(lead_id='"L8') + "\n", 5, None, "never closed"),
    (
        "duplicate-header",
        "leads",
        GOOD.replace("city", "city,city", 1),
        1,
        None,
        "duplicate column name(s) in the header: city",
    ),
]


@pytest.mark.parametrize(
    ("source", "content", "line", "column", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_input_names_the_place_and_writes_nothing(
    engine: Engine,
    tmp_path: Path,
    source: str,
    content: str | bytes,
    line: int | None,
    column: str | None,
    fragment: str,
) -> None:
    ingest_file(engine, source, write(tmp_path, "good.csv", csv_text(SAMPLES[source])), now=T1)
    if source != "leads":
        ingest_file(engine, "leads", write(tmp_path, "leads.csv", GOOD), now=T1)
    before = dump(engine)
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(BadInputError) as info:
        ingest_file(engine, source, path, now=T2)
    err = info.value
    assert err.file == str(path) and str(path) in str(err)
    assert err.line == line and err.column == column
    if line is not None:
        assert f"line {line}" in str(err)
    if column is not None:
        assert f"column '{column}'" in str(err)
    assert fragment in str(err)
    assert len(str(err)) < 1000
    assert dump(engine) == before


def test_usage_errors(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", GOOD)
    with pytest.raises(UsageError, match="leads, scouting, migrations, drivers, trips, payments"):
        ingest_file(engine, "lead", path)
    with pytest.raises(UsageError, match="unknown text encoding 'klingon'"):
        ingest_file(engine, "leads", path, encoding="klingon")
    with pytest.raises(BadInputError, match="file not found"):
        ingest_file(engine, "leads", tmp_path / "nope.csv")
    assert dump(engine) == []


_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
_lead = st.fixed_dictionaries(
    {c: _text for c in LEAD_COLS}
    | {
        "lead_id": st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1
        ).filter(str.strip),
        "created_at": st.sampled_from(
            ["2024-03-05", "2024-03-05 10:00", "20240305", "05/03/2024", "x"]
        )
        | st.dates().map(str),
    }
)


def _body(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([[r[c] for c in LEAD_COLS] for r in rows])
    return out.getvalue()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.binary(max_size=300) | st.lists(_lead, min_size=1, max_size=4).map(_body))
def test_arbitrary_rows_are_bad_input_or_stored_exactly(
    engine: Engine, tmp_path: Path, body: str | bytes
) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(HEADER.encode() + b"\n" + (body.encode() if isinstance(body, str) else body))
    before = dump(engine)
    try:
        result = ingest_file(engine, "leads", path)
    except BadInputError:
        event("refused")
        assert dump(engine) == before
        return
    event("stored")
    got = stored(engine, "leads")
    for row in csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")):
        data = got[row["lead_id"].strip()]["data"]
        assert data["city"] == row["city"].strip() and data["phone"] == row["phone"].strip()
    assert result.rows == result.inserted + result.updated + result.unchanged


# --- the real command line -------------------------------------------------------------------


def test_cli_ingest(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    good = write(tmp_path, "leads.csv", GOOD)
    ok = runner.invoke(app, ["--db", db_url, "ingest", "leads", str(good), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {
        "source": "leads",
        "file": str(good),
        "rows": 3,
        "inserted": 3,
        "updated": 0,
        "unchanged": 0,
    }
    bad = write(tmp_path, "bad.csv", _replace_cell("leads", 0, "created_at", "32/01/2024"))
    failed = runner.invoke(app, ["--db", db_url, "ingest", "leads", str(bad)])
    assert failed.exit_code == 2
    message = " ".join(failed.stderr.split())
    assert "line 2, column 'created_at'" in message and "'32/01/2024' is not a date" in message
    unknown = runner.invoke(app, ["--db", db_url, "ingest", "nope", str(good)])
    assert unknown.exit_code == 2 and "unknown source" in unknown.stderr
