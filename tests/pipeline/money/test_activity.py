"""Unlinked activity on SQLite and PostgreSQL: the hand-made world's exact figures, paging,
candidates, the trend, and drivers leaving the KPI when their person gets a lead."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import lead, load
from tests.pipeline.activity_world import (
    EXPECTED,
    MATCHED_AT,
    NOW,
    SETTINGS,
    SUMMARY,
    build,
    review_item_of,
    row_figures,
)

from leadlink.errors import UsageError
from leadlink.pipeline.money.activity import figure, unlinked_activity
from leadlink.pipeline.money.funnel import funnel
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.merge import merge_persons
from leadlink.pipeline.resolution.resolve import match, person_key_for


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return build(engine, tmp_path)


def test_the_summary_and_every_driver_figure(world: Engine) -> None:
    got = unlinked_activity(world, SETTINGS, now=NOW)
    assert got["summary"] == SUMMARY
    assert got["total"] == 4
    # Most money first; DC and DB both claim S/ 25: DC's first trip (09-21) is earlier.
    assert [r["driver_id"] for r in got["drivers"]] == ["DD", "DA", "DC", "DB"]
    assert {r["driver_id"]: row_figures(r) for r in got["drivers"]} == EXPECTED
    names = {r["driver_id"]: (r["name"], r["hire_date"]) for r in got["drivers"]}
    assert names["DA"] == ("Julio Cesar Ramos Paz", "2026-10-05")
    assert names["DD"] == ("Elena Quispe Huanca", None)
    assert figure(world, SETTINGS, now=NOW) == {"drivers": 4, "would_claim": 270.0}
    # Beside the funnel, next to the quarantined drivers (DG).
    beside = funnel(world, SETTINGS, now=NOW)
    assert (beside["unlinked_activity"], beside["quarantined"]) == (
        {"drivers": 4, "would_claim": 270.0}, 1)  # fmt: skip


def test_candidate_leads_best_first_with_the_review_evidence(world: Engine) -> None:
    drivers = {r["driver_id"]: r for r in unlinked_activity(world, SETTINGS, now=NOW)["drivers"]}
    (l1,) = drivers["DB"]["candidates"]
    assert (l1["lead_id"], l1["lead_date"], l1["rule"], l1["score"], l1["source"]) == (
        "L1", "2026-10-01", "brand_model_name", 0.62, "review")  # fmt: skip
    assert l1["evidence"]["fields"]["brand_model_eq"] is True
    (l9,) = drivers["DC"]["candidates"]
    assert (l9["lead_id"], l9["lead_date"], l9["rule"], l9["source"]) == (
        "L9", "2026-09-25", "weak", "unmatched")  # fmt: skip
    assert "evidence" not in l9
    assert drivers["DA"]["candidates"] == drivers["DD"]["candidates"] == []


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [(2, 0, ["DD", "DA"]), (2, 1, ["DA", "DC"]), (10, 3, ["DB"]), (5, 4, []), (0, 0, [])],
)
def test_paging(world: Engine, limit: int, offset: int, expected: list[str]) -> None:
    got = unlinked_activity(world, SETTINGS, now=NOW, limit=limit, offset=offset)
    assert [r["driver_id"] for r in got["drivers"]] == expected
    assert (got["total"], got["limit"], got["offset"]) == (4, limit, offset)
    assert got["summary"] == SUMMARY  # the summary covers every driver, whatever the page


def test_the_trend_counts_kpi_drivers_per_day(world: Engine) -> None:
    trend = unlinked_activity(world, SETTINGS, now=NOW, days=30)["trend"]
    days = trend["days"]
    assert len(days) == 30 and days[0]["day"] == "2026-10-03" and days[-1]["day"] == "2026-11-01"
    busy = {d["day"]: (d["drivers"], d["trips"]) for d in days if d["drivers"]}
    # DE and DF ride on 10-06 too but are not in the KPI; 10-10 has only days of 0 trips.
    assert busy == {"2026-10-03": (1, 2), "2026-10-06": (1, 3), "2026-10-18": (1, 2),
                    "2026-10-19": (1, 4), "2026-10-20": (2, 27)}  # fmt: skip
    assert trend["current"] == 4
    assert all(d["snapshot"] is None for d in days)  # no alerts evaluation recorded one yet


def test_a_later_today_counts_the_trips_that_were_in_the_future(world: Engine) -> None:
    later = dt.datetime(2026, 11, 6, 12)
    got = {r["driver_id"]: r for r in unlinked_activity(world, SETTINGS, now=later)["drivers"]}
    # DH's 7 trips of 11-05 are now in the past: DH joins (anchored on its hire date 10-05,
    # its window closed on 10-19: nothing inside). DD's 11-02 trips fall inside its window.
    assert got["DH"]["trips"] == 7 and got["DH"]["trips_in_window"] == 0
    assert (got["DD"]["trips"], got["DD"]["trips_in_window"]) == (28, 28)
    assert got["DA"]["trips_outside_window"] == 6 + 9


def test_drivers_leave_when_their_person_gets_a_lead(world: Engine, tmp_path: Path) -> None:
    # An analyst accepts L1 for Luis (DB): his person now has a lead.
    review.accept(world, SETTINGS, review_item_of(world, "L1"), actor="analyst", now=NOW)
    # A lead in Miguel's own name and phone arrives and `match` links it (DC).
    load(world, tmp_path, "leads", [
        lead("L7", first_name="Miguel Angel", last_name="Torres Vega", phone="987333444",
             created_at="2026-10-15"),
    ])  # fmt: skip
    match(world, SETTINGS, now=MATCHED_AT)
    got = unlinked_activity(world, SETTINGS, now=NOW)
    assert [r["driver_id"] for r in got["drivers"]] == ["DD", "DA"]
    assert got["summary"] == {"drivers": 2, "trips": 36, "trips_in_window": 30,
                              "trips_outside_window": 6, "would_claim": 220.0,
                              "with_candidates": 0, "since": "2026-10-03"}  # fmt: skip


def test_a_pair_rejected_in_review_is_no_candidate(world: Engine) -> None:
    # L1's unmatched row still names Luis's person, but an analyst said it is not him: DB's
    # window falls back to his hire date [10-05, 10-19), which none of his trips is in.
    review.reject(world, SETTINGS, review_item_of(world, "L1"), actor="analyst", now=NOW)
    got = unlinked_activity(world, SETTINGS, now=NOW)
    db = next(r for r in got["drivers"] if r["driver_id"] == "DB")
    assert db["candidates"] == []
    assert (db["anchor"], db["window_from"], db["trips_in_window"], db["would_claim"]) == (
        "hire_date", "2026-10-05", 0, 0.0)  # fmt: skip
    assert (got["summary"]["with_candidates"], got["summary"]["would_claim"]) == (1, 245.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"days": 0}, "--days"), ({"days": 367}, "--days"), ({"limit": -1}, "--limit"),
     ({"offset": -1}, "--offset")],
)  # fmt: skip
def test_bad_arguments_are_usage_errors(
    engine: Engine, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        unlinked_activity(engine, SETTINGS, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_an_empty_store_has_no_unlinked_activity(engine: Engine) -> None:
    got = unlinked_activity(engine, SETTINGS, now=NOW, days=2)
    assert got["summary"] == {"drivers": 0, "trips": 0, "trips_in_window": 0,
                              "trips_outside_window": 0, "would_claim": 0.0,
                              "with_candidates": 0, "since": None}  # fmt: skip
    assert got["drivers"] == [] and [d["drivers"] for d in got["trend"]["days"]] == [0, 0]


def test_a_candidate_named_before_a_merge_follows_the_survivor(world: Engine) -> None:
    """L9's verdict names DC's person. Merged into DA's person, that person's drivers (DA and
    DC) are anchored on L9: the retired key in the verdict stands for its survivor."""
    da, dc = person_key_for("drivers", "DA"), person_key_for("drivers", "DC")
    merge_persons(world, da, dc, now=NOW, actor="ana", reason="test", force=True)
    drivers = {r["driver_id"]: r for r in unlinked_activity(world, SETTINGS, now=NOW)["drivers"]}
    for driver_id in ("DA", "DC"):
        assert drivers[driver_id]["person_key"] == da
        assert (drivers[driver_id]["anchor"], drivers[driver_id]["window_from"]) == (
            "candidate_lead", "2026-09-25")  # fmt: skip
        assert [c["lead_id"] for c in drivers[driver_id]["candidates"]] == ["L9"]
