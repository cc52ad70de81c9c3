"""`leadlink claims`: what the partner can bill, reconciled with what the platform paid.

The rules (exact definitions in docs/claims.md):
- a person's lead date is the date of the earliest lead linked to the person; the person's
  trips are those of every `drivers` record linked to the person;
- milestone Mk is reached on the first day the trips counted in
  ``[lead_date, lead_date + claim_window_days)`` add up to k (day 0 counts, day 14 does not);
- one claim per (person, milestone); persons in quarantine get none;
- status moves forward only: expected -> generated -> expired, and any of them -> paid /
  rejected when a payment is reconciled to it (rejected: the amount paid is not the claim's).
  An `expected` claim follows the data (lead date, reached day, amount); from `generated` on its
  facts are frozen.
- payments: by driver id -> that driver's person -> its claim of the milestone; else by name
  through ``matching.payees`` over persons with an unpaid claim of that milestone. A reconciled
  payment is final; unreconciled ones are retried on every run.

Everything happens in one transaction (claims, payments and their statuses must agree), with
set-wise loads and bulk writes of only what changed, so a rerun writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.matching.payees import PayeeIndex
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.pipeline.money import quarantine as quarantine_service
from leadlink.pipeline.money.claim_facts import MILESTONES, STATUSES, Facts, load_facts
from leadlink.pipeline.money.claims_report import report
from leadlink.settings import Settings
from leadlink.store import claim_windows, jobs
from leadlink.store import claims as claims_store
from leadlink.store.db import transaction

# Forward order; paid and rejected are final.
RANK = {"expected": 0, "generated": 1, "expired": 2, "paid": 3, "rejected": 3}
AMOUNT_TOLERANCE = 0.005  # soles: amounts are compared to the céntimo


# --- pure rules --------------------------------------------------------------------------------


def time_status(lead_date: dt.date, today: dt.date, window_days: int, expiry_days: int) -> str:
    """Status of an unpaid claim by the calendar alone."""
    closes = lead_date + dt.timedelta(days=window_days)
    if today < closes:
        return "expected"
    return "generated" if today < closes + dt.timedelta(days=expiry_days) else "expired"


def advance(old: str, new: str) -> str:
    """Statuses only move forward: never back, never out of paid/rejected."""
    return new if RANK[new] > RANK[old] else old


# --- the service -------------------------------------------------------------------------------


@dataclass
class ClaimsResult:
    run_id: int
    changes: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "changes": self.changes, **self.summary}


def compute_claims(engine: Engine, settings: Settings, *, now: dt.datetime) -> ClaimsResult:
    """Refresh quarantine, then compute claims, reconcile payments and move statuses; one run."""
    quarantine_service.scan(engine, settings, now=now)  # a relinked driver is released first
    with jobs.recorded(engine, "claims", now) as run:
        result = ClaimsResult(run.id)
        run.counts = lambda: result.changes
        with transaction(engine) as session:
            facts = load_facts(session)
            result.changes = _write_claims(session, settings, now, run.id)
            result.changes |= _reconcile(session, facts, settings, now, run.id)
            # A milestone claimed now is no longer at stake on the review queue, and its person
            # is in the funnel's OK with the claim's amount and status.
            summaries.refresh_in(session, settings, now, views=("review", "funnel"))
        result.summary = report(engine, settings, now=now)
    return result


def _write_claims(
    session: Session, settings: Settings, now: dt.datetime, run_id: int
) -> dict[str, int]:
    window, amounts, today = settings.claim_window_days, settings.claim_amounts(), now.date()
    desired: dict[tuple[str, str], dict[str, Any]] = {}
    for person, rid, lead_date, days in claim_windows.reached_rows(session, today, window,
                                                                    MILESTONES):  # fmt: skip
        for milestone, day in days.items():
            desired[(person, milestone)] = {
                "lead_record_id": rid,
                "lead_date": lead_date,
                "reached_on": day,
                "amount": amounts[milestone],
            }
    existing = {(c["person_key"], c["milestone"]): c for c in claims_store.load_claims(session)}
    new, changed, dropped = [], [], []
    for (person, milestone), want in sorted(desired.items()):
        have = existing.get((person, milestone))
        status = time_status(want["lead_date"], today, window, settings.claim_expiry_days)
        if have is None:
            new.append(
                {
                    "person_key": person,
                    "milestone": milestone,
                    **want,
                    "status": status,
                    "payment_id": None,
                }
            )
        elif have["status"] == "expected" and any(have[k] != v for k, v in want.items()):
            changed.append({"id": have["id"], **want})
    for key, have in existing.items():
        if key not in desired and have["status"] == "expected" and have["payment_id"] is None:
            dropped.append(have["id"])  # provisional, and the data no longer supports it
    claims_store.insert_claims(session, new, run_id, now)
    claims_store.update_claims(session, changed, run_id, now)
    claims_store.delete_claims(session, dropped)
    return {
        "claims_new": len(new),
        "claims_refreshed": len(changed),
        "claims_dropped": len(dropped),
    }


def _reconcile(
    session: Session, facts: Facts, settings: Settings, now: dt.datetime, run_id: int
) -> dict[str, int]:
    """Reconcile unreconciled payments to claims, then move every claim's status forward.

    Passes repeat until one reconciles nothing: a name's candidates are the persons with an
    unpaid claim, and that set shrinks as payments are reconciled. Stopping at a pass that
    changed nothing makes the stored verdicts a fixed point, so a rerun decides the same.
    """
    claims = claims_store.load_claims(session)
    by_key = {(c["person_key"], c["milestone"]): c for c in claims}
    stored = claims_store.load_payments(session)
    todo = [
        (rid, payment_id, data, paid_at)
        for rid, payment_id, data, paid_at in claims_store.payment_records(session, now.date())
        if rid not in stored or stored[rid]["status"] != "reconciled"  # reconciled is final
    ]
    taken: dict[str, set[str]] = defaultdict(set)  # milestone -> persons paid during this run
    paid_now: dict[int, tuple[int, str]] = {}  # claim id -> (payments record id, paid/rejected)
    rows: dict[int, dict[str, Any]] = {}
    progress = True
    while progress:
        progress = False
        unpaid = {
            (c["person_key"], c["milestone"])
            for c in claims
            if c["payment_id"] is None and c["person_key"] not in taken[c["milestone"]]
        }
        indexes = {
            m: PayeeIndex(p for p in facts.payees if (p.person_key, m) in unpaid)
            for m, _ in MILESTONES
        }
        for rid, payment_id, data, paid_at in todo:
            if rows.get(rid, {}).get("status") == "reconciled":
                continue
            row = _decide_payment(data, paid_at, facts, by_key, indexes, taken, settings)
            row["detail"]["payment_id"] = payment_id
            rows[rid] = row
            if row["claim_id"] is None:
                continue
            progress = True
            claim = by_key[(row["person_key"], row["milestone"])]
            taken[row["milestone"]].add(row["person_key"])
            ok = abs(claim["amount"] - row["amount"]) < AMOUNT_TOLERANCE
            paid_now[claim["id"]] = (rid, "paid" if ok else "rejected")
            if not ok:
                row["detail"]["amount_mismatch"] = {
                    "claimed": claim["amount"],
                    "paid": row["amount"],
                }
    new, changed = [], []
    for rid, row in rows.items():
        have = stored.get(rid)
        if have is None:
            new.append({"record_id": rid, **row})
        elif any(have[k] != v for k, v in row.items()):
            changed.append({"id": have["id"], **row})
    claims_store.insert_payments(session, new, run_id, now)
    claims_store.update_payments(session, changed, run_id, now)
    ids = {rid: p["id"] for rid, p in claims_store.load_payments(session).items()}
    today, window, expiry = now.date(), settings.claim_window_days, settings.claim_expiry_days
    moved = []
    for c in claims:
        if c["id"] in paid_now:
            rid, status = paid_now[c["id"]]
            moved.append({"id": c["id"], "status": status, "payment_id": ids[rid]})
        elif c["payment_id"] is None:
            status = advance(c["status"], time_status(c["lead_date"], today, window, expiry))
            if status != c["status"]:
                moved.append({"id": c["id"], "status": status})
    claims_store.update_claims(session, moved, run_id, now)
    return {
        "payments_new": len(new),
        "payments_updated": len(changed),
        "payments_reconciled": len(paid_now),
        "claims_moved": len(moved),
    }


def _decide_payment(
    data: dict[str, Any],
    paid_at: dt.date,
    facts: Facts,
    by_key: dict[tuple[str, str], dict[str, Any]],
    indexes: dict[str, PayeeIndex],
    taken: dict[str, set[str]],
    settings: Settings,
) -> dict[str, Any]:
    """The payment row for one payments record: reconciled to a claim, or why not."""
    milestone = str(data.get("milestone") or "")
    driver_id = str(data.get("driver_id") or "").strip()
    name = str(data.get("driver_name") or "").strip()
    row: dict[str, Any] = {
        "claim_id": None,
        "person_key": None,
        "milestone": milestone,
        "amount": float(data.get("amount") or 0),
        "paid_at": paid_at,
        "method": "none",
        "status": "unreconciled",
    }
    detail: dict[str, Any] = {"tried": []}
    person, method = None, "none"
    if driver_id:
        detail["tried"].append("driver_id")
        person = facts.driver_person.get(driver_id)
        if driver_id in facts.quarantined_ids or person in facts.quarantined_persons:
            detail |= {"reason": "QUARANTINED", "quarantined_driver": driver_id}
            return {**row, "detail": detail}  # never paid out to an orphan, even by name
        if person is None:
            detail["driver_id_problem"] = "no linked driver with this id"
        else:
            method = "driver_id"
    if person is None and name and milestone in indexes:
        detail["tried"].append("name")
        decision = indexes[milestone].decide(
            name,
            threshold=settings.payee_threshold,
            margin=settings.margin,
            exclude=taken[milestone],
        )
        detail["name_match"] = decision.as_detail()
        person, method = decision.person_key, "name"
        if person is None:
            detail["reason"] = decision.reason
    elif person is None:
        detail["reason"] = "UNKNOWN_DRIVER" if driver_id else "MISSING_IDENTIFIERS"
    if person is None:
        return {**row, "detail": detail}
    claim = by_key.get((person, milestone))
    if claim is None:
        detail |= {"reason": "NO_CLAIM", "person_key": person}
    elif claim["payment_id"] is not None or person in taken[milestone]:
        detail |= {"reason": "ALREADY_PAID", "person_key": person}
    else:
        return {
            **row,
            "claim_id": claim["id"],
            "person_key": person,
            "method": method,
            "status": "reconciled",
            "detail": detail,
        }
    return {**row, "detail": detail}


def check_claims(engine: Engine, settings: Settings) -> CheckResult:
    """Claims keep their own rules: known status, reached inside the window, paid iff a payment."""

    with transaction(engine) as session:
        n, examples = claims_store.bad_claims(session, STATUSES, settings.claim_window_days)
    return CheckResult(
        "claims", n == 0, "claims in their window, statuses backed by payments", n, examples
    )
