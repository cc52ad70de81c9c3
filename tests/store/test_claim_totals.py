"""The claims report's totals summed in SQL equal their definition in Python (every claim
read and added up, as the report did before), on SQLite and PostgreSQL: every status,
milestone and aging bucket (and its edges), each filter; and the /claims page's weeks."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.store.claims_store_world import NOW, STATUSES, WINDOW, build, persons_of

from leadlink.pipeline.money.claims_report import AGING, aging_bucket, by_lead_day, claim_totals
from leadlink.settings import Settings
from leadlink.store import claims as claims_store
from leadlink.store.db import transaction
from leadlink.web.pages.claims import by_week, week_of

SETTINGS = Settings(db="sqlite://", probabilistic=False, claim_window_days=WINDOW)
ORDER = ["M1", "M5", "M25"]


def python_totals(
    rows: list[dict[str, Any]], *, now: dt.datetime, milestone: str | None = None
) -> dict[str, Any]:
    """The definition: the report's ``claims`` added up claim by claim in Python."""
    aging: dict[str, dict[str, Any]] = {label: {"count": 0, "amount": 0.0} for label, _, _ in AGING}
    by_status = {s: 0 for s in STATUSES}
    amount_by_status = {s: 0.0 for s in STATUSES}
    by_milestone: dict[str, dict[str, Any]] = {
        m: {"count": 0, "amount": 0.0, "by_status": {s: 0 for s in STATUSES}}
        for m in ORDER if milestone is None or m == milestone
    }  # fmt: skip
    for r in rows:
        by_status[r["status"]] += 1
        amount_by_status[r["status"]] += r["amount"]
        m = by_milestone[r["milestone"]]
        m["count"] += 1
        m["amount"] += r["amount"]
        m["by_status"][r["status"]] += 1
        if r["status"] == "generated":
            age = (now.date() - (r["lead_date"] + dt.timedelta(days=WINDOW))).days
            aging[aging_bucket(age)]["count"] += 1
            aging[aging_bucket(age)]["amount"] += r["amount"]
    for part in (*aging.values(), *by_milestone.values()):
        part["amount"] = round(part["amount"], 2)
    money = {f"amount_{s}": round(amount_by_status[s], 2) for s in STATUSES}
    return {"total": len(rows), "by_status": by_status, "by_milestone": by_milestone,
            "amount_outstanding": money["amount_generated"], **money, "aging": aging,
            "currency": "PEN"}  # fmt: skip


def python_weeks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    weeks: dict[dt.date, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "amount": 0.0, "by_status": {s: 0.0 for s in STATUSES}}
    )
    for r in rows:
        w = weeks[week_of(r["lead_date"])]
        w["count"] += 1
        w["amount"] += r["amount"]
        w["by_status"][r["status"]] += r["amount"]
    return [{"week": d.isoformat(), "count": w["count"], "amount": round(w["amount"], 2),
             "by_status": {s: round(v, 2) for s, v in w["by_status"].items()}}
            for d, w in sorted(weeks.items())]  # fmt: skip


@pytest.fixture
def store(engine: Engine) -> Engine:
    build(engine)
    return engine


FILTERS: list[dict[str, Any]] = [
    {},
    *({"milestone": m} for m in ORDER),
    *({"status": s} for s in STATUSES),
    {"milestone": "M5", "status": "generated"},
    {"milestone": "M25", "status": "paid"},
    {"persons": persons_of(1)},  # p000: one milestone
    {"persons": ["p004"]},  # three milestones
    {"persons": ["p001"], "status": "generated"},
    {"persons": ["nobody"]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(map(str, f.values())) or "all")
@pytest.mark.parametrize("days_later", [0, 9])
def test_sql_totals_equal_the_python_definition(
    store: Engine, filters: dict[str, Any], days_later: int
) -> None:
    now = NOW + dt.timedelta(days=days_later)
    with transaction(store) as session:
        rows = claims_store.claim_rows(session, ORDER)
        got = claim_totals(session, SETTINGS, now=now, **filters)
    kept = [r for r in rows
            if all(r["person_key" if k == "persons" else k] in (v if k == "persons" else [v])
                   for k, v in filters.items())]  # fmt: skip
    assert got == python_totals(kept, now=now, milestone=filters.get("milestone"))
    if not filters:  # the store has what the table claims to cover
        assert all(got["by_status"][s] for s in STATUSES)
        assert all(got["aging"][label]["count"] for label, _, _ in AGING)
        assert all(v["count"] for v in got["by_milestone"].values())


WEEK_FILTERS: list[dict[str, Any]] = [
    {}, {"milestone": "M1"}, {"status": "paid"}, {"milestone": "M5", "status": "expired"}
]


@pytest.mark.parametrize("filters", WEEK_FILTERS)
def test_the_claims_pages_weeks_equal_the_rows_added_up(
    store: Engine, filters: dict[str, Any]
) -> None:
    with transaction(store) as session:
        rows = claims_store.claim_rows(session, ORDER, **filters)
    got = [{k: w[k] for k in ("week", "count", "amount", "by_status")}
           for w in by_week(by_lead_day(store, **filters))]  # fmt: skip
    assert got == python_weeks(rows) and got


def test_rows_are_read_with_the_reports_filters(store: Engine) -> None:
    with transaction(store) as session:
        every = claims_store.claim_rows(session, ORDER)
        some = claims_store.claim_rows(session, ORDER, ["p004", "p007"], milestone="M5",
                                       status="paid")  # fmt: skip
    assert some == [r for r in every if r["person_key"] in ("p004", "p007")
                    and r["milestone"] == "M5" and r["status"] == "paid"] and some  # fmt: skip
    paid = [r for r in every if r["status"] in ("paid", "rejected")]
    assert paid and all(r["payment"] for r in paid)
    assert all(r["payment"] is None for r in every if r not in paid)
