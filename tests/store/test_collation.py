"""A driver's trips are found by key range in byte order whatever the collation: on PostgreSQL
with a linguistic collation on source_pk (ICU en-US weighs letters before punctuation, so there
``D1|2026-10-01`` sorts after ``D1}``), trips_between still finds them, through the byte-order
index of migration 0007."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, literal, select, text
from tests.factories import load
from tests.pipeline.activity_world import NOW, SETTINGS, SUMMARY, build

from leadlink.pipeline.money.activity import unlinked_activity
from leadlink.store.db import transaction
from leadlink.store.windows import trips_between

ICU = "en-US-x-icu"
ALTER = 'ALTER TABLE source_record ALTER COLUMN source_pk TYPE varchar(200) COLLATE "en-US-x-icu"'


def _trips(engine: Engine, driver: str) -> int:
    query = select(trips_between(literal(driver), literal(dt.date(2026, 9, 1)),
                                 literal(dt.date(2026, 12, 1))))  # fmt: skip
    with transaction(engine) as session:
        return int(session.scalar(query) or 0)


def test_the_trips_range_holds_under_a_linguistic_collation(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text byte by byte (BINARY): there is no other collation")
    with engine.begin() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_collation WHERE collname = :c"), {"c": ICU}
        ).first():
            pytest.skip(f"this PostgreSQL has no {ICU} collation (built without ICU)")
        conn.execute(text(ALTER))
        # The collation that breaks a plain range: punctuation weighs less than letters.
        assert (
            conn.execute(
                text(""" SELECT 'D1|2026-10-01' < ('D1}' COLLATE "en-US-x-icu") """)
            ).scalar()
            is False
        )
    load(engine, tmp_path, "trips", [
        {"driver_id": "D1", "date": "2026-10-01", "completed_trips": "1"},
        {"driver_id": "D1", "date": "2026-10-14", "completed_trips": "3"},
        {"driver_id": "D10", "date": "2026-10-05", "completed_trips": "7"},
    ])  # fmt: skip
    assert (_trips(engine, "D1"), _trips(engine, "D10"), _trips(engine, "D")) == (4, 7, 0)
    # The range is an index scan of the byte-order index, not a scan of every trip. Its bounds
    # are computed (driver || '|' || day), so on a table of three rows the planner's estimates
    # tie with the (source, source_pk) index; other drivers' trips make the range the cheaper.
    load(engine, tmp_path, "trips", [
        {"driver_id": f"X{i}", "date": "2026-10-01", "completed_trips": "1"} for i in range(3000)
    ])  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text("ANALYZE source_record"))
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        sub = select(trips_between(literal("D1"), literal(dt.date(2026, 9, 1)),
                                   literal(dt.date(2026, 12, 1))))  # fmt: skip
        compiled = sub.compile(engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))  # noqa: S608
    assert "ix_source_record_source_key_bytes" in plan, plan


def test_unlinked_activity_is_the_same_under_a_linguistic_collation(
    engine: Engine, tmp_path: Path
) -> None:
    """The first trip, the totals and the trend go through the same byte-order range."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text byte by byte (BINARY): there is no other collation")
    with engine.begin() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_collation WHERE collname = :c"), {"c": ICU}
        ).first():
            pytest.skip(f"this PostgreSQL has no {ICU} collation (built without ICU)")
        conn.execute(text(ALTER))
    build(engine, tmp_path)
    got = unlinked_activity(engine, SETTINGS, now=NOW)
    assert got["summary"] == SUMMARY
    assert sum(d["trips"] for d in got["trend"]["days"]) == 2 + 3 + 2 + 4 + 27
