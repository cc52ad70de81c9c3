"""The lead funnel: every lead in exactly one stage, the first that holds.

NO_IDENTITY     the lead has no active link (no person behind it)
NO_DRIVER       its person has no `drivers` record, or is in quarantine
NO_TRIPS_14D    no completed trips in the person's claim window (anchored on the person's
                earliest lead, like claims)
TRIPS_NO_CLAIM  trips in the window but no claim row yet (claims not recomputed since)
OK              the person has at least one claim

Money is counted once per person, on the person's earliest lead: OK carries the person's claim
amounts, TRIPS_NO_CLAIM what its trips would claim; the other stages carry no money.

Beside the funnel, outside it (they have no lead): ``quarantined`` drivers, and
``unlinked_activity``, the drivers riding with no lead and no origin and what their trips would
claim (docs/activity.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.money.activity import summary_in as activity_summary
from leadlink.pipeline.money.claim_facts import STATUSES, load_facts
from leadlink.pipeline.money.segments import segment_summary
from leadlink.pipeline.summaries import ensure
from leadlink.settings import Settings
from leadlink.store import claims as claims_store
from leadlink.store import quarantine as quarantine_store
from leadlink.store.db import transaction

STAGES = ("NO_IDENTITY", "NO_DRIVER", "NO_TRIPS_14D", "TRIPS_NO_CLAIM", "OK")


def funnel(engine: Engine, settings: Settings, *, now: dt.datetime) -> dict[str, Any]:
    """``{"leads", "stages": {STAGE: {"leads", "persons", "amount"}}, "quarantined",
    "unlinked_activity": {"drivers", "would_claim"}, "as_of"}``; ``OK`` also has
    ``by_status`` (its amount per claim status), ``NO_IDENTITY`` ``at_stake`` (the backlog's
    recoverable + waiting soles, docs/recovery.md "Backlog segments")."""
    ensure(engine, settings, now)
    with transaction(engine) as session:
        facts = load_facts(session, now.date())
        leads = claims_store.lead_persons(session)
        claimed: dict[str, float] = {}
        by_status: dict[str, dict[str, float]] = {}
        for c in claims_store.load_claims(session):
            claimed[c["person_key"]] = claimed.get(c["person_key"], 0.0) + c["amount"]
            mine = by_status.setdefault(c["person_key"], {})
            mine[c["status"]] = mine.get(c["status"], 0.0) + c["amount"]
        quarantined = quarantine_store.count_active(session)
        unlinked = activity_summary(session)
        segments = segment_summary(session, settings, now)
    amounts = settings.claim_amounts()
    stages: dict[str, dict[str, Any]] = {
        s: {"leads": 0, "persons": set(), "amount": 0.0} for s in STAGES
    }
    ok_by_status = dict.fromkeys(STATUSES, 0.0)
    for rid, person in leads:
        stage, amount = _stage(person, facts, claimed, amounts, settings.claim_window_days)
        entry = stages[stage]
        entry["leads"] += 1
        if person is not None:
            entry["persons"].add(person)
            anchor = facts.anchors.get(person)
            if anchor is not None and anchor[0] == rid:  # money once per person
                entry["amount"] += amount
                if stage == "OK":
                    for status, value in by_status.get(person, {}).items():
                        ok_by_status[status] += value
    out_stages: dict[str, dict[str, Any]] = {
        s: {"leads": v["leads"], "persons": len(v["persons"]), "amount": round(v["amount"], 2)}
        for s, v in stages.items()
    }
    # OK's money is every claim of its persons, whatever its status: the claims page's
    # "outstanding" is one part of it (generated and unpaid).
    out_stages["OK"]["by_status"] = {k: round(v, 2) for k, v in ok_by_status.items()}
    # NO_IDENTITY claims nothing yet; what its KPI-red leads could still bring is at stake.
    out_stages["NO_IDENTITY"]["at_stake"] = round(
        segments["recoverable"]["at_stake"] + segments["waiting"]["at_stake"], 2
    )
    return {
        "as_of": now.date().isoformat(),
        "leads": len(leads),
        "stages": out_stages,
        "quarantined": quarantined,
        "unlinked_activity": {"drivers": unlinked["drivers"],
                              "would_claim": unlinked["would_claim"]},
    }  # fmt: skip


def _stage(
    person: str | None,
    facts: Any,
    claimed: dict[str, float],
    amounts: dict[str, float],
    window_days: int,
) -> tuple[str, float]:
    if person is None:
        return "NO_IDENTITY", 0.0
    if person in facts.quarantined_persons or not facts.driver_ids.get(person):
        return "NO_DRIVER", 0.0
    reached = facts.reached(person, window_days)
    if not reached:
        return "NO_TRIPS_14D", 0.0
    if person not in claimed:
        return "TRIPS_NO_CLAIM", sum(amounts[m] for m in reached)
    return "OK", claimed[person]
