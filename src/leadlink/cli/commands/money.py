"""`leadlink claims` and `leadlink quarantine scan`: what the partner can bill, and who not."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, need, now, state

MILESTONE_NAMES = ("M1", "M5", "M25")
STATUS_NAMES = ("expected", "generated", "paid", "rejected", "expired")


@handles_errors
def claims_cmd(
    milestone: Annotated[
        str | None, typer.Option("--milestone", help="Only this milestone: M1, M5 or M25.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only this status: expected, generated, paid, rejected, expired."
        ),
    ] = None,
    rows: Annotated[
        bool, typer.Option("--rows", help="List every claim, not only totals.")
    ] = False,
    person: Annotated[
        str | None, typer.Option("--person", help="Only this person_key (implies --rows).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Compute claims per person and milestone, reconcile payments, show money and the funnel."""
    from leadlink.pipeline.money.claims import compute_claims
    from leadlink.pipeline.money.claims_report import report

    need(
        milestone is None or milestone in MILESTONE_NAMES,
        f"unknown milestone {milestone!r}; one of: {', '.join(MILESTONE_NAMES)}",
    )
    need(
        status is None or status in STATUS_NAMES,
        f"unknown status {status!r}; one of: {', '.join(STATUS_NAMES)}",
    )
    engine, settings, at = state.engine(), state.settings(), now()
    result = compute_claims(engine, settings, now=at)
    data = result.as_dict()
    if milestone or status or person or rows:  # the unfiltered summary came with the run
        data |= report(
            engine,
            settings,
            now=at,
            milestone=milestone,
            status=status,
            person=person,
            with_rows=rows,
        )
    emit(data, _print_claims, json_out)


def _print_claims(data: dict[str, Any]) -> None:
    claims, payments = data["claims"], data["payments"]
    console.table(
        "claims by milestone (S/)",
        ["milestone", "claims", "amount", *STATUS_NAMES],
        [
            (m, v["count"], f"{v['amount']:.2f}", *(v["by_status"][s] for s in STATUS_NAMES))
            for m, v in claims["by_milestone"].items()
        ],
    )
    console.key_values(
        "money (S/)",
        {
            "outstanding (generated, unpaid)": f"{claims['amount_outstanding']:.2f}",
            "expected (window open)": f"{claims['amount_expected']:.2f}",
            "paid": f"{claims['amount_paid']:.2f}",
            "rejected": f"{claims['amount_rejected']:.2f}",
            "expired": f"{claims['amount_expired']:.2f}",
        },
    )
    console.table(
        "aging of outstanding claims (days since the window closed)",
        ["bucket", "claims", "S/"],
        [(k, v["count"], f"{v['amount']:.2f}") for k, v in claims["aging"].items()],
    )
    console.key_values(
        "payments",
        {
            "reconciled": payments["reconciled"],
            "unreconciled": payments["unreconciled"],
            **{f"by {k}": v for k, v in payments["by_method"].items()},
            **{f"unreconciled: {k}": v for k, v in payments["unreconciled_by_reason"].items()},
        },
    )
    console.table("lead funnel", ["stage", "leads"], list(data["funnel"].items()))
    console.out.print(f"quarantined drivers: {data['quarantined']}")
    if "rows" in data:
        console.table(
            "claims",
            [
                "person_key",
                "milestone",
                "lead",
                "lead_date",
                "reached_on",
                "S/",
                "status",
                "age_days",
                "payment",
            ],
            [
                (
                    r["person_key"],
                    r["milestone"],
                    r["lead_id"],
                    r["lead_date"],
                    r["reached_on"],
                    f"{r['amount']:.2f}",
                    r["status"],
                    r["age_days"],
                    r["payment"],
                )
                for r in data["rows"]
            ],
        )


quarantine_app = typer.Typer(
    help="Orphan drivers kept out of claims and payments.", no_args_is_help=True
)


@quarantine_app.command("scan")
@handles_errors
def quarantine_scan(json_out: JsonOpt = False) -> None:
    """Quarantine drivers with no lead, no origin and no trips; release relinked ones."""
    from leadlink.pipeline.money.quarantine import scan

    data = scan(state.engine(), state.settings(), now=now()).as_dict()
    emit(data, lambda d: console.key_values("quarantine scan", d), json_out)


@quarantine_app.command("list")
@handles_errors
def quarantine_list(json_out: JsonOpt = False) -> None:
    """Drivers in quarantine now: driver id, person, reason, since when."""
    from leadlink.pipeline.money.quarantine import quarantined

    emit({"quarantined": quarantined(state.engine())}, _print_quarantined, json_out)


def _print_quarantined(data: dict[str, Any]) -> None:
    found = data["quarantined"]
    console.table(
        f"{len(found)} drivers in quarantine",
        ["driver_id", "person_key", "reason", "since"],
        [(r["driver_id"], r["person_key"], r["reason"], r["quarantined_at"]) for r in found],
    )


@handles_errors
def refresh_cmd(json_out: JsonOpt = False) -> None:
    """Recompute the money views' summary tables (backlog segments, unlinked activity, review
    stakes, the funnel) in full. The jobs that change them do it themselves; this is for after
    a failed job, or to have a new day's activity and funnel ready before anyone asks
    (docs/summaries.md)."""
    from leadlink.pipeline.summaries import refresh_job

    data = refresh_job(state.engine(), state.settings(), now())
    emit(data, _print_refresh, json_out)


def _print_refresh(data: dict[str, Any]) -> None:
    rows = [(view, v["rows"], v["seconds"]) for view, v in data["views"].items()]
    console.table(f"summary tables as of {data['as_of']}", ["view", "rows", "seconds"], rows)
