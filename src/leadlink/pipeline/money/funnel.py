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

The stages are read from a summary table (the view ``funnel``, ``store.funnel_view``,
docs/summaries.md), computed from their one definition (``claim_windows.funnel_rows``) by the
jobs and decisions that change them; ``summary_table`` says when, and whether it may lag.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.pipeline.money.activity import summary_in as activity_summary
from leadlink.pipeline.money.claim_facts import STATUSES
from leadlink.pipeline.money.segments import segment_summary
from leadlink.pipeline.summaries import ensure, freshness
from leadlink.settings import Settings
from leadlink.store import funnel_view
from leadlink.store import quarantine as quarantine_store
from leadlink.store.db import transaction
from leadlink.store.money_tables import FUNNEL_STATUSES

STAGES = funnel_view.STAGES
# The stored funnel has one column per claim status: the two lists must be the same.
assert tuple(STATUSES) == FUNNEL_STATUSES


def funnel(engine: Engine, settings: Settings, *, now: dt.datetime) -> dict[str, Any]:
    """``{"leads", "stages": {STAGE: {"leads", "persons", "amount"}}, "quarantined",
    "unlinked_activity": {"drivers", "would_claim"}, "as_of"}``; ``OK`` also has
    ``by_status`` (its amount per claim status), ``NO_IDENTITY`` ``at_stake`` (the backlog's
    recoverable + waiting soles, docs/recovery.md "Backlog segments"); ``summary_table``: when
    the stored stages were computed (``lagging``: they may be behind, docs/summaries.md).

    The stages are the five stored rows of the view ``funnel`` (computed first if stale)."""
    ensure(engine, settings, now)
    with transaction(engine) as session:
        counted = funnel_view.stored(session)
        fresh = freshness(session).get("funnel")
        quarantined = quarantine_store.count_active(session)
        unlinked = activity_summary(session)
        segments = segment_summary(session, settings, now)
    out_stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        leads, persons, amount = counted["stages"].get(stage, (0, 0, 0.0))
        out_stages[stage] = {"leads": leads, "persons": persons, "amount": amount}
    # OK's money is every claim of its persons, whatever its status: the claims page's
    # "outstanding" is one part of it (generated and unpaid).
    out_stages["OK"]["by_status"] = {s: counted["ok_by_status"].get(s, 0.0) for s in STATUSES}
    # NO_IDENTITY claims nothing yet; what its KPI-red leads could still bring is at stake.
    out_stages["NO_IDENTITY"]["at_stake"] = round(
        segments["recoverable"]["at_stake"] + segments["waiting"]["at_stake"], 2
    )
    return {
        "as_of": now.date().isoformat(),
        "leads": counted["leads"],
        "stages": out_stages,
        "quarantined": quarantined,
        "unlinked_activity": {"drivers": unlinked["drivers"],
                              "would_claim": unlinked["would_claim"]},
        "summary_table": fresh,
    }  # fmt: skip
