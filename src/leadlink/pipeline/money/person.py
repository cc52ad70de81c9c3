"""A person whole (`leadlink persons show --json`, ``/persons/KEY``, ``GET /api/persons/KEY``):
its records, links and origins (``merge.show_person``) and its money: claims with their totals,
trips (summed, and one page of them) and the payments of its claims.

The claims' totals are ``claims_report.claim_totals`` scoped to the person (summed in SQL over
its claims), the one definition behind `leadlink claims --person KEY --json`, so the page says
what the report says.
Every part is a bounded number of indexed queries: the trips list is paged in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.money.claim_facts import MILESTONES
from leadlink.pipeline.money.claims_report import claim_totals, with_age
from leadlink.pipeline.resolution.merge import show_person
from leadlink.settings import Settings
from leadlink.store import claims as claims_store
from leadlink.store import person_money
from leadlink.store.db import transaction

TRIPS_SHOWN = 50  # trip days per page, newest first
MAX_TRIPS_SHOWN = 500


def person_view(
    engine: Engine,
    settings: Settings,
    key: str,
    *,
    now: dt.datetime,
    trips_limit: int = TRIPS_SHOWN,
    trips_offset: int = 0,
) -> dict[str, Any]:
    """``show_person`` plus ``claims`` (in milestone order, each with its window's close and
    its expiry), ``claim_totals``, ``trips`` (``summary``, and ``items`` paged like every
    list: ``total``, ``limit``, ``offset``) and ``payments``. ``key`` may be a retired key or
    the start of a key: the money is the live person's."""
    shown = show_person(engine, key)
    live = shown["person_key"]
    order = [m for m, _ in MILESTONES]
    with transaction(engine) as session:
        rows = with_age(claims_store.claim_rows(session, order, persons=[live]),
                        settings=settings, now=now)  # fmt: skip
        totals = claim_totals(session, settings, now=now, persons=[live])
        trips = person_money.trip_summary(session, live)
        page = person_money.trip_page(session, live, limit=trips_limit, offset=trips_offset)
        payments = person_money.claim_payments(session, live)
    window = dt.timedelta(days=settings.claim_window_days)
    expiry = dt.timedelta(days=settings.claim_expiry_days)
    claims = [
        {**r, "lead_date": r["lead_date"].isoformat(),
         "reached_on": r["reached_on"].isoformat() if r["reached_on"] else None,
         "window_closes": (r["lead_date"] + window).isoformat(),
         "expires_on": (r["lead_date"] + window + expiry).isoformat()}
        for r in sorted(rows, key=lambda r: (order.index(r["milestone"]), r["lead_date"]))
    ]  # fmt: skip
    return {
        **shown,
        "claims": claims,
        "claim_totals": totals,
        "trips": {
            "summary": trips,
            "items": page,
            "total": trips["days"],
            "limit": trips_limit,
            "offset": trips_offset,
        },  # fmt: skip
        "payments": payments,
    }
