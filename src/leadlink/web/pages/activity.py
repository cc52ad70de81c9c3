"""The unlinked-activity page (``/activity``, ``/activity.json``): drivers riding with no lead
and no origin, what their trips would claim, the trend, and the candidate leads that could
make them claimable (docs/activity.md).

The dict is ``leadlink activity --json``'s (the same service, the same paging), so the page
shows exactly what the CLI and ``GET /api/activity`` say; the chart is drawn from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from leadlink.pipeline.money.activity import MAX_DAYS, unlinked_activity
from leadlink.store import activity_view
from leadlink.web import charts
from leadlink.web.deps import EngineDep, NowDep, PageDep, SettingsDep, ViewerDep
from leadlink.web.i18n import Translator
from leadlink.web.pages.common import respond, svg
from leadlink.web.pages.ops import day_labels
from leadlink.web.pages.tables import TableSpec

# The page's tables as CSV (web/pages/tables.py); a driver's candidate leads are left out
# (a list of records: the JSON has them).
TABLES = {
    "drivers": TableSpec(("drivers",), ("driver_id", "person_key", "name", "hire_date",
                                        "first_trip", "last_trip", "trips", "window_from",
                                        "window_to", "anchor", "trips_in_window",
                                        "trips_outside_window", "would_claim")),
    "trend": TableSpec(("trend", "days"), ("day", "drivers", "trips", "snapshot.drivers",
                                           "snapshot.would_claim")),
}  # fmt: skip

router = APIRouter(include_in_schema=False)


@router.get("/activity")
@router.get("/activity.json")
def activity(
    request: Request,
    principal: ViewerDep,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    page: PageDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days of trend shown.")] = 30,
    sort: Annotated[str, Query(description="-would_claim or would_claim.")] = "-would_claim",
    anchor: Annotated[str | None, Query(description="Only this window anchor.")] = None,
) -> Response:
    def build() -> dict[str, Any]:
        return unlinked_activity(engine, settings, now=now, limit=page.limit,
                                 offset=page.offset, days=days, sort=sort,
                                 anchor=anchor or None)  # fmt: skip

    def view(t: Translator, data: dict[str, Any]) -> dict[str, Any]:
        points = [(float(dt.date.fromisoformat(d["day"]).toordinal()), d)
                  for d in data["trend"]["days"]]  # fmt: skip
        series = {t("activity.riding"): [(x, float(d["drivers"])) for x, d in points]}
        snapshots = [(x, float(d["snapshot"]["drivers"])) for x, d in points if d["snapshot"]]
        if snapshots:
            series[t("activity.snapshot")] = snapshots
        chart = charts.line_chart(
            series, title=t("activity.chart"), x_label=t("backlog.day"),
            y_label=t("activity.drivers"), x_format=day_labels(t), y_format=t.formatter("num"),
        )  # fmt: skip
        return {"chart": svg(chart), "days": days, "sorts": tuple(activity_view.SORTS)}

    return respond(request, principal, "activity.html", build, json_path="/activity.json",
                   view=view, tables=TABLES)  # fmt: skip
