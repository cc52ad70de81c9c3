"""The lead funnel on the hand-checked fixture, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, text
from tests.pipeline.claims_world import NOW, SETTINGS, load_fixture

from leadlink.pipeline.money.claims import compute_claims
from leadlink.pipeline.money.funnel import STAGES, funnel


def _leads(data: dict[str, object]) -> dict[str, int]:
    stages = data["stages"]
    assert isinstance(stages, dict)
    return {s: stages[s]["leads"] for s in STAGES}


def test_every_lead_in_exactly_one_stage(engine: Engine) -> None:
    load_fixture(engine)
    before = funnel(engine, SETTINGS, now=NOW)
    # No claims computed yet: persons with trips in their window are TRIPS_NO_CLAIM.
    assert _leads(before) == {
        "NO_IDENTITY": 1,
        "NO_DRIVER": 0,
        "NO_TRIPS_14D": 1,
        "TRIPS_NO_CLAIM": 5,
        "OK": 0,
    }
    # What their trips would claim, once per person: DA1 25+35, DB1, DD1, DH1 25+35+100 each.
    assert before["stages"]["TRIPS_NO_CLAIM"]["amount"] == 60 + 3 * 160
    assert before["stages"]["TRIPS_NO_CLAIM"]["persons"] == 4
    compute_claims(engine, SETTINGS, now=NOW)
    after = funnel(engine, SETTINGS, now=NOW)
    assert _leads(after) == {
        "NO_IDENTITY": 1,
        "NO_DRIVER": 0,
        "NO_TRIPS_14D": 1,
        "TRIPS_NO_CLAIM": 0,
        "OK": 5,
    }
    assert after["stages"]["OK"]["amount"] == 60 + 3 * 160
    assert sum(_leads(after).values()) == after["leads"] == 7
    assert after["quarantined"] == 1


def test_a_quarantined_person_behind_a_lead_is_no_driver(engine: Engine) -> None:
    load_fixture(engine)
    with engine.begin() as conn:  # a stale quarantine (before the scan releases it)
        conn.execute(
            text(
                "INSERT INTO quarantine (record_id, person_key, reason, active, quarantined_at) "
                "SELECT sr.id, l.person_key, 'test', true, :now FROM source_record sr JOIN link l "
                "ON l.record_id = sr.id AND l.active WHERE sr.source_pk = 'DC1'"
            ),
            {"now": NOW},
        )
        # A hand edit forgets the summaries, as the quarantine scan does (docs/summaries.md):
        # the stored funnel is computed again by its next reader.
        conn.execute(text("DELETE FROM money_refresh"))
    assert _leads(funnel(engine, SETTINGS, now=NOW))["NO_DRIVER"] == 1
