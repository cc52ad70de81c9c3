"""The API's writes besides leads: review decisions, acknowledging alerts and starting jobs
(operators only).

Every write is audited with the token's name by the service it calls (``review_accept`` /
``review_reject``, ``alert_ack``, ``job_start``). A review item decided already (or whose
record got a link meanwhile), or an alert resolved or acknowledged already, is a conflict:
409 with what happened to it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import AfterValidator, BaseModel, Field

from leadlink.errors import UsageError
from leadlink.pipeline.operations import alerts as alerts_service
from leadlink.pipeline.operations import job_start
from leadlink.pipeline.resolution import review
from leadlink.web.deps import EngineDep, NowDep, OperatorDep, SettingsDep
from leadlink.web.routes.api_alerts import AlertItem
from leadlink.web.routes.api_common import JsonBodyRoute, id_path, no_surrogates, not_found

router = APIRouter(prefix="/api", tags=["writes"], route_class=JsonBodyRoute)

# How long POST /api/jobs/{kind} waits for the job before answering 202 (it goes on running).
JOB_WAIT_SECONDS = 2.0


class Decision(BaseModel):
    note: Annotated[str, AfterValidator(no_surrogates)] | None = Field(
        default=None, max_length=2000, description="Why, for the audit log."
    )


NoteBody = Annotated[Decision | None, Body(description="Optional note.")]
ItemId = Annotated[int, id_path("Review item id (GET /api/review).")]
CONFLICT: dict[int | str, dict[str, Any]] = {
    **not_found("review item"),
    409: {"description": "The item was decided already (or its record got a link)."},
}


def _decide(action: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = action(**kwargs)
    except UsageError as exc:  # the services' only UsageError here: the item is not open
        raise HTTPException(409, str(exc)) from None
    return result


@router.post("/review/{item_id}/accept", responses=CONFLICT)
def accept_review_item(
    item_id: ItemId, principal: OperatorDep, engine: EngineDep, settings: SettingsDep,
    now: NowDep, body: NoteBody = None,
) -> dict[str, Any]:  # fmt: skip
    """Link the item's record to the proposed person (with its origin), audited."""
    return _decide(review.accept, engine=engine, settings=settings, item_id=item_id,
                   actor=principal.name, note=body.note if body else None, now=now)  # fmt: skip


@router.post("/review/{item_id}/reject", responses=CONFLICT)
def reject_review_item(
    item_id: ItemId, principal: OperatorDep, engine: EngineDep, settings: SettingsDep,
    now: NowDep, body: NoteBody = None,
) -> dict[str, Any]:  # fmt: skip
    """Never propose this pair again; the record stays unmatched, audited."""
    return _decide(review.reject, engine=engine, settings=settings, item_id=item_id,
                   actor=principal.name, note=body.note if body else None, now=now)  # fmt: skip


AlertId = Annotated[int, id_path("Alert id (GET /api/alerts).")]
ALERT_CONFLICT: dict[int | str, dict[str, Any]] = {
    **not_found("alert"),
    409: {"description": "The alert is resolved, or acknowledged already (by whom, when)."},
}


@router.post("/alerts/{alert_id}/ack", response_model=AlertItem, responses=ALERT_CONFLICT)
def acknowledge_alert(
    alert_id: AlertId, principal: OperatorDep, engine: EngineDep, now: NowDep,
    body: NoteBody = None,
) -> dict[str, Any]:  # fmt: skip
    """Acknowledge an open alert, audited: it stays open while its rule holds, shown as
    acknowledged (by the token's name, when, the note); the alert as GET /api/alerts lists it."""
    return _decide(alerts_service.acknowledge, engine=engine, alert_id=alert_id,
                   actor=principal.name, note=body.note if body else None, now=now)  # fmt: skip


class JobKind(StrEnum):
    """The worker's jobs an operator may start (``job_start.KINDS``; ingest needs a folder)."""

    match = "match"
    queue_seed = "queue_seed"
    recover = "recover"
    claims = "claims"
    alerts = "alerts"


@router.post(
    "/jobs/{kind}",
    responses={
        202: {"description": "Still running: follow it in GET /api/jobs."},
        409: {"description": "A job of this kind is running: the answer names its holder."},
    },
)
def start_job(
    kind: JobKind, principal: OperatorDep, engine: EngineDep, settings: SettingsDep,
    now: NowDep, response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Run one of the worker's jobs now, as ``leadlink worker`` would (lock, job_run, audit).

    Waits up to 2 s: 200 with the outcome (status ok or failed, counts, run_id), or 202 while
    it still runs.
    """
    started = job_start.start(engine, settings, kind.value, actor=principal.name, now=now,
                              wait_seconds=JOB_WAIT_SECONDS)  # fmt: skip
    if not started.finished:
        response.status_code = 202
    return started.result
