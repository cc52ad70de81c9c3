"""Quarantine on SQLite and PostgreSQL: orphans in, relinked drivers out, money kept away."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from tests.factories import lead, write_csv
from tests.pipeline.claims_world import (
    INGESTED,
    NOW,
    SETTINGS,
    load_fixture,
    payments_table,
    rows,
    snapshot,
)

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.money.quarantine import check_quarantine, quarantined, scan
from leadlink.pipeline.resolution.resolve import match


def _quarantine(engine: Engine) -> dict[str, tuple[bool, str, str | None]]:
    """driver id -> (active, reason, release_reason)."""
    return {
        r[0]: (bool(r[1]), r[2], r[3])
        for r in rows(
            engine,
            "SELECT sr.source_pk, q.active, q.reason, q.release_reason FROM quarantine q "
            "JOIN source_record sr ON sr.id = q.record_id",
        )
    }


def test_orphan_drivers_are_quarantined_and_only_them(engine: Engine) -> None:
    load_fixture(engine)
    result = scan(engine, SETTINGS, now=NOW)
    # DE1: no lead, no origin, no trips. DG1 has trips; DC1 has a lead (and 0 + day-14 trips).
    assert _quarantine(engine) == {"DE1": (True, "no lead, no origin, no trips", None)}
    assert (result.scanned, result.quarantined, result.released, result.active) == (8, 1, 0, 1)
    assert [r["driver_id"] for r in quarantined(engine)] == ["DE1"]
    before = snapshot(engine)
    again = scan(engine, SETTINGS, now=NOW)
    assert (again.quarantined, again.released, again.active) == (0, 0, 1)
    assert snapshot(engine) == before
    job = rows(engine, "SELECT kind, status FROM job_run WHERE kind = 'quarantine'")
    assert [tuple(j) for j in job] == [("quarantine", "ok"), ("quarantine", "ok")]


def test_a_relinked_driver_is_released_and_his_payment_judged_again(
    engine: Engine, tmp_path: Path
) -> None:
    load_fixture(engine)
    compute_claims(engine, SETTINGS, now=NOW)
    p07 = next(p for p in payments_table(engine) if p["payment_id"] == "P07")
    assert (p07["status"], p07["reason"]) == ("unreconciled", "QUARANTINED")
    # A lead for Pedro Ramos Soto arrives and links by phone: he is no orphan any more.
    path = write_csv(
        tmp_path / "leads.csv",
        "leads",
        [
            lead(
                "LE1",
                first_name="Pedro",
                last_name="Ramos Soto",
                phone="987000006",
                created_at="2026-10-20 10:00:00",
            )
        ],
    )
    ingest_file(engine, "leads", path, now=INGESTED)
    match(engine, SETTINGS, now=INGESTED)
    result = scan(engine, SETTINGS, now=NOW)
    assert result.released == 1 and result.active == 0
    assert _quarantine(engine)["DE1"] == (
        False,
        "no lead, no origin, no trips",
        "has lead linked, origin",
    )
    compute_claims(engine, SETTINGS, now=NOW)
    p07 = next(p for p in payments_table(engine) if p["payment_id"] == "P07")
    # Released, but he has no trips: no claim to pay (never paid by name instead).
    assert (p07["status"], p07["reason"]) == ("unreconciled", "NO_CLAIM")


def test_an_unlinked_driver_without_trips_is_quarantined_on_its_own(engine: Engine) -> None:
    load_fixture(engine, ("drivers",))
    with engine.begin() as conn:  # a driver the engine could not link (e.g. ambiguous DNI)
        conn.execute(
            text(
                "UPDATE link SET active = false WHERE record_id = "
                "(SELECT id FROM source_record WHERE source_pk = 'DG1')"
            )
        )
    scan(engine, SETTINGS, now=NOW)
    assert _quarantine(engine)["DG1"] == (True, "driver not linked to a person; no trips", None)


def test_check_quarantine_fails_on_a_claim_or_payment_of_a_quarantined_person(
    engine: Engine,
) -> None:
    load_fixture(engine)
    compute_claims(engine, SETTINGS, now=NOW)
    assert check_quarantine(engine, SETTINGS).ok
    with engine.begin() as conn:
        orphan = conn.execute(text("SELECT person_key FROM quarantine WHERE active")).scalar_one()
        lead_id = conn.execute(
            text("SELECT id FROM source_record WHERE source_pk = 'LA1'")
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO claim (person_key, milestone, lead_record_id, lead_date, reached_on, "
                "amount, status, created_at, updated_at) VALUES (:p, 'M1', :l, '2026-10-01', "
                "'2026-10-01', 25, 'generated', :now, :now)"
            ),
            {"p": orphan, "l": lead_id, "now": NOW},
        )
    broken = check_quarantine(engine, SETTINGS)
    assert not broken.ok and broken.violations == 1
    assert "claim M1 of quarantined person" in broken.examples[0]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM claim WHERE person_key = :p"), {"p": orphan})
        conn.execute(
            text(
                "UPDATE payment SET status = 'reconciled', person_key = :p WHERE "
                "record_id = (SELECT id FROM source_record WHERE source_pk = 'P07')"
            ),
            {"p": orphan},
        )
    broken = check_quarantine(engine, SETTINGS)
    assert not broken.ok and "payment P07 reconciled to quarantined person" in broken.examples[0]


def test_trips_release_a_driver_and_losing_them_quarantines_the_same_row_again(
    engine: Engine, tmp_path: Path
) -> None:
    """The set-based scan (store.quarantine.changed_verdicts): trips of an unlinked driver
    release it, their loss reactivates its row (same id), and an unchanged rerun writes nothing."""
    load_fixture(engine)
    with engine.begin() as conn:  # DE1 cannot be judged through a person any more
        conn.execute(text("UPDATE link SET active = false WHERE record_id = "
                          "(SELECT id FROM source_record WHERE source_pk = 'DE1')"))  # fmt: skip
    scan(engine, SETTINGS, now=NOW)
    first = rows(engine, "SELECT q.id FROM quarantine q JOIN source_record sr "
                         "ON sr.id = q.record_id WHERE sr.source_pk = 'DE1'")  # fmt: skip
    assert _quarantine(engine)["DE1"] == (True, "driver not linked to a person; no trips", None)
    trips = write_csv(tmp_path / "trips.csv", "trips",
                      [{"driver_id": "DE1", "date": "2026-10-02", "completed_trips": "3"}])
    ingest_file(engine, "trips", trips, now=INGESTED)
    released = scan(engine, SETTINGS, now=NOW)
    assert (released.released, released.quarantined) == (1, 0)
    assert _quarantine(engine)["DE1"] == (False, "driver not linked to a person; no trips",
                                          "has trips")  # fmt: skip
    zero = write_csv(tmp_path / "trips0.csv", "trips",
                     [{"driver_id": "DE1", "date": "2026-10-02", "completed_trips": "0"}])
    ingest_file(engine, "trips", zero, now=INGESTED)
    again = scan(engine, SETTINGS, now=NOW)
    assert (again.released, again.quarantined) == (0, 1)
    assert _quarantine(engine)["DE1"] == (True, "driver not linked to a person; no trips", None)
    assert rows(engine, "SELECT q.id FROM quarantine q JOIN source_record sr "
                        "ON sr.id = q.record_id WHERE sr.source_pk = 'DE1'") == first  # fmt: skip
    before = snapshot(engine)
    rerun = scan(engine, SETTINGS, now=NOW)
    assert (rerun.released, rerun.quarantined) == (0, 0)
    assert snapshot(engine) == before
