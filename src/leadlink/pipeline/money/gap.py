"""`leadlink gap`: why each lead is (not) attributed to a person with an origin, and the risk.

Definitions live with the SQL in ``leadlink.store.gap``; this service adds ages and shapes the
report. The summary always covers every lead; filters only narrow the ``leads`` list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import UsageError
from leadlink.settings import Settings
from leadlink.store import gap as gap_store
from leadlink.store.db import transaction


def gap_report(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    reasons: Sequence[str] = (),
    risks: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
    sort: str | None = None,
) -> dict[str, Any]:
    """``{"summary": {reason: n, "high_risk": n, ...}, "leads": [{lead_id, gap_reason, ...}]}``:
    ``leads`` is the page of ``limit`` filtered leads from ``offset`` in ``sort`` order."""
    if sort is not None and sort not in gap_store.SORTS:
        raise UsageError("unknown sort {sort!r}; one of: {known}", code="sort_unknown",
                         sort=sort, known=", ".join(gap_store.SORTS))  # fmt: skip
    bad = [r for r in reasons if r not in gap_store.GAP_REASONS]
    bad += [r for r in risks if r not in gap_store.RISKS]
    if bad:
        raise UsageError(
            "unknown gap reason or risk {bad}: reasons are {reasons}; risks are {risks}",
            code="gap_filter_unknown", bad=", ".join(bad),
            reasons=", ".join(gap_store.GAP_REASONS), risks=", ".join(gap_store.RISKS),
        )
    cutoffs = gap_store.GapCutoffs.at(now, settings.gap_medium_days, settings.gap_high_days)
    with transaction(engine) as session:
        by_reason = gap_store.summary(session, cutoffs)
        rows = gap_store.leads(session, cutoffs, reasons=reasons, risks=risks, limit=limit,
                               offset=offset, sort=sort)  # fmt: skip
    return {"summary": _summary(by_reason), "leads": [_lead(r, now.date()) for r in rows]}


def _summary(by_reason: dict[str, dict[str, int]]) -> dict[str, Any]:
    total = sum(sum(risks.values()) for risks in by_reason.values())
    out: dict[str, Any] = {
        reason: sum(by_reason[reason].values()) for reason in gap_store.GAP_REASONS
    }
    for risk in gap_store.RISKS:
        out[f"{risk}_risk"] = sum(risks.get(risk, 0) for risks in by_reason.values())
    unresolved = total - out["resolved"]
    out["total"] = total
    out["unresolved"] = unresolved
    out["unresolved_pct"] = round(100.0 * unresolved / total, 2) if total else 0.0
    out["by_risk"] = {reason: dict(sorted(risks.items())) for reason, risks in by_reason.items()}
    return out


def _lead(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    event_date: dt.date | None = row["event_date"]
    return {
        "lead_id": row["lead_id"],
        "gap_reason": row["gap_reason"],
        "risk": row["risk"],
        "age_days": (today - event_date).days if event_date is not None else None,
        "lead_date": event_date.isoformat() if event_date is not None else None,
        "person_key": row["person_key"],
    }
