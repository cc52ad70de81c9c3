"""The claims page: claims and collection by milestone and by lead week, aging, payments.

Its numbers are ``claims_report.report``'s, the report behind ``leadlink claims --json``. The
page reads; it does not recompute claims (that is `leadlink claims` and the worker's job).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from leadlink.errors import UsageError
from leadlink.pipeline.money.claim_facts import MILESTONES, STATUSES
from leadlink.pipeline.money.claims_report import (
    AGING,
    by_lead_day,
    claim_list,
    report,
    soles,
)
from leadlink.store.listing import Window
from leadlink.store.listing_ops import CLAIM_SORTS, ClaimFilter, claim_facets
from leadlink.web import charts
from leadlink.web.deps import EngineDep, NowDep, PageDep, SettingsDep, ViewerDep, paged
from leadlink.web.i18n import Translator, format_date
from leadlink.web.pages.common import respond, svg
from leadlink.web.pages.tables import TableSpec

# The page's tables as CSV (web/pages/tables.py): the claim rows are GET /api/claims's.
TABLES = {
    "rows": TableSpec(("rows",), ("id", "person_key", "milestone", "lead_id", "lead_date",
                                  "reached_on", "amount", "status", "payment", "age_days")),
    "by_milestone": TableSpec(("claims", "by_milestone"), (
        "milestone", "count", "amount", *(f"by_status.{s}" for s in STATUSES)), key="milestone"),
    "by_week": TableSpec(("by_week",), ("week", "iso_week", "count", "amount", "collected",
                                        "outstanding", *(f"by_status.{s}" for s in STATUSES))),
    "aging": TableSpec(("claims", "aging"), ("bucket", "count", "amount"), key="bucket"),
}  # fmt: skip

router = APIRouter(include_in_schema=False)

MILESTONE_NAMES = tuple(m for m, _ in MILESTONES)
# Collected = paid; outstanding = generated and unpaid (claims_report's amount_outstanding).
COLLECTED, OUTSTANDING = "paid", "generated"
# Paid green, outstanding blue, expired red (money lost), the rest grey.
STATUS_COLOURS = {"paid": "#1e7b34", "generated": "#0a5ea8", "expired": "#b3261e",
                  "expected": "#9aa5b1", "rejected": "#5f6b7a"}  # fmt: skip


def week_of(day: dt.date) -> dt.date:
    """The Monday starting the ISO week of ``day``."""
    return day - dt.timedelta(days=day.weekday())


def by_week(days: list[tuple[dt.date, str, int, int]]) -> list[dict[str, Any]]:
    """Claims per week of their lead's date (the cohort whose 14-day window they belong to):
    count and amount per status, the amount claimed and the amount collected (paid). ``days``
    is ``claims_report.by_lead_day``'s (lead date, status, claims, céntimos)."""
    weeks: dict[dt.date, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "amount": 0, "by_status": {s: 0 for s in STATUSES}}
    )
    for day, status, n, cents in days:
        w = weeks[week_of(day)]
        w["count"] += n
        w["amount"] += cents
        w["by_status"][status] += cents
    return [
        {"week": day.isoformat(), "iso_week": f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}",
         "count": w["count"], "amount": soles(w["amount"]),
         "collected": soles(w["by_status"][COLLECTED]),
         "outstanding": soles(w["by_status"][OUTSTANDING]),
         "by_status": {s: soles(v) for s, v in w["by_status"].items()}}
        for day, w in sorted(weeks.items())
    ]  # fmt: skip


@router.get("/claims")
@router.get("/claims.json")
def claims(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    milestone: Annotated[str | None, Query(description="Only M1, M5 or M25.")] = None,
    status: Annotated[str | None, Query(description="Only this claim status.")] = None,
    sort: Annotated[str, Query(description="The rows' order (GET /api/claims's).")] = "-reached_on",
) -> Response:
    def build() -> dict[str, Any]:
        if milestone not in (None, "", *MILESTONE_NAMES):
            raise UsageError("unknown milestone {milestone!r}; one of: {known}",
                             code="milestone_unknown", milestone=milestone,
                             known=", ".join(MILESTONE_NAMES))  # fmt: skip
        if status not in (None, "", *STATUSES):
            raise UsageError("unknown status {status!r}; one of: {known}",
                             code="claim_status_unknown", status=status,
                             known=", ".join(STATUSES))
        if sort not in CLAIM_SORTS:
            raise UsageError("unknown sort {sort!r}; one of: {known}", code="sort_unknown",
                             sort=sort, known=", ".join(CLAIM_SORTS))
        data = report(engine, settings, now=now, milestone=milestone or None,
                      status=status or None)  # fmt: skip
        data["by_week"] = by_week(by_lead_day(engine, milestone=milestone or None,
                                              status=status or None))  # fmt: skip
        # The table is GET /api/claims's page (same filters, sort and page); the report above
        # sums every claim.
        filters = ClaimFilter(milestone=milestone or None, status=status or None)
        total, rows = claim_list(engine, settings, filters, Window(page.limit, page.offset),
                                 now=now, sort=sort)  # fmt: skip
        data["rows"] = paged(list(rows), total, page)
        data["facets"] = claim_facets(engine, filters)
        data["filters"] = {"milestone": milestone or None, "status": status or None}
        data["sort"] = sort
        data["as_of"] = now.date().isoformat()
        return data

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        per_milestone = data["claims"]["by_milestone"]
        weeks = data["by_week"]
        shown = [s for s in STATUSES if any(w["by_status"][s] for w in weeks)] or [COLLECTED]
        milestone_chart = charts.bar_chart(
            [(m, float(v["amount"])) for m, v in per_milestone.items()],
            title=t("claims.chart_milestone"), y_label=t.currency_symbol, fmt=t.formatter("soles"),
        )  # fmt: skip
        week_chart = charts.stacked_bar_chart(
            [format_date(w["week"], t.locale, year=False) for w in weeks],
            {t.code("claim_status", s): [float(w["by_status"][s]) for w in weeks] for s in shown},
            title=t("claims.chart_week"), y_label=t.currency_symbol, fmt=t.formatter("soles"),
            colours=[STATUS_COLOURS[s] for s in shown],
        )  # fmt: skip
        return {"milestone_chart": svg(milestone_chart), "week_chart": svg(week_chart),
                "milestones": MILESTONE_NAMES, "statuses": STATUSES, "sorts": CLAIM_SORTS,
                "aging_buckets": [label for label, _, _ in AGING]}  # fmt: skip

    return respond(request, principal, "claims.html", build, json_path="/claims.json",
                   view=view, tables=TABLES)  # fmt: skip
