"""Operations pages: overview (the funnel), the KPI-red backlog, gap analysis, jobs and alerts.

Each page's dict comes from the services behind the CLI (``funnel``/``claims``, ``impact``,
``queue status``, ``gap``, ``alerts``), so its JSON equals their ``--json`` numbers. The
operator's forms on the last two, "run now" on /jobs and "acknowledge" on /alerts, call the
services behind ``POST /api/jobs/{kind}`` and ``POST /api/alerts/{id}/ack`` (audited alike).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from leadlink.errors import LeadlinkError, LockBusyError
from leadlink.pipeline.money.funnel import STAGES, funnel
from leadlink.pipeline.money.gap import gap_report
from leadlink.pipeline.money.impact import impact
from leadlink.pipeline.money.recovery import queue_status
from leadlink.pipeline.money.segments import SEGMENTS, Segment, backlog_segments
from leadlink.pipeline.operations import alerts as alerts_service
from leadlink.pipeline.operations import job_start
from leadlink.pipeline.operations.freshness import job_freshness, run_dict
from leadlink.store import backlog_view
from leadlink.store import gap as gap_store
from leadlink.store import jobs as jobs_store
from leadlink.web import charts
from leadlink.web.deps import EngineDep, NowDep, PageDep, SettingsDep, ViewerDep, paged
from leadlink.web.i18n import Translator, format_date
from leadlink.web.pages.common import (
    FormWriterDep,
    error_page,
    flash,
    respond,
    svg,
    translator,
)
from leadlink.web.pages.tables import TableSpec

router = APIRouter(include_in_schema=False)

# The stylesheet's red / amber / grey: high risk reads as the alarm it is.
RISK_COLOURS = {"high": "#b3261e", "medium": "#e69f00", "low": "#9aa5b1"}
IMPACT_KEYS = ("since", "days_window", "backlog_before", "backlog_after", "delta",
               "matched_out", "new_in", "top_fail_reason", "success", "segments")  # fmt: skip
SEGMENT_KEYS = ("as_of", "kpi_red", "at_stake", "segments", "summary_table")
# How long "run now" waits for the job before saying it still runs (the API's wait).
RUN_WAIT_SECONDS = 2.0

# Each page's tables as CSV (web/pages/tables.py): where they are in its dict, their columns.
RUN_COLUMNS = ("id", "kind", "status", "started_at", "finished_at", "duration_s", "counts",
               "error")  # fmt: skip
DAY_COLUMNS = ("day", "backlog_before", "backlog_after", "delta", "matched_out", "new_in",
               "processed", "failed", "top_fail_reason")  # fmt: skip
OVERVIEW_TABLES = {
    "funnel": TableSpec(("funnel", "stages"), ("stage", "leads", "persons", "amount"), "stage"),
}
BACKLOG_TABLES = {
    "leads": TableSpec(("leads",), ("lead_id", "lead_date", "segment", "loss_reason", "reason",
                                    "candidate", "candidate_trips", "at_stake", "deadline",
                                    "days_left")),
    "segments": TableSpec(("segments", "segments"), ("segment", "leads", "at_stake",
                                                     "next_deadline"), key="segment"),
    "lost_by_reason": TableSpec(("segments", "segments", "lost", "by_reason"),
                                ("loss_reason", "leads"), key="loss_reason", value="leads"),
    "days": TableSpec(("impact", "days"), DAY_COLUMNS),
    "parked": TableSpec(("queue", "parked"), ("lead_id", "attempts", "last_error")),
}  # fmt: skip
GAP_TABLES = {
    "leads": TableSpec(("leads",), ("lead_id", "gap_reason", "risk", "lead_date", "age_days",
                                    "person_key")),
    "by_reason": TableSpec(("summary", "by_risk"), ("gap_reason", *gap_store.RISKS),
                           key="gap_reason"),
}  # fmt: skip
JOBS_TABLES = {
    "jobs": TableSpec(("jobs",), ("kind", "status", "duration_s", "last_ok_at", "hours_since_ok",
                                  "stale", "stale_after_hours", "watched", "last_run.id")),
    "recover_runs": TableSpec(("recover_runs",), RUN_COLUMNS),
}  # fmt: skip
ALERTS_TABLES = {
    "open": TableSpec(("open",), ("id", "kind", "subject", "severity", "raised_at", "detail",
                                  "acknowledged_at", "acknowledged_by", "ack_note")),
}


@router.get("/")
@router.get("/overview.json")
def overview(
    request: Request, principal: ViewerDep, engine: EngineDep, settings: SettingsDep, now: NowDep
) -> Response:
    def build() -> dict[str, Any]:
        week = impact(engine, settings, now=now, days=7)
        return {
            "as_of": now.isoformat(timespec="seconds"),
            "funnel": funnel(engine, settings, now=now),
            "kpi_red": week["backlog_after"],
            "kpi_grace_days": settings.kpi_grace_days,
            "impact": {k: week[k] for k in IMPACT_KEYS},
            "open_alerts": len(alerts_service.open_now(engine)),
        }

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        stages = data["funnel"]["stages"]
        bars = [(t.code("stage", s), float(stages[s]["leads"])) for s in STAGES]
        chart = charts.bar_chart(bars, title=t("overview.chart_leads"), y_label=t("common.leads"),
                                 fmt=t.formatter("num"))  # fmt: skip
        return {"stages": STAGES, "chart": svg(chart)}

    return respond(request, principal, "overview.html", build,
                   json_path="/overview.json", view=view, tables=OVERVIEW_TABLES)  # fmt: skip


def day_labels(t: Translator) -> Callable[[float], str]:
    """Day ordinals on a chart axis as dates in the language (blank between whole days)."""

    def label(value: float) -> str:
        if not float(value).is_integer():
            return ""
        return format_date(dt.date.fromordinal(int(value)), t.locale)

    return label


@router.get("/backlog")
@router.get("/backlog.json")
def backlog(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    days: Annotated[int, Query(ge=1, le=366, description="Days shown, today included.")] = 30,
    segment: Annotated[list[Segment] | None, Query(description="Only these segments.")] = None,
    loss_reason: Annotated[list[str] | None, Query(description="Only lost for these.")] = None,
    sort: Annotated[str | None, Query(description="lead_date or -lead_date.")] = None,
) -> Response:
    def build() -> dict[str, Any]:
        # The segments are `leadlink backlog --json`'s, the page of leads its ``leads``.
        split = backlog_segments(engine, settings, now=now, segments=segment or (),
                                 limit=page.limit, offset=page.offset, sort=sort,
                                 losses=loss_reason or ())  # fmt: skip
        return {"impact": impact(engine, settings, now=now, days=days),
                "queue": queue_status(engine, now=now), "days": days,
                "segments": {k: split[k] for k in SEGMENT_KEYS},
                "leads": paged(split["leads"], split["total"], page),
                "sort": split["sort"], "facets": split["facets"],
                "filters": split["filters"]}  # fmt: skip

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        rows = data["impact"]["days"]
        ordinal = [(dt.date.fromisoformat(r["day"]).toordinal(), r) for r in rows]
        # One day is one dot, not a trend: the page says so and shows the day's bars.
        line = None if len(rows) < 2 else charts.line_chart(
            {t("backlog.after"): [(float(o), float(r["backlog_after"])) for o, r in ordinal]},
            title=t("backlog.chart_backlog"), x_label=t("backlog.day"),
            y_label=t("common.leads"), x_format=day_labels(t), y_format=t.formatter("num"),
        )  # fmt: skip
        flow = charts.stacked_bar_chart(
            [format_date(r["day"], t.locale, year=False) for r in rows],
            {t("backlog.new_in"): [float(r["new_in"]) for r in rows],
             t("backlog.matched_out"): [float(r["matched_out"]) for r in rows]},
            title=t("backlog.chart_flow"), y_label=t("common.leads"), stacked=False,
            fmt=t.formatter("num"),
        )  # fmt: skip
        return {"line_chart": svg(line) if line else None, "flow_chart": svg(flow),
                "segment_names": SEGMENTS, "sorts": tuple(backlog_view.SORTS)}

    return respond(request, principal, "backlog.html", build,
                   json_path="/backlog.json", view=view, tables=BACKLOG_TABLES)  # fmt: skip


@router.get("/gap")
@router.get("/gap.json")
def gap(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    reason: Annotated[list[str] | None, Query(description="Only these gap reasons.")] = None,
    risk: Annotated[list[str] | None, Query(description="Only these risks.")] = None,
    sort: Annotated[str | None, Query(description="lead_date, lead_id (`-`: descending).")] = None,
) -> Response:
    reasons, risks = reason or [], risk or []

    def build() -> dict[str, Any]:
        report = gap_report(engine, settings, now=now, reasons=reasons, risks=risks,
                            limit=page.limit, offset=page.offset, sort=sort)  # fmt: skip
        by_risk = report["summary"]["by_risk"]
        total = sum(n for r, per in by_risk.items() if not reasons or r in reasons
                    for k, n in per.items() if not risks or k in risks)  # fmt: skip
        leads = paged(report["leads"], total, page)
        # Facets from the summary's one GROUP BY (reason, risk), under the other filter.
        facets: dict[str, dict[str, int]] = {"reason": {}, "risk": {}}
        for r, per in by_risk.items():
            for k, n in per.items():
                if n and (not risks or k in risks):
                    facets["reason"][r] = facets["reason"].get(r, 0) + n
                if n and (not reasons or r in reasons):
                    facets["risk"][k] = facets["risk"].get(k, 0) + n
        return {"summary": report["summary"], "leads": leads, "facets": facets,
                "filters": {"reason": reasons, "risk": risks}, "sort": sort}  # fmt: skip

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        by_risk = data["summary"]["by_risk"]
        chart = charts.stacked_bar_chart(
            [t.code("gap_reason", r) for r in gap_store.GAP_REASONS],
            {t.code("risk", k): [float(by_risk.get(r, {}).get(k, 0))
                                 for r in gap_store.GAP_REASONS] for k in gap_store.RISKS},
            title=t("gap.chart"), y_label=t("common.leads"), fmt=t.formatter("num"),
            colours=[RISK_COLOURS[k] for k in gap_store.RISKS],
        )  # fmt: skip
        return {"chart": svg(chart), "reasons": gap_store.GAP_REASONS, "risks": gap_store.RISKS,
                "sorts": gap_store.SORTS}  # fmt: skip

    return respond(request, principal, "gap.html", build, json_path="/gap.json",
                   view=view, tables=GAP_TABLES)  # fmt: skip


def recover_runs(engine: Engine, limit: int) -> list[dict[str, Any]]:
    return [run_dict(r) for r in jobs_store.last_runs(engine, "recover", limit=limit)]


@router.get("/jobs")
@router.get("/jobs.json")
def jobs(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    runs: Annotated[int, Query(ge=1, le=200, description="Recovery runs shown.")] = 20,
) -> Response:
    def build() -> dict[str, Any]:
        return {
            "as_of": now.isoformat(timespec="seconds"),
            "stale_after_hours": settings.job_stale_hours,
            "jobs": job_freshness(engine, settings, now),
            "recover_runs": recover_runs(engine, runs),
            "queue": queue_status(engine, now=now),
        }

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        done = list(reversed(data["recover_runs"]))
        chart = charts.stacked_bar_chart(
            [f"#{r['id']}" for r in done],
            {t.code("backlog", k): [float(r["counts"].get(k, 0)) for r in done]
             for k in ("matched", "unmatched", "failed")},
            title=t("jobs.chart_runs"), y_label=t("common.leads"), fmt=t.formatter("num"),
            colours=["#1e7b34", "#9aa5b1", "#b3261e"],
        )  # fmt: skip
        return {"chart": svg(chart), "runnable": job_start.KINDS}

    return respond(request, principal, "jobs.html", build, json_path="/jobs.json",
                   view=view, tables=JOBS_TABLES)  # fmt: skip


@router.post("/jobs/{kind}/run")
def run_job(
    request: Request, kind: str, writer: FormWriterDep, engine: EngineDep,
    settings: SettingsDep, now: NowDep,
) -> Response:  # fmt: skip
    """Start one of the worker's jobs now (``job_start``: its lock, job_run and audit), wait a
    little for it, and say on /jobs how it ended, that it still runs, or who runs it already."""
    t = translator(request)
    if isinstance(writer, str):  # a viewer, or no CSRF token: refused, as a page
        return error_page(request, None, 403, writer)
    if kind not in job_start.KINDS:
        return error_page(request, writer, 404, t("jobs.unknown_kind", kind=kind))
    name = t.code("job", kind)
    try:
        started = job_start.start(engine, settings, kind, actor=writer.name, now=now,
                                  wait_seconds=RUN_WAIT_SECONDS)  # fmt: skip
    except LockBusyError as exc:  # somebody runs it: nothing was started, nothing audited
        flash(request, "info", t("jobs.run_busy", job=name, detail=t.error(exc)))
    except LeadlinkError as exc:
        flash(request, "error", t("jobs.run_failed", job=name, error=t.error(exc)))
    else:
        result = started.result
        if not started.finished:
            flash(request, "info", t("jobs.run_running", job=name))
        elif result["status"] == "ok":
            flash(request, "ok", t("jobs.run_ok", job=name, run=result["run_id"],
                                   seconds=result["duration_s"]))  # fmt: skip
        else:
            flash(request, "error", t("jobs.run_ended", job=name, run=result["run_id"],
                                      status=t.code("job_status", result["status"]),
                                      error=result["error"] or "—"))  # fmt: skip
    return RedirectResponse(f"/jobs#job-{kind}", 303)


@router.get("/alerts")
@router.get("/alerts.json")
def alerts(request: Request, principal: ViewerDep, engine: EngineDep, now: NowDep) -> Response:
    def build() -> dict[str, Any]:
        evaluated = next((j for j in jobs_store.latest_by_kind(engine) if j["kind"] == "alerts"),
                         None)  # fmt: skip
        return {"open": alerts_service.open_now(engine),
                "evaluated_at": run_dict(evaluated)["finished_at"] if evaluated else None,
                "as_of": now.isoformat(timespec="seconds")}  # fmt: skip

    return respond(request, principal, "alerts.html", build, json_path="/alerts.json",
                   tables=ALERTS_TABLES)  # fmt: skip


@router.post("/alerts/{alert_id}/ack")
def acknowledge_alert(
    request: Request, alert_id: int, writer: FormWriterDep, engine: EngineDep, now: NowDep,
    note: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Acknowledge an open alert as the operator (``alerts ack``), back to /alerts."""
    t = translator(request)
    if isinstance(writer, str):
        return error_page(request, None, 403, writer)
    try:
        alert = alerts_service.acknowledge(engine, alert_id, actor=writer.name, note=note,
                                           now=now)  # fmt: skip
    except LeadlinkError as exc:  # unknown, resolved or acknowledged already: say so
        flash(request, "error", t("alerts.ack_failed", error=t.error(exc)))
    else:
        flash(request, "ok", t("alerts.acked", id=alert_id,
                               kind=t.code("alert", alert["kind"])))  # fmt: skip
    return RedirectResponse("/alerts", 303)
