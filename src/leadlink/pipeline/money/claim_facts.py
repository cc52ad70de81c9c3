"""What the claims service reconciles payments with (docs/claims.md), and the claims' names.

Loaded set-wise in the caller's transaction. When a milestone is reached is computed in SQL
(``store.claim_windows``), for the claims service and the funnel alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from leadlink.matching.payees import Payee
from leadlink.pipeline.summaries import MILESTONES as MILESTONES
from leadlink.store import claims as claims_store
from leadlink.store import quarantine as quarantine_store

STATUSES = ("expected", "generated", "expired", "paid", "rejected")


@dataclass
class Facts:
    """What payments are reconciled with, loaded set-wise (the claims themselves are computed
    in SQL: ``store.claim_windows``)."""

    driver_person: dict[str, str]  # driver id -> person
    payees: list[Payee]  # persons out of quarantine, by their drivers' names
    quarantined_persons: set[str]
    quarantined_ids: set[str]


def load_facts(session: Session) -> Facts:
    quarantined = quarantine_store.active_persons(session)
    driver_person, payees = {}, []
    for person, driver_id, first, last in claims_store.person_drivers(session):
        driver_person[driver_id] = person
        if person not in quarantined:
            payees.append(Payee(person, first, last))
    return Facts(driver_person, payees, quarantined, quarantine_store.active_driver_ids(session))
