"""The partner's CRM as docs/first-hour.md describes it: a `crm` schema with Spanish column
names and typed columns (dates, timestamps, integers, money), filled from a synthetic data
set (leadlink.synth) so that the tutorial's commands can be run as written."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from tests.conftest import PG_ADMIN_URL, REQUIRE_PG


@contextmanager
def partner_database(prefix: str) -> Iterator[str]:
    """A fresh, empty database on the suite's PostgreSQL, dropped afterwards: its name
    (``prefix_<random>``). Without a server the test is skipped, or fails where the suite
    requires one."""
    if not PG_ADMIN_URL:
        if REQUIRE_PG:
            pytest.fail("LEADLINK_REQUIRE_PG is set but LEADLINK_TEST_PG is not")
        pytest.skip("no PostgreSQL server: run the suite through scripts/test.sh (make test)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

SCHEMA = """
CREATE SCHEMA crm;
CREATE TABLE crm.conductores (
  id_conductor text PRIMARY KEY, id_flota text, nombres text, apellidos text, celular text,
  licencia text, dni text, placa text, marca text, modelo text,
  fecha_alta date NOT NULL, fecha_baja date, estado text);
CREATE TABLE crm.prospectos (
  id_prospecto text PRIMARY KEY, id_externo text, nombres text, segundo_nombre text,
  apellidos text, celular text, placa text, marca text, modelo text, color text,
  creado timestamp NOT NULL, estado text, flota text, ciudad text);
CREATE TABLE crm.viajes_diarios (
  id_conductor text NOT NULL, fecha date NOT NULL, viajes_completados integer NOT NULL,
  PRIMARY KEY (id_conductor, fecha));
CREATE TABLE crm.pagos (
  id_pago text PRIMARY KEY, id_conductor text, conductor text, hito text NOT NULL,
  monto numeric(10, 2) NOT NULL, pagado date NOT NULL);
"""

# table -> (the synthetic CSV, the table's columns in the CSV's column order)
TABLES = {
    "conductores": ("drivers.csv", "id_conductor id_flota nombres apellidos celular licencia dni "
                    "placa marca modelo fecha_alta fecha_baja estado"),
    "prospectos": ("leads.csv", "id_prospecto id_externo nombres segundo_nombre apellidos "
                   "celular placa marca modelo color creado estado flota ciudad"),
    "viajes_diarios": ("trips.csv", "id_conductor fecha viajes_completados"),
    "pagos": ("payments.csv", "id_pago id_conductor conductor hito monto pagado"),
}  # fmt: skip


def load(url: str, data_dir: Path) -> None:
    """Create the schema in the (empty) database at `url` (a libpq URL) and copy the CSVs in;
    empty cells are NULL, dates are read day first as the partner writes them."""
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA)
        conn.execute("SET datestyle = 'ISO, DMY'")
        for table, (name, columns) in TABLES.items():
            with (data_dir / name).open(encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))[1:]
            cols = ", ".join(columns.split())
            with conn.cursor().copy(f"COPY crm.{table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([value or None for value in row])
