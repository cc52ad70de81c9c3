"""`leadlink ingest SOURCE --from URL --query Q`: a source read from a partner's PostgreSQL.

The partner's database is a real one on the suite's PostgreSQL server: a scratch database
with a `crm` schema shaped like the old system's (Spanish column names, a view over a table,
timestamps and numbers typed), read by the real CLI into a real store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, column, create_engine, insert, select, table, text
from tests.conftest import PG_ADMIN_URL
from tests.factories import NOW, write_csv
from tests.partner_crm import partner_database
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import BadInputError
from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.ingest.query import ingest_query
from leadlink.store.models import SourceRecord

PASSWORD = "Zq7pSecretWord"
PARTNER_SCHEMA = """
CREATE SCHEMA crm;
CREATE TABLE crm.prospecto (
  id_prospecto integer PRIMARY KEY, id_externo bigint, nombres text, segundo_nombre text,
  apellidos text, celular text, placa text, marca text, modelo text, color text,
  creado timestamp NOT NULL, estado text, flota text, ciudad text, creado_texto text);
CREATE VIEW crm.v_leads AS
  SELECT 'L' || lpad(id_prospecto::text, 7, '0') AS lead_id, id_externo AS external_id,
         nombres AS first_name, segundo_nombre AS middle_name, apellidos, celular,
         placa AS plate, marca AS car_brand, modelo AS car_model, color AS car_color,
         creado, estado AS status, flota AS park_name, ciudad AS city, creado_texto
  FROM crm.prospecto;
CREATE FUNCTION crm.borrar() RETURNS integer LANGUAGE sql AS
  'DELETE FROM crm.prospecto; SELECT 1';
"""
MAP = ["--map", "last_name=apellidos", "--map", "phone=celular", "--map", "created_at=creado"]
QUERY = "SELECT * FROM crm.v_leads WHERE city LIKE '%a%' ORDER BY lead_id"

runner = CliRunner()


def partner_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(1, 8):
        rows.append({
            "id_prospecto": i, "id_externo": 1000 + i if i % 2 else None,
            "nombres": f"JUAN{i}", "segundo_nombre": None if i % 3 else "CARLOS",
            "apellidos": f"QUISPE MAMANI{i}", "celular": f"98765432{i}", "placa": f"ABC-12{i}",
            "marca": "TOYOTA", "modelo": "YARIS", "color": "ROJO",
            "creado": dt.datetime(2026, 10, i, 9, 30), "estado": "nuevo",
            "flota": "Flota Lima", "ciudad": "Lima", "creado_texto": f"0{i}/10/2026",
        })  # fmt: skip
    return rows


def as_csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The same leads as the partner would have exported them by hand."""
    return [{
        "lead_id": f"L{r['id_prospecto']:07d}",
        "external_id": "" if r["id_externo"] is None else str(r["id_externo"]),
        "first_name": r["nombres"], "middle_name": r["segundo_nombre"] or "",
        "last_name": r["apellidos"], "phone": r["celular"], "plate": r["placa"],
        "car_brand": r["marca"], "car_model": r["modelo"], "car_color": r["color"],
        "created_at": r["creado"].strftime("%Y-%m-%d %H:%M:%S"), "status": r["estado"],
        "park_name": r["flota"], "city": r["ciudad"], "creado_texto": r["creado_texto"],
    } for r in rows]  # fmt: skip


@pytest.fixture
def partner() -> Iterator[str]:
    """URL (with a password: the test server trusts any) of a partner-like database."""
    with partner_database("partner") as name:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgres@", f"postgres:{PASSWORD}@", 1)
        url = f"{base}/{name}"
        eng = create_engine(url)
        with eng.begin() as conn:
            conn.exec_driver_sql(PARTNER_SCHEMA)
            columns = list(partner_rows()[0])
            prospecto = table("prospecto", *(column(c) for c in columns), schema="crm")
            conn.execute(insert(prospecto), partner_rows())
        eng.dispose()
        yield url


def records(engine: Engine) -> list[tuple[Any, ...]]:
    rec = SourceRecord.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(rec.c.source, rec.c.source_pk, rec.c.content_hash,
                                   rec.c.data, rec.c.event_date).order_by(rec.c.source_pk))
        return [tuple(r) for r in rows]  # fmt: skip


def cli(db_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--db", db_url, *args])


def test_a_query_loads_exactly_what_the_csv_export_loads(
    partner: str, db_url: str, tmp_path: Path
) -> None:
    result = cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY, *MAP, "--json")
    assert result.exit_code == 0, result.output
    assert '"inserted": 7' in result.output and PASSWORD not in result.output
    from_db = records(create_engine(db_url))

    other = tmp_path / "other.db"
    assert cli(f"sqlite:///{other}", "init").exit_code == 0
    csv = write_csv(tmp_path / "leads.csv", "leads", as_csv_rows(partner_rows()))
    ingest_file(create_engine(f"sqlite:///{other}"), "leads", csv, now=NOW)
    from_csv = records(create_engine(f"sqlite:///{other}"))
    assert len(from_db) == 7
    assert from_db == from_csv  # same keys, same data, same content hashes, same dates

    again = cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY, *MAP, "--json")
    assert '"unchanged": 7' in again.output  # idempotent, like a file


def test_a_bad_row_names_the_query_row_and_column_and_writes_nothing(
    partner: str, db_url: str
) -> None:
    good = cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY, *MAP)
    assert good.exit_code == 0, good.output
    before = records(create_engine(db_url))
    eng = create_engine(partner)
    with eng.begin() as conn:
        conn.execute(text("UPDATE crm.prospecto SET nombres = 'CHANGED'"))
        conn.execute(text("UPDATE crm.prospecto SET creado_texto = '31/02/2026' "
                          "WHERE id_prospecto = 5"))  # fmt: skip
    eng.dispose()
    # The partner's text date column taken as created_at: row 5 has an impossible date.
    query = "SELECT * FROM crm.v_leads ORDER BY lead_id"
    bad_map = ["--map", "last_name=apellidos", "--map", "phone=celular",
               "--map", "created_at=creado_texto"]  # fmt: skip
    result = cli(db_url, "ingest", "leads", "--from", partner, "--query", query, *bad_map)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "query row 5, column 'creado_texto'" in message, message
    assert PASSWORD not in result.output and "postgres:***@" in message
    assert records(create_engine(db_url)) == before  # rows 1-4 of the same run were rolled back


def test_missing_columns_hint_at_map(partner: str, db_url: str) -> None:
    result = cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY)
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "missing required column(s) for source 'leads'" in message and "--map" in message
    unknown = cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY,
                  "--map", "phone=telefono")  # fmt: skip
    assert unknown.exit_code == 2 and "the query has no such column" in unknown.output


def test_the_password_is_never_printed(partner: str, db_url: str) -> None:
    outputs = [
        cli(db_url, "ingest", "leads", "--from", partner, "--query", QUERY, *MAP, "--json").output,
        cli(db_url, "ingest", "leads", "--from", partner, "--query", "SELEC nonsense").output,
        cli(db_url, "ingest", "leads", "--from", partner.rsplit(":", 1)[0] + ":1/nodb",
            "--query", QUERY).output,  # nothing listens on port 1
        cli(db_url, "ingest", "leads", "--from", partner, "--query", "SELECT 1/0").output,
    ]  # fmt: skip
    for output in outputs:
        assert output.strip() and PASSWORD not in output, output


def test_the_source_is_only_read(partner: str, db_url: str) -> None:
    for query in ("SELECT crm.borrar()",
                  "WITH d AS (DELETE FROM crm.prospecto RETURNING *) SELECT * FROM d",
                  "DELETE FROM crm.prospecto RETURNING *"):  # fmt: skip
        result = cli(db_url, "ingest", "leads", "--from", partner, "--query", query)
        assert result.exit_code == 2, (query, result.output)
    eng = create_engine(partner)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crm.prospecto")).scalar_one() == 7
    eng.dispose()


def test_a_large_query_streams_through_a_server_side_cursor(partner: str, engine: Engine) -> None:
    """12 000 trips in pages of 1 000: twelve pages, each fetched from a server-side cursor
    (the partner's server shows our session running FETCH while we write), one transaction."""
    query = ("SELECT 'D' || (n % 3000) AS conductor, DATE '2026-10-01' + n / 3000 AS dia, "
             "n % 7 AS viajes FROM generate_series(0, 11999) AS n")  # fmt: skip
    admin = create_engine(partner.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    database = partner.rsplit("/", 1)[1]
    seen: list[tuple[int, str]] = []

    def progress(_label: str, done: int, _total: int) -> None:
        with admin.connect() as conn:
            running = conn.execute(text(
                "SELECT query FROM pg_stat_activity WHERE datname = :d "
                "AND application_name = 'leadlink-ingest'"), {"d": database}).scalars().all()
        seen.append((done, " ".join(running)))  # fmt: skip

    result = ingest_query(engine, "trips", partner, query, page_rows=1000, now=NOW,
                          mapping={"driver_id": "conductor", "date": "dia",
                                   "completed_trips": "viajes"}, progress=progress)  # fmt: skip
    admin.dispose()
    assert (result.rows, result.inserted, result.pages) == (12000, 12000, 12)
    assert [done for done, _ in seen] == list(range(1000, 12001, 1000))
    assert all("FETCH FORWARD" in running.upper() for _, running in seen[:-1]), seen[:3]


def test_a_duplicate_key_in_a_later_page_is_found(partner: str, engine: Engine) -> None:
    query = "SELECT 'D1' AS driver_id, DATE '2026-10-01' AS date, 1 AS completed_trips " \
            "FROM generate_series(1, 3)"
    with pytest.raises(BadInputError) as caught:
        ingest_query(engine, "trips", partner, query, page_rows=2, now=NOW)
    assert "query row 2" in str(caught.value) and "query rows 1 and 2" in str(caught.value)
    assert records(engine) == []


def test_a_sqlite_file_is_a_source_too_and_is_not_written(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "partner.db"
    src = create_engine(f"sqlite:///{path}")
    with src.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE conductores (id TEXT, alta TEXT, nota TEXT)")
        conn.exec_driver_sql("INSERT INTO conductores VALUES ('D1', '2026-10-05', '50% off')")
    src.dispose()
    before = path.read_bytes()
    result = ingest_query(engine, "drivers", f"sqlite:///{path}",
                          "SELECT id AS driver_id, '' AS park_id, '' AS first_name, "
                          "'' AS last_name, '' AS phone, '' AS license, '' AS document, "
                          "'' AS plate, '' AS car_brand, '' AS car_model, alta AS hire_date, "
                          "'' AS fire_date, '' AS work_status, nota FROM conductores "
                          "WHERE nota LIKE '%off'", now=NOW)  # fmt: skip
    assert result.rows == 1
    assert records(engine)[0][3]["nota"] == "50% off"  # '%' is not a placeholder
    with pytest.raises(BadInputError, match="only read"):
        ingest_query(engine, "drivers", f"sqlite:///{path}",
                     "DELETE FROM conductores RETURNING *", now=NOW)  # fmt: skip
    assert path.read_bytes() == before and not list(tmp_path.glob("partner.db-*"))
