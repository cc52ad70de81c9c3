"""`match` on real databases: links, origins, reasons, idempotence, atomicity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load, migration, scouting

from leadlink.pipeline.resolution import decider
from leadlink.pipeline.resolution import resolve as resolve_module
from leadlink.pipeline.resolution.resolve import Resolver, match, person_key_for
from leadlink.settings import Settings
from leadlink.store import resolution
from leadlink.store.db import transaction

SETTINGS = Settings(db="sqlite://")


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def _dump(engine: Engine, table: str) -> list[Any]:
    return _rows(engine, f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - a table name


def _status(engine: Engine) -> dict[str, tuple[str | None, str | None, str | None]]:
    """source/pk -> (person_key, rule, unmatched reason)."""
    rows = _rows(
        engine,
        "SELECT sr.source, sr.source_pk, l.person_key, l.rule, u.reason FROM source_record sr "
        "LEFT JOIN link l ON l.record_id = sr.id AND l.active "
        "LEFT JOIN unmatched u ON u.record_id = sr.id",
    )
    return {f"{r[0]}/{r[1]}": (r[2], r[3], r[4]) for r in rows}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D1", first_name="María Elena", last_name="Quispe Mamani", phone="987654321",
               document="12345678", license="Q12345678", plate="ABC-123"),
        driver("D2", first_name="Juan", last_name="Quispe Mamani", phone="987654321",
               document="87654321"),
        # D1 again, re-registered under a new id: same document, one person.
        driver("D3", first_name="Maria", last_name="Quispe", phone="911222333",
               document="12345678"),
        # Two rows of one new person in the same batch.
        driver("D4", first_name="Rosa", last_name="Flores Chavez", document="44556677"),
        driver("D5", first_name="Rosa", last_name="Flores", license="Q44556677"),
    ])  # fmt: skip
    load(engine, tmp_path, "migrations", [migration("D2", driver_name="JUAN QUISPE MAMANI")])
    load(engine, tmp_path, "scouting", [
        scouting(driver_name="FLORES CHAVEZ ROSA", driver_license="Q44556677"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", first_name="MARIA", last_name="QUISPE MAMANI", phone="+51 987 654 321"),
        lead("L2", first_name="", last_name=""),
        lead("L3", first_name="Pedro", last_name="Rojas Diaz", phone="955000111"),
        lead("L4", first_name="Juan", last_name="Quispe", phone="0051987654321"),
    ])  # fmt: skip
    return engine


def test_every_record_ends_linked_or_unmatched_with_its_reason(world: Engine) -> None:
    result = match(world, SETTINGS, now=NOW)
    s = _status(world)
    p1 = person_key_for("drivers", "D1")
    p2 = person_key_for("drivers", "D2")
    p4 = person_key_for("drivers", "D4")
    assert s["drivers/D1"] == (p1, "new_person", None)
    assert s["drivers/D3"] == (p1, "document_exact", None)
    assert s["drivers/D4"][0] == p4 and s["drivers/D5"][0] == p4
    assert s["migrations/D2"] == (p2, "driver_id_exact", None)
    scout = next(k for k in s if k.startswith("scouting/"))
    assert s[scout] == (p4, "document_exact", None)
    # The family shares a phone: the given name decides who is behind the lead.
    assert s["leads/L1"] == (p1, "phone_exact", None)
    assert s["leads/L4"] == (p2, "phone_exact", None)
    assert s["leads/L2"] == (None, None, "MISSING_IDENTIFIERS")
    assert s["leads/L3"] == (None, None, "NO_CANDIDATES")
    assert result.processed == 11
    assert result.linked == 9
    assert result.new_persons == 3
    assert result.unmatched["NO_CANDIDATES"] == 1 and result.unmatched["MISSING_IDENTIFIERS"] == 1


def test_a_person_spanning_chunks_is_written_once(world: Engine) -> None:
    """With one record per transaction, a re-registration lands in a later chunk than its
    founder: it must link to the person the founder's chunk wrote, not write it again."""
    result = match(world, Settings(db="sqlite://", chunk_size=1), now=NOW)
    s = _status(world)
    p4 = person_key_for("drivers", "D4")
    assert s["drivers/D4"] == (p4, "new_person", None)
    assert s["drivers/D5"] == (p4, "document_exact", None)
    assert result.new_persons == 3
    assert _rows(world, "SELECT count(*) FROM person")[0][0] == 3


def test_link_and_origin_land_together(world: Engine) -> None:
    match(world, SETTINGS, now=NOW)
    rows = _rows(
        world,
        "SELECT sr.source, o.origin, o.decided_by, o.status, l.person_key = o.person_key "
        "FROM link l JOIN source_record sr ON sr.id = l.record_id "
        "LEFT JOIN origin o ON o.record_id = l.record_id AND o.person_key = l.person_key "
        "WHERE sr.source <> 'drivers' ORDER BY sr.source, sr.source_pk",
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("leads", "cabinet_lead"),
        ("leads", "cabinet_lead"),
        ("migrations", "migration"),
        ("scouting", "scout_registration"),
    ]
    assert all(r[2] == "system" and r[3] == "resolved_auto" and r[4] for r in rows)
    journal = _rows(world, "SELECT count(*) FROM origin_history WHERE event = 'created'")
    assert journal[0][0] == 4
    # One person, two origins (a lead and a migration): the second is added, not swapped in.
    p2 = person_key_for("drivers", "D2")
    origins = _rows(world, "SELECT origin FROM origin WHERE person_key = :k ORDER BY origin", k=p2)
    assert [r[0] for r in origins] == ["cabinet_lead", "migration"]


def test_rerun_changes_nothing(world: Engine) -> None:
    match(world, SETTINGS, now=NOW)
    tables = ["person", "link", "origin", "origin_history", "unmatched"]
    before = {t: _dump(world, t) for t in tables}
    again = match(world, SETTINGS, now=NOW)
    assert again.processed == 0 and again.linked == 0 and again.new_persons == 0
    assert {t: _dump(world, t) for t in tables} == before
    runs = _rows(world, "SELECT kind, status FROM job_run ORDER BY id")
    assert runs == [("match", "ok"), ("match", "ok")]


def test_rematch_reconsiders_unmatched_when_the_driver_arrives(
    world: Engine, tmp_path: Path
) -> None:
    match(world, SETTINGS, now=NOW)
    load(world, tmp_path, "drivers", [
        driver("D9", first_name="Pedro", last_name="Rojas Diaz", phone="955000111"),
    ])  # fmt: skip
    match(world, SETTINGS, now=NOW, rematch=True)
    s = _status(world)
    assert s["leads/L3"] == (person_key_for("drivers", "D9"), "phone_exact", None)
    assert s["leads/L2"] == (None, None, "MISSING_IDENTIFIERS")


def test_engine_failure_is_recorded_as_error_with_message(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = decider.resolve

    def failing(query: Any, registry: Any, bands: Any, rules: Any, *args: Any, **kw: Any) -> Any:
        if query.num_rows == 4:  # the leads batch
            raise ValueError("boom in the engine")
        return real(query, registry, bands, rules, *args, **kw)

    monkeypatch.setattr(decider, "resolve", failing)
    result = match(world, SETTINGS, now=NOW)
    assert result.unmatched["ERROR"] == 4
    rows = _rows(world, "SELECT reason, message FROM unmatched")
    assert rows and all(r == ("ERROR", "ValueError: boom in the engine") for r in rows)


def test_a_failing_chunk_writes_nothing_of_itself(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = resolution._origins_for_new_links

    def fail_on_leads(session: Any, run_id: int, now: Any, record_ids: Any) -> None:
        real(session, run_id, now, record_ids)
        leads_linked = session.execute(
            text("SELECT count(*) FROM link l JOIN source_record sr ON sr.id = l.record_id "
                 "WHERE sr.source = 'leads'")
        ).scalar()  # fmt: skip
        if leads_linked:
            raise RuntimeError("crash between link and commit")

    monkeypatch.setattr(resolution, "_origins_for_new_links", fail_on_leads)
    with pytest.raises(RuntimeError):
        match(world, SETTINGS, now=NOW)
    leads = _rows(
        world,
        "SELECT count(*) FROM source_record sr WHERE sr.source = 'leads' AND ("
        "EXISTS (SELECT 1 FROM link l WHERE l.record_id = sr.id) OR "
        "EXISTS (SELECT 1 FROM unmatched u WHERE u.record_id = sr.id))",
    )
    assert leads[0][0] == 0, "a lead chunk was half written"
    runs = _rows(world, "SELECT status, error FROM job_run")
    assert runs[0][0] == "failed" and "crash between link and commit" in runs[0][1]
    # Nothing was lost: the next run finishes the job.
    monkeypatch.setattr(resolution, "_origins_for_new_links", real)
    match(world, SETTINGS, now=NOW)
    assert _status(world)["leads/L1"][1] == "phone_exact"


def test_person_keys_are_the_same_in_a_fresh_database(world: Engine, db_url: str) -> None:
    match(world, SETTINGS, now=NOW)
    keys = sorted(r[0] for r in _rows(world, "SELECT person_key FROM person"))
    assert keys == sorted(person_key_for("drivers", d) for d in ("D1", "D2", "D4"))


def test_pending_counts_only_undecided_records(world: Engine) -> None:
    with transaction(world) as session:
        assert resolution.count_pending(session, ["leads"]) == 4
    match(world, SETTINGS, now=NOW)
    with transaction(world) as session:
        assert resolution.count_pending(session, ["leads", "drivers"]) == 0


def test_one_match_at_a_time(engine: Engine, tmp_path: Path) -> None:
    """A second match while one holds the lock refuses, naming the holder; nothing written."""
    from leadlink.errors import LockBusyError
    from leadlink.store import locks

    load(engine, tmp_path, "drivers", [driver("D1", first_name="Ana", last_name="Rojas Paz",
                                              phone="987111222")])  # fmt: skip
    with locks.hold(engine, "match", "otherhost:4242:abc", NOW):
        with pytest.raises(LockBusyError, match="held by otherhost:4242:abc"):
            match(engine, SETTINGS, now=NOW)
        with transaction(engine) as session:
            assert resolution.count_pending(session, ["drivers"]) == 1
        # The holder itself (the worker passes its owner) may run match inside its lock.
        assert match(engine, SETTINGS, now=NOW, owner="otherhost:4242:abc").linked == 1
        assert locks.holder(engine, "match") is not None  # still the outer holder's
    assert locks.holder(engine, "match") is None
    assert match(engine, SETTINGS, now=NOW).processed == 0


DRIVER_ROWS = [
    (1, "D1", driver("D1", first_name="Ana", last_name="Rojas Paz", phone="987111222",
                     document="11223344")),
    (2, "D2", driver("D2", first_name="Ana", last_name="Rojas Paz", phone="987111333",
                     document="11223344")),
]  # fmt: skip
LEAD_ROWS = [(3, "L1", lead("L1", first_name="Ana", last_name="Rojas Paz", phone="987111222"))]


def test_resolver_founds_drivers_of_one_document_as_one_person(engine: Engine) -> None:
    resolver = Resolver(engine, Settings(db="sqlite://", probabilistic=False), now=NOW)
    first, second = resolver.decide("drivers", DRIVER_ROWS)
    assert (first["decision"], first["rule"]) == ("found", "new_person")
    assert (second["decision"], second["person_key"]) == ("link", first["person_key"])
    assert first["person_key"] == person_key_for("drivers", "D1")
    assert isinstance(first["evidence"], dict) and first["evidence"]["founder"] == "D1"


@pytest.mark.parametrize(("source", "records"), [("drivers", DRIVER_ROWS), ("leads", LEAD_ROWS)])
def test_resolver_decides_a_batch_the_engine_fails_on_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, source: str, records: Any
) -> None:
    """Resolver.decide (recover's path) decides through the same chunk decider as `match`: a
    registry the engine cannot read (no phone column) makes every record ERROR, with the
    engine's message; drivers keep that ERROR rather than founding a person."""
    broken = resolve_module.load_registry(engine).drop_columns(["phone"])
    monkeypatch.setattr(resolve_module, "load_registry", lambda _: broken)
    resolver = Resolver(engine, Settings(db="sqlite://", probabilistic=False), now=NOW)
    decided = resolver.decide(source, records)
    assert [d["rid"] for d in decided] == [r[0] for r in records]
    assert {(d["decision"], d["reason"], d["band"]) for d in decided} == {
        ("unmatched", "ERROR", "reject")}  # fmt: skip
    (message,) = {d["message"] for d in decided}  # one failure, one message for the batch
    assert re.fullmatch(r"\w+(Error|Exception): .+", str(message), re.DOTALL)
