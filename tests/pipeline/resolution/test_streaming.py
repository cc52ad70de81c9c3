"""`match` in chunks: the same decisions whatever the chunk sizes, and incremental runs that
read only the new records and the registry rows sharing a blocking key with them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW, load

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution import streaming
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store.db import make_engine, migrate
from leadlink.synth import generate

SETTINGS = Settings(db="sqlite://", model_min_records=50)  # the model tier at work
SOURCES = ("drivers", "migrations", "scouting", "leads")
HELD_BACK = 12  # leads ingested after the first match


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic data set; leads.csv without its last HELD_BACK rows, which are in
    late_leads.csv."""
    out = tmp_path_factory.mktemp("synth")
    generate(out, leads=260, seed=5)
    with (out / "leads.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for name, part in (("leads.csv", rows[:-HELD_BACK]), ("late_leads.csv", rows[-HELD_BACK:])):
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(part)
    return out


def _ingest(engine: Engine, data: Path) -> None:
    for source in SOURCES:
        ingest_file(engine, source, data / f"{source}.csv", now=NOW)


def _decisions(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """source/pk -> (person_key, rule, score, confidence, evidence, reason, band, candidates)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT sr.source, sr.source_pk, l.person_key, l.rule, l.score, l.confidence, "
            "l.evidence, u.reason, u.band, u.candidates FROM source_record sr "
            "LEFT JOIN link l ON l.record_id = sr.id AND l.active "
            "LEFT JOIN unmatched u ON u.record_id = sr.id WHERE sr.source IN "
            "('drivers', 'migrations', 'scouting', 'leads')"
        )).all()  # fmt: skip

    def parsed(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return {
        f"{r[0]}/{r[1]}": (r[2], r[3], None if r[4] is None else round(r[4], 9), r[5],
                           parsed(r[6]), r[7], r[8], parsed(r[9]))
        for r in rows
    }  # fmt: skip


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


@pytest.fixture(scope="module")
def reference(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One match of the data set in one chunk per source, on its own SQLite database."""
    path = tmp_path_factory.mktemp("ref") / "ref.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    _ingest(engine, data)
    result = match(engine, SETTINGS, now=NOW, decide_chunk=1_000_000)
    assert result.stream.chunks == len(SOURCES)
    decisions = _decisions(engine)
    engine.dispose()
    return {"decisions": decisions, "result": result.as_dict(), "path": path}


def _counts(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("run_id", "stream", "model")}


@pytest.mark.parametrize("lookup", [False, True], ids=["preloaded", "looked-up"])
def test_small_chunks_decide_exactly_as_one_chunk(
    engine: Engine,
    data: Path,
    reference: dict[str, Any],
    lookup: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if lookup:  # never preload the registry: every chunk looks up the rows sharing its keys
        monkeypatch.setattr(streaming.Streamer, "registry_for_source", lambda *_: None)
    _ingest(engine, data)
    settings = SETTINGS.model_copy(update={"chunk_size": 17})  # pages, write transactions
    result = match(engine, settings, now=NOW, decide_chunk=23)
    assert result.stream.chunks > 20
    assert _counts(result.as_dict()) == _counts(reference["result"])
    assert result.linked > 100 and result.review > 0  # rules, model and review all at work
    assert _decisions(engine) == reference["decisions"]
    assert (result.stream.candidates > 0) == lookup


def test_incremental_match_reads_only_new_records_and_their_blocks(
    engine: Engine, data: Path
) -> None:
    _ingest(engine, data)
    first = match(engine, SETTINGS, now=NOW)
    registry = _count(engine, "SELECT count(*) FROM link WHERE active")
    assert first.stream.staged == first.processed and first.stream.keyed == first.processed

    ingest_file(engine, "leads", data / "late_leads.csv", now=NOW)
    second = match(engine, SETTINGS, now=NOW)
    assert second.processed == second.stream.staged == second.stream.keyed == HELD_BACK
    assert second.model is not None and second.model["trained_now"] is False
    # The registry rows read are those sharing a key with the new leads: some, not all.
    assert 0 < second.stream.registry_loaded <= second.stream.candidates
    assert second.stream.registry_loaded < registry / 4
    assert second.linked > 0


def test_records_linked_before_keys_existed_are_keyed_once(engine: Engine, data: Path) -> None:
    _ingest(engine, data)
    match(engine, SETTINGS, now=NOW)
    before = _decisions(engine)
    linked = _count(engine, "SELECT count(*) FROM link WHERE active")
    with engine.begin() as conn:  # as a database migrated from before 0003 has it
        conn.execute(text("DELETE FROM record_key"))
        conn.execute(text("DELETE FROM record_term"))
    ingest_file(engine, "leads", data / "late_leads.csv", now=NOW)
    second = match(engine, SETTINGS, now=NOW)
    assert second.stream.keyed == linked + HELD_BACK
    assert match(engine, SETTINGS, now=NOW).stream.keyed == 0
    after = _decisions(engine)
    assert {k: v for k, v in after.items() if k in before} == before


def test_changed_record_loses_its_keys_and_gets_new_ones(
    engine: Engine, data: Path, tmp_path: Path
) -> None:
    _ingest(engine, data)
    match(engine, SETTINGS, now=NOW)
    with (data / "drivers.csv").open(encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    rid = _count(engine, f"SELECT id FROM source_record WHERE source = 'drivers' "  # noqa: S608
                         f"AND source_pk = '{first['driver_id']}'")  # fmt: skip
    keys_before = _count(engine, f"SELECT count(*) FROM record_key WHERE record_id = {rid}")  # noqa: S608
    assert keys_before > 0
    load(engine, tmp_path, "drivers", [{**first, "phone": "999888777", "plate": "ZZZ999"}])
    assert _count(engine, f"SELECT count(*) FROM record_term WHERE record_id = {rid}") == 0  # noqa: S608
    assert match(engine, SETTINGS, now=NOW).stream.keyed == 1
    assert _count(engine, f"SELECT count(*) FROM record_term WHERE record_id = {rid}") == 1  # noqa: S608


def test_keys_are_copied_in_bulk(engine: Engine, data: Path) -> None:
    """Every identity record's keys land (COPY on PostgreSQL, executemany on SQLite)."""
    _ingest(engine, data)
    result = match(engine, SETTINGS, now=NOW)
    records = _count(engine, "SELECT count(*) FROM source_record WHERE source IN "
                             "('drivers', 'migrations', 'scouting', 'leads')")  # fmt: skip
    assert _count(engine, "SELECT count(*) FROM record_term") == records == result.processed
    assert _count(engine, "SELECT count(DISTINCT record_id) FROM record_key") > records * 0.9


def test_training_sample_is_an_even_deterministic_spread(engine: Engine, data: Path) -> None:
    """`model train` reads at most ~per_source records of each source
    (pipeline/resolution/model.py)."""
    from leadlink.store.db import transaction
    from leadlink.store.resolution import records_of

    _ingest(engine, data)
    with transaction(engine) as session:
        whole = records_of(session, ("leads", "drivers"))
        sample = records_of(session, ("leads", "drivers"), per_source=50)
        again = records_of(session, ("leads", "drivers"), per_source=50)
    assert sample == again
    by_source = {s: [r for r in sample if r[1] == s] for s in ("leads", "drivers")}
    assert all(25 <= len(rows) <= 50 for rows in by_source.values())
    assert {r[0] for r in sample} <= {r[0] for r in whole}
    assert [r[0] for r in sample] == sorted(r[0] for r in sample)


def test_progress_covers_deciding_and_writing_each_source(engine: Engine, data: Path) -> None:
    _ingest(engine, data)
    seen: dict[str, list[tuple[int, int]]] = {}
    result = match(engine, SETTINGS.model_copy(update={"chunk_size": 50}), now=NOW,
                   decide_chunk=40, progress=lambda label, done, total:
                   seen.setdefault(label, []).append((done, total)))  # fmt: skip
    for source, counts in result.by_source.items():
        processed = counts["processed"]
        for step in ("decide", "match"):
            reports = seen[f"{step} {source}"]
            assert reports[-1] == (processed, processed), (step, source)
            assert [d for d, _ in reports] == sorted(d for d, _ in reports)
    assert len(seen["decide leads"]) > 2  # one report per chunk, not one per source


def test_a_record_changed_while_staged_is_not_keyed_from_its_old_content(
    engine: Engine, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys are stored once a source is staged; an ingest that changed a record in between
    must not leave the old content's keys behind: the record is keyed by the next run."""
    from leadlink.matching import prepare
    from leadlink.matching.blocking import record_keys
    from leadlink.pipeline.resolution.canonical import canonical_frame

    _ingest(engine, data)
    with (data / "leads.csv").open(encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    changed = {**first, "phone": "987000111", "last_name": "Otero Vidal"}
    edited = tmp_path / "edited.csv"
    with edited.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(first))
        writer.writeheader()
        writer.writerow(changed)
    rid = _count(engine, f"SELECT id FROM source_record WHERE source = 'leads' "  # noqa: S608
                         f"AND source_pk = '{first['lead_id']}'")  # fmt: skip
    real = streaming.Streamer._store_fresh_keys
    edits: list[str] = []

    def ingest_meanwhile(self: streaming.Streamer) -> int:
        staged = self.ws.con.execute("SELECT count(*) FROM pending WHERE rid = $rid",
                                     {"rid": rid}).fetchall()[0][0]  # fmt: skip
        if staged and not edits:  # the lead is staged, its keys not stored yet
            edits.append(first["lead_id"])
            ingest_file(engine, "leads", edited, now=NOW)
        return real(self)

    monkeypatch.setattr(streaming.Streamer, "_store_fresh_keys", ingest_meanwhile)
    match(engine, SETTINGS, now=NOW)
    terms = f"SELECT count(*) FROM record_term WHERE record_id = {rid}"  # noqa: S608
    assert edits and _count(engine, terms) == 0
    monkeypatch.setattr(streaming.Streamer, "_store_fresh_keys", real)
    match(engine, SETTINGS, now=NOW)
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(
            text(f"SELECT key FROM record_key WHERE record_id = {rid}"))}  # noqa: S608 # fmt: skip
    expected = record_keys(prepare(canonical_frame([("leads", rid, changed, None)])))
    assert stored == set(expected.column("key").to_pylist()) and stored
