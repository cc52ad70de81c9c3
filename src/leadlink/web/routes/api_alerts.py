"""GET /api/alerts: operational alerts, the open (firing) ones by default."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadlink.store import listing_ops
from leadlink.web.deps import EngineDep, current_principal, paged
from leadlink.web.routes.api_common import Item, Page, PageDep, text_filter, window

# Every route reads: a viewer token (or a dashboard session) is enough.
router = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(current_principal)])

AlertState = Literal["open", "resolved", "all"]
Severity = Literal["warning", "critical"]


class AlertItem(Item):
    """An alert (``leadlink alerts`` evaluates the rules; docs/operations.md lists them):
    ``open`` while it fires, with ``resolved_at`` once it cleared; ``acknowledged`` once an
    operator acknowledged it (POST /api/alerts/{id}/ack: who, when, the note)."""

    id: int
    kind: str
    subject: str
    severity: str
    detail: dict[str, Any]
    raised_at: str
    resolved_at: str | None
    open: bool
    acknowledged: bool
    acknowledged_at: str | None
    acknowledged_by: str | None
    ack_note: str | None


@router.get("", response_model=Page[AlertItem], summary="Alerts, open (firing) ones by default")
def list_alerts(
    engine: EngineDep,
    page: PageDep,
    state: Annotated[
        AlertState, Query(description="`open`: firing at the last evaluation.")
    ] = "open",
    kind: Annotated[str | None, text_filter("Alert kind, e.g. job_stale.", 40)] = None,
    severity: Annotated[Severity | None, Query(description="Severity.")] = None,
    acknowledged: Annotated[
        bool | None, Query(description="Only acknowledged (true) or unacknowledged (false).")
    ] = None,
) -> dict[str, object]:
    """Newest raised first."""
    filters = listing_ops.AlertFilter(state=state, kind=kind, severity=severity,
                                      acknowledged=acknowledged)  # fmt: skip
    total, rows = listing_ops.alerts(engine, filters, window(page))
    return paged(list(rows), total, page)
