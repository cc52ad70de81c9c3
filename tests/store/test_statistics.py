"""PostgreSQL's planner statistics are refreshed after a bulk write (ingest, match), not left to
autovacuum: on a store just loaded the planner took 34,566 KPI-red leads for 450."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load

from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store import db


def analysed(engine: Engine, table: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"
        ), {"t": table}).scalar_one()  # fmt: skip


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without such statistics")
    return engine


def test_only_a_bulk_write_refreshes_them(pg: Engine) -> None:
    db.refresh_statistics(pg, ["link"], db.BULK_ROWS - 1)
    assert not analysed(pg, "link")
    db.refresh_statistics(pg, ["link"], db.BULK_ROWS)
    assert analysed(pg, "link")


def test_ingest_and_match_refresh_the_tables_they_fill(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "BULK_ROWS", 2)  # the rows of a test stand for a bulk load
    load(pg, tmp_path, "drivers", [driver("D1", phone="987000111"), driver("D2")])
    assert analysed(pg, "source_record") and not analysed(pg, "link")
    load(pg, tmp_path, "leads", [lead("L1", phone="987000111"), lead("L2")])
    match(pg, Settings(db="sqlite://", probabilistic=False), now=NOW)
    assert all(analysed(pg, t) for t in ("link", "person", "origin", "unmatched"))
