"""`leadlink quarantine scan`: drivers with no lead, no origin and no trips are kept out of money.

Rules (docs/claims.md):
- a `drivers` record is judged through its person (its active link): the person has a lead
  linked, or an origin (lead, scouting, migration), or any of the person's drivers records
  has a day with completed trips > 0. A driver record with no link is judged on its own
  driver id's trips only.
- none of the three -> quarantined (one row per driver record, with the reason);
- a quarantined record that now has any of them -> released (`released_at`, `release_reason`
  names what it has now); one that becomes an orphan again is re-activated (same row).
The scan is idempotent: a rerun over unchanged data changes nothing. It is one query over the
store (``store.quarantine.changed_verdicts``) that returns only the records whose row must
change, so its cost does not grow with what it leaves alone in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.settings import Settings
from leadlink.store import jobs
from leadlink.store import quarantine as quarantine_store
from leadlink.store.db import transaction

REASON_ORPHAN = "no lead, no origin, no trips"
REASON_UNLINKED = "driver not linked to a person; no trips"


@dataclass
class ScanResult:
    run_id: int
    scanned: int = 0
    quarantined: int = 0  # newly quarantined (or again) by this scan
    released: int = 0
    active: int = 0  # active quarantine rows after the scan

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scanned": self.scanned,
            "quarantined": self.quarantined,
            "released": self.released,
            "active": self.active,
        }


def scan(engine: Engine, settings: Settings, *, now: dt.datetime) -> ScanResult:
    """Quarantine orphan drivers and release relinked ones, in one transaction."""
    del settings  # no tunables yet; kept for the uniform service signature
    with jobs.recorded(engine, "quarantine", now) as run:
        result = ScanResult(run.id)
        run.counts = result.as_dict
        with transaction(engine) as session:
            new, again, released = [], [], []
            for v in quarantine_store.changed_verdicts(session):
                if v.has:
                    released.append({"id": v.row_id, "release_reason": "has " + ", ".join(v.has)})
                    continue
                reason = REASON_ORPHAN if v.person_key else REASON_UNLINKED
                if v.row_id is None:
                    new.append({"record_id": v.record_id, "person_key": v.person_key,
                                "reason": reason})  # fmt: skip
                else:
                    again.append({"id": v.row_id, "person_key": v.person_key, "reason": reason})
            quarantine_store.add(session, new, now)
            quarantine_store.reactivate(session, again, now)
            quarantine_store.release(session, released, now)
            result.scanned = quarantine_store.count_drivers(session)
            result.quarantined = len(new) + len(again)
            result.released = len(released)
            result.active = quarantine_store.count_active(session)
            if new or again or released:
                summaries.invalidate(session)  # who is in unlinked activity changed
    return result


def quarantined(engine: Engine) -> list[dict[str, Any]]:
    """Active quarantine rows: driver id, person, reason, since when."""
    with transaction(engine) as session:
        return quarantine_store.list_active(session)


def check_quarantine(engine: Engine, _: Settings) -> CheckResult:
    """Quarantined drivers appear in no claim and no reconciled payment."""

    with transaction(engine) as session:
        parts = [
            quarantine_store.claims_of_quarantined(session),
            quarantine_store.payments_of_quarantined(session),
        ]
    total = sum(n for n, _ in parts)
    examples = [e for _, ex in parts for e in ex][: quarantine_store.LIMIT]
    return CheckResult(
        "quarantine",
        total == 0,
        "no claim and no reconciled payment for a quarantined person",
        total,
        examples,
    )
