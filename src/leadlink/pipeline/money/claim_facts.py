"""The facts claims are computed from, and when a milestone is reached (docs/claims.md).

Loaded set-wise in the caller's transaction; used by the claims service (``claims``) and by
the funnel (``funnel``), which both count trips inside ``[lead_date, lead_date + window)``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from leadlink.matching.payees import Payee
from leadlink.pipeline.summaries import MILESTONES as MILESTONES
from leadlink.store import claims as claims_store
from leadlink.store import quarantine as quarantine_store

STATUSES = ("expected", "generated", "expired", "paid", "rejected")


def reached(
    days: Iterable[tuple[dt.date, int]], lead_date: dt.date, window_days: int
) -> dict[str, dt.date]:
    """Milestone -> the first day cumulative trips inside the window reach it."""
    end = lead_date + dt.timedelta(days=window_days)
    total, out = 0, {}
    for day, n in sorted(days):
        if lead_date <= day < end:
            total += n
            for name, need in MILESTONES:
                if total >= need and name not in out:
                    out[name] = day
    return out


@dataclass
class Facts:
    """Everything claims are computed from, loaded set-wise."""

    anchors: dict[str, tuple[int, dt.date]]  # person -> (earliest lead record id, its date)
    driver_ids: dict[str, list[str]]  # person -> driver ids (quarantined persons excluded)
    driver_person: dict[str, str]  # driver id -> person
    payees: list[Payee]
    trips: dict[str, list[tuple[dt.date, int]]]  # driver id -> (day, trips)
    quarantined_persons: set[str]
    quarantined_ids: set[str]

    def days(self, person: str) -> list[tuple[dt.date, int]]:
        return [d for driver in self.driver_ids.get(person, ()) for d in self.trips.get(driver, ())]

    def reached(self, person: str, window_days: int) -> dict[str, dt.date]:
        anchor = self.anchors.get(person)
        return {} if anchor is None else reached(self.days(person), anchor[1], window_days)


def load_facts(session: Session, today: dt.date) -> Facts:
    """As of ``today``: trips dated later are not counted yet (as payments dated later)."""
    quarantined = quarantine_store.active_persons(session)
    anchors: dict[str, tuple[int, dt.date]] = {}
    # Ordered: the first row of a person is its earliest lead.
    for person, rid, day in claims_store.lead_dates(session):
        if person not in quarantined:
            anchors.setdefault(person, (rid, day))
    driver_ids: dict[str, list[str]] = defaultdict(list)
    driver_person, payees = {}, []
    for person, driver_id, first, last in claims_store.person_drivers(session):
        driver_person[driver_id] = person
        if person not in quarantined:
            driver_ids[person].append(driver_id)
            payees.append(Payee(person, first, last))
    trips: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
    for driver_id, day, n in claims_store.trip_days(session, today):
        trips[driver_id].append((day, n))
    return Facts(
        anchors,
        dict(driver_ids),
        driver_person,
        payees,
        dict(trips),
        quarantined,
        quarantine_store.active_driver_ids(session),
    )
