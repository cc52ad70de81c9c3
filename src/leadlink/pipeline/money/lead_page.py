"""One lead, whole: what ``leadlink explain leads LEAD_ID`` says (``explain.explain_lead``, as
``GET /api/leads/{lead_id}`` answers it), every review item proposed for it, and, while it has
no person, its row of the backlog: segment, money at stake and deadline, read from the summary
table through the segments' own definitions (``store.backlog_view.lead``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import NotFoundError
from leadlink.pipeline.money.segments import lead_dict
from leadlink.pipeline.resolution.explain import explain_lead
from leadlink.pipeline.summaries import ensure, segment_rules
from leadlink.settings import Settings
from leadlink.store import backlog_view, queries
from leadlink.store.db import transaction


def lead_page(
    engine: Engine, settings: Settings, lead_id: str, *, now: dt.datetime
) -> dict[str, Any]:
    """``explain_lead``'s dict plus ``review_items`` (every status, best score first) and
    ``backlog``: None when the lead is linked, else ``{"kpi_red", "segment", "loss_reason",
    "reason", "candidate", "candidate_trips", "at_stake", "deadline", "days_left", "as_of"}``
    (``segment`` and the money mean something only when ``kpi_red``: past its grace period).
    NotFoundError if there is no such lead."""
    lead = explain_lead(engine, lead_id)
    rules = segment_rules(settings, now)
    ensure(engine, settings, now)
    with transaction(engine) as session:
        record = queries.record(session, "leads", lead_id)
        if record is None:  # deleted between the two reads
            raise NotFoundError("no record {source}/{pk}", code="record_unknown",
                                source="leads", pk=lead_id)
        items = queries.review_items(session, record.id)
        row = backlog_view.lead(session, rules, record.id)
    return {**lead, "review_items": items, "backlog": _backlog(row, now.date())}


def _backlog(row: dict[str, Any] | None, today: dt.date) -> dict[str, Any] | None:
    if row is None:
        return None
    shown = lead_dict(row, today)
    del shown["lead_id"], shown["lead_date"]  # the page's own header shows them
    return {"as_of": today.isoformat(), "kpi_red": row["kpi_red"], **shown}
