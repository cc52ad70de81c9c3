"""Claims on the hand-checked fixture, on SQLite and PostgreSQL: exact table, statuses over
time, payments by driver id and by name, reruns, and the claims check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.factories import write_csv
from tests.pipeline.claims_world import (
    INGESTED,
    NOW,
    SETTINGS,
    at,
    claims_table,
    expected,
    load_fixture,
    payments_table,
    person_labels,
    rows,
    snapshot,
)

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.money.claims import advance, check_claims, compute_claims, time_status
from leadlink.pipeline.money.claims_report import aging_bucket

D = dt.date


@pytest.fixture
def world(engine: Engine) -> Engine:
    load_fixture(engine)
    return engine


def test_the_fixture_links_as_intended(world: Engine) -> None:
    # The claims expectations rest on these links; a matching change must not hide behind them.
    labels = person_labels(world)
    assert sorted(set(labels.values())) == ["DA1", "DB1", "DC1", "DD1", "DE1", "DG1", "DH1"]
    leads = dict(
        rows(
            world,
            "SELECT sr.source_pk, l.person_key FROM source_record sr LEFT JOIN "
            "link l ON l.record_id = sr.id AND l.active WHERE sr.source='leads'",
        )
    )
    assert {k: labels.get(v) if v else None for k, v in leads.items()} == {
        "LA1": "DA1",
        "LB1": "DB1",
        "LB2": "DB1",
        "LC1": "DC1",
        "LD1": "DD1",
        "LH1": "DH1",
        "LF1": None,
    }


def test_claims_match_the_hand_checked_fixture_exactly(world: Engine) -> None:
    result = compute_claims(world, SETTINGS, now=NOW)
    assert claims_table(world) == expected("expected_claims.csv")
    assert payments_table(world) == expected("expected_payments.csv")
    data = result.as_dict()
    claims = data["claims"]
    assert claims["by_status"] == {
        "expected": 2,
        "generated": 4,
        "expired": 0,
        "paid": 4,
        "rejected": 1,
    }
    assert claims["by_milestone"]["M25"]["count"] == 3
    # Outstanding = generated and unpaid: DB1 M1 25 + M25 100, DH1 M5 35 + M25 100; windows
    # closed 10-17 and 10-16: 15 and 16 days old.
    assert claims["amount_outstanding"] == 260.0
    assert claims["aging"]["15-30"] == {"count": 4, "amount": 260.0}
    assert claims["amount_paid"] == 25 + 35 + 25 + 25
    assert data["payments"]["reconciled"] == 5 and data["payments"]["unreconciled"] == 7
    assert data["payments"]["by_method"] == {"driver_id": 3, "name": 2}
    assert data["funnel"] == {
        "NO_IDENTITY": 1,
        "NO_DRIVER": 0,
        "NO_TRIPS_14D": 1,
        "TRIPS_NO_CLAIM": 0,
        "OK": 5,
    }
    assert data["quarantined"] == 1
    assert check_claims(world, SETTINGS).ok


def test_rerun_changes_nothing(world: Engine) -> None:
    compute_claims(world, SETTINGS, now=NOW)
    before = snapshot(world)
    again = compute_claims(world, SETTINGS, now=NOW + dt.timedelta(hours=3))
    assert set(again.changes.values()) == {0}
    assert snapshot(world) == before


def test_statuses_move_forward_over_time(world: Engine) -> None:
    def status(label: str, milestone: str) -> str:
        table = {(r["person"], r["milestone"]): r["status"] for r in claims_table(world)}
        return table[(label, milestone)]

    first = compute_claims(world, SETTINGS, now=at("2026-10-10")).as_dict()
    # Day 13 of DA1's window: M1 reached on day 0, M5 not yet (reached on day 13, 10-14).
    assert status("DA1", "M1") == "expected"
    assert ("DA1", "M5") not in {(r["person"], r["milestone"]) for r in claims_table(world)}
    assert status("DH1", "M1") == "paid"  # P10 is dated 10-10: paid inside the window
    assert first["payments"]["total"] == 1  # the other payments are dated after 10-10
    compute_claims(world, SETTINGS, now=at("2026-10-16"))
    assert status("DA1", "M5") == "generated"  # window [10-01, 10-15) closed; P02 comes 10-25
    assert status("DB1", "M1") == "expected"  # window [10-03, 10-17): closes on 10-17
    compute_claims(world, SETTINGS, now=at("2026-10-17"))
    assert status("DB1", "M1") == "generated"
    compute_claims(world, SETTINGS, now=at("2026-10-25"))
    assert status("DA1", "M5") == "paid"
    aging = compute_claims(world, SETTINGS, now=at("2026-10-27")).summary["claims"]["aging"]
    assert aging["8-14"]["count"] == 4  # DB1 M1/M25 10 days, DH1 M5/M25 11 days
    assert status("DD1", "M5") == "expected"
    compute_claims(world, SETTINGS, now=at("2026-11-03"))  # DD1's window closes on 11-03
    assert status("DD1", "M5") == "generated"
    # 60 days after 10-17 is 12-16: DB1 M1 expires then, not the day before.
    compute_claims(world, SETTINGS, now=at("2026-12-15"))
    assert status("DB1", "M1") == "generated"
    late = compute_claims(world, SETTINGS, now=at("2026-12-16")).summary["claims"]
    assert status("DB1", "M1") == "expired" and late["amount_expired"] > 0
    # Never backwards: an earlier `now` leaves every status where it is.
    before = claims_table(world)
    compute_claims(world, SETTINGS, now=at("2026-10-10"))
    assert claims_table(world) == before


def test_a_late_payment_pays_an_expired_claim_and_p12_waits_for_its_date(
    world: Engine, tmp_path: Path
) -> None:
    compute_claims(world, SETTINGS, now=at("2026-12-20"))
    table = {(r["person"], r["milestone"]): r for r in claims_table(world)}
    assert table[("DB1", "M1")]["status"] == "expired"
    assert table[("DH1", "M5")]["payment"] == "P12"  # dated 11-05, processed once past it
    late = write_csv(
        tmp_path / "late.csv",
        "payments",
        [
            {
                "payment_id": "P20",
                "driver_id": "DB1",
                "milestone": "M1",
                "amount": "25",
                "paid_at": "2026-12-21",
            }
        ],
    )
    ingest_file(world, "payments", late, now=INGESTED)
    compute_claims(world, SETTINGS, now=at("2026-12-22"))
    table = {(r["person"], r["milestone"]): r for r in claims_table(world)}
    assert (table[("DB1", "M1")]["status"], table[("DB1", "M1")]["payment"]) == ("paid", "P20")


def test_expected_claim_follows_an_earlier_lead_found_later(engine: Engine, tmp_path: Path) -> None:
    # DB1's only lead at first is LB2 (10-10); then LB1 (10-03) arrives: the claim re-anchors.
    load_fixture(engine, ("drivers", "trips"))
    leads = expected("../claims/leads.csv")
    write_csv(tmp_path / "l2.csv", "leads", [r for r in leads if r["lead_id"] == "LB2"])
    ingest_file(engine, "leads", tmp_path / "l2.csv", now=INGESTED)
    from leadlink.pipeline.resolution.resolve import match

    match(engine, SETTINGS, now=INGESTED)
    compute_claims(engine, SETTINGS, now=at("2026-10-16"))
    first = {r["milestone"]: r for r in claims_table(engine) if r["person"] == "DB1"}
    assert {m: (r["lead_id"], r["reached_on"]) for m, r in first.items()} == {
        "M1": ("LB2", "2026-10-16"),  # window [10-10, 10-24): only 10-16's single trip
    }
    write_csv(tmp_path / "l1.csv", "leads", [r for r in leads if r["lead_id"] == "LB1"])
    ingest_file(engine, "leads", tmp_path / "l1.csv", now=INGESTED)
    match(engine, SETTINGS, now=INGESTED)
    result = compute_claims(engine, SETTINGS, now=at("2026-10-16"))
    now_ = {
        r["milestone"]: (r["lead_id"], r["reached_on"], r["status"])
        for r in claims_table(engine)
        if r["person"] == "DB1"
    }
    assert now_ == {
        "M1": ("LB1", "2026-10-03", "expected"),
        "M5": ("LB1", "2026-10-09", "expected"),
        "M25": ("LB1", "2026-10-16", "expected"),
    }
    assert result.changes["claims_refreshed"] == 1 and result.changes["claims_new"] == 2


def test_claims_check_fails_on_a_broken_claim(world: Engine) -> None:
    compute_claims(world, SETTINGS, now=NOW)
    with world.begin() as conn:
        conn.execute(
            text("UPDATE claim SET reached_on = :d WHERE milestone = 'M5' AND status = 'expected'"),
            {"d": D(2026, 11, 3)},
        )
        conn.execute(
            text("UPDATE claim SET status = 'paid' WHERE status = 'generated' AND milestone = 'M1'")
        )
    result = check_claims(world, SETTINGS)
    assert not result.ok and result.violations == 2
    assert any("outside" in e for e in result.examples)
    assert any("without a payment" in e for e in result.examples)


# --- the pure rules -----------------------------------------------------------------------------


def test_time_status_edges() -> None:
    lead = D(2026, 10, 1)  # window closes 10-15, expires 60 days later: 12-14
    assert time_status(lead, D(2026, 10, 14), 14, 60) == "expected"
    assert time_status(lead, D(2026, 10, 15), 14, 60) == "generated"
    assert time_status(lead, D(2026, 12, 13), 14, 60) == "generated"
    assert time_status(lead, D(2026, 12, 14), 14, 60) == "expired"


@pytest.mark.parametrize(
    ("old", "new", "result"),
    [
        ("expected", "generated", "generated"),
        ("generated", "expected", "generated"),
        ("expired", "generated", "expired"),
        ("paid", "expired", "paid"),
        ("rejected", "expected", "rejected"),
        ("expired", "paid", "paid"),
    ],
)
def test_advance_only_forward(old: str, new: str, result: str) -> None:
    assert advance(old, new) == result


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0-7"),
        (7, "0-7"),
        (8, "8-14"),
        (14, "8-14"),
        (15, "15-30"),
        (30, "15-30"),
        (31, ">30"),
        (400, ">30"),
    ],
)
def test_aging_buckets(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket
