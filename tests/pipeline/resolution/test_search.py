"""Search on a real store (SQLite and PostgreSQL): a lead by its id, its phone however typed, its
plate, its name, and by the DNI of the driver linked to its person; through indexes only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from tests.factories import NOW, driver, lead, load

from leadlink.errors import UsageError
from leadlink.pipeline.resolution.resolve import match
from leadlink.pipeline.resolution.search import search
from leadlink.settings import Settings

SETTINGS = Settings(db="sqlite://", probabilistic=False)
ANA = {"first_name": "Ana Lucía", "last_name": "Quispe Mamani"}


@pytest.fixture
def store(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D9", **ANA, phone="987654321", document="40123456", license="Q40123456",
               plate="ABC-123"),
        driver("D8", first_name="Pedro", last_name="Rojas Diaz", phone="912000111"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("LD1", **ANA, phone="+51 987 654 321", plate="abc123", created_at="2026-10-10"),
        lead("LU1", first_name="Nadie", last_name="Nunca Jamas", phone="955999888",
             plate="XYZ-999", created_at="2026-10-11"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    # Ingested after the match: not keyed yet, found by its id only.
    load(engine, tmp_path, "leads", [lead("LP1", first_name="Nueva", phone="955999888")])
    return engine


def found(result: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{i['source']}/{i['source_pk']}": i["matched_on"] for i in result["items"]}


@pytest.mark.parametrize("typed", ["987654321", "987 654 321", "+51987654321", "0051 987-654-321"])
def test_a_phone_however_typed_finds_the_lead_and_its_driver(store: Engine, typed: str) -> None:
    result = search(store, typed)
    assert found(result) == {"leads/LD1": ["phone"], "drivers/D9": ["phone"]}
    lead_item = result["items"][0]
    assert lead_item["source"] == "leads" and lead_item["status"] == "linked"
    assert lead_item["person_key"] == result["items"][1]["person_key"]
    assert result["persons"] == [lead_item["person_key"]]
    assert result["read_as"]["phone"] == "+51987654321"
    # A number typed with its country code is a phone, never a document.
    assert ("document" in result["read_as"]) is (not typed.startswith("+"))


def test_a_dni_finds_the_lead_through_its_persons_driver(store: Engine) -> None:
    result = search(store, "40.123.456")
    assert found(result) == {"leads/LD1": ["person"], "drivers/D9": ["document"]}
    assert result["items"][0]["via"] == "drivers/D9"


def test_a_plate_and_a_lead_id_and_a_full_name(store: Engine) -> None:
    assert found(search(store, "abc 123")) == {"leads/LD1": ["plate"], "drivers/D9": ["plate"]}
    unmatched = search(store, "LU1")
    assert found(unmatched) == {"leads/LU1": ["id"]}
    assert unmatched["items"][0]["status"] == "unmatched"
    assert unmatched["items"][0]["reason"] == "NO_CANDIDATES"
    names = search(store, "ana QUISPE mamani")
    assert found(names) == {"leads/LD1": ["name"], "drivers/D9": ["name"]}
    assert found(search(store, "Quispe Mamani Ana")) == found(names)


def test_a_lead_not_matched_yet_is_found_by_its_id_only(store: Engine) -> None:
    assert found(search(store, "LP1")) == {"leads/LP1": ["id"]}
    assert search(store, "LP1")["items"][0]["status"] == "pending"
    assert found(search(store, "955999888")) == {"leads/LU1": ["phone"]}


def test_nothing_found_is_an_empty_result(store: Engine) -> None:
    result = search(store, "999 888 777")
    assert result["items"] == [] and result["total"] == 0 and not result["truncated"]
    # Sharing only the phone's last 7 digits (its key) is not the same phone.
    assert search(store, "977654321")["items"] == []


@pytest.mark.parametrize("query", ["", "  ", "ab", None, "x" * 101])
def test_a_query_too_short_or_too_long_is_a_usage_error(store: Engine, query: str | None) -> None:
    with pytest.raises(UsageError, match="characters"):
        search(store, query)


@pytest.mark.parametrize("query", ["LD1\x00", "ab\ud800c"])
def test_a_nul_or_a_lone_surrogate_is_a_usage_error(store: Engine, query: str) -> None:
    with pytest.raises(UsageError, match="valid text"):
        search(store, query)


def test_search_reads_indexes_never_a_whole_table(store: Engine) -> None:
    """Every statement search runs is planned as index searches only: no scan of a table
    (SQLite's query plan; PostgreSQL's with sequential scans priced out, so one remains only
    where no index can serve)."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, sql: str, params: Any, *args: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    event.listen(store, "before_cursor_execute", seen)
    try:
        for query in ("987 654 321", "40123456", "ABC123", "Ana Quispe Mamani", "LD1"):
            assert search(store, query)["items"]
    finally:
        event.remove(store, "before_cursor_execute", seen)
    assert len(statements) >= 5 * 4
    tables = ("source_record", "record_key", "link", "unmatched", "review_item")
    with store.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for sql, params in statements:
            if store.dialect.name == "sqlite":
                plan = [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
                scans = [p for p in plan if p.split()[:2] in (["SCAN", t] for t in tables)]
            else:
                with raw.cursor() as cur:
                    cur.execute("SET enable_seqscan = off")
                    cur.execute(f"EXPLAIN {sql}", params)
                    plan = [row[0] for row in cur.fetchall()]
                scans = [p for p in plan if any(f"Seq Scan on {t} " in p for t in tables)]
            assert scans == [], (sql, plan)
