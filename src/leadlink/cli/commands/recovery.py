"""`leadlink queue seed|status`, `leadlink recover`, `leadlink impact`, `leadlink backlog`: the
KPI-red backlog."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state

queue_app = typer.Typer(help="The recovery queue of KPI-red leads.", no_args_is_help=True)


@queue_app.command("seed")
@handles_errors
def queue_seed(json_out: JsonOpt = False) -> None:
    """Enqueue every KPI-red lead once (idempotent); re-arm finished items that may now resolve."""
    from leadlink.pipeline.money.recovery import seed

    data = seed(state.engine(), state.settings(), now=now()).as_dict()
    emit(data, lambda d: console.key_values("queue seed", d), json_out)


@queue_app.command("status")
@handles_errors
def queue_status(json_out: JsonOpt = False) -> None:
    """Queue items per status, how many are due now, and the parked ones with their errors."""
    from leadlink.pipeline.money.recovery import queue_status as status

    emit(status(state.engine(), now=now()), _print_status, json_out)


def _print_status(data: dict[str, Any]) -> None:
    console.key_values("recovery queue", data["counts"])
    parked = [(p["lead_id"], p["attempts"], p["last_error"]) for p in data["parked"]]
    console.table("parked (failed too often)", ["lead", "attempts", "last error"], parked)


@queue_app.command("retry")
@handles_errors
def queue_retry(
    lead_ids: Annotated[
        list[str] | None, typer.Argument(help="Lead ids of parked items (default: every one)")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: OS user)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Send parked items (failed 5 times) back to the queue, once their error is understood."""
    import getpass

    from leadlink.pipeline.money.recovery import retry_parked

    data = retry_parked(state.engine(), now=now(), lead_ids=lead_ids or None,
                        actor=by or getpass.getuser())  # fmt: skip
    emit(data, lambda d: console.key_values("queue retry", d), json_out)


@handles_errors
def recover_cmd(
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Process exactly N due items (all if unset)."),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="SQLite: seconds to wait for a running recover (0: exit)."
        ),
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Work the recovery queue: match due leads in batches, record every attempt."""
    from leadlink.pipeline.money.recovery import recover

    with console.progress(not json_out) as report:
        result = recover(state.engine(), state.settings(), now=now(), limit=limit,
                         progress=report, wait=wait or False)  # fmt: skip
    emit(result.as_dict(), _print_recover, json_out)


def _print_recover(data: dict[str, Any]) -> None:
    keys = ("run_id", "processed", "matched", "unmatched", "failed", "parked", "batches",
            "already_linked", "backlog_before", "backlog_after")  # fmt: skip
    console.key_values("recover", {k: data[k] for k in keys})
    console.table("unmatched by reason", ["reason", "leads"],
                  sorted(data["unmatched_by_reason"].items()))  # fmt: skip
    if data["failed_by_error"]:
        console.table("failed by error", ["error", "leads"], list(data["failed_by_error"].items()))


@handles_errors
def impact_cmd(
    days: Annotated[int, typer.Option("--days", min=1, help="Window in days, today included.")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """KPI-red backlog before/after/delta, matched out vs new in, top fail reason, per day."""
    from leadlink.pipeline.money.impact import impact

    data = impact(state.engine(), state.settings(), now=now(), days=days)
    emit(data, lambda d: _print_impact(d, days), json_out)


def _print_impact(data: dict[str, Any], days: int) -> None:
    keys = ("since", "backlog_before", "backlog_after", "delta", "matched_out", "new_in",
            "top_fail_reason", "success")  # fmt: skip
    console.key_values(f"impact, last {days} days", {k: data[k] for k in keys})
    segments = [(s, v["leads"], v["at_stake"]) for s, v in data["segments"].items()]
    console.table("backlog now, by segment", ["segment", "leads", "S/ at stake"], segments)
    cols = ["day", "backlog_before", "backlog_after", "delta", "matched_out", "new_in",
            "processed", "failed", "top_fail_reason", "success"]  # fmt: skip
    console.table("per day", cols, [[_cell(d[c]) for c in cols] for d in data["days"]])


@handles_errors
def backlog_cmd(
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", help="Only leads of this segment (recoverable, waiting, lost)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Leads listed.")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Leads skipped.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """The KPI-red backlog by what can still be claimed: recoverable, waiting, lost; S/ at
    stake and deadlines (docs/recovery.md, "Backlog segments")."""
    from leadlink.pipeline.money.segments import backlog_segments

    data = backlog_segments(state.engine(), state.settings(), now=now(),
                            segments=segment or (), limit=limit, offset=offset)  # fmt: skip
    emit(data, _print_backlog, json_out)


def _print_backlog(data: dict[str, Any]) -> None:
    segments = data["segments"]
    rows = [(s, v["leads"], v["at_stake"], v["next_deadline"]) for s, v in segments.items()]
    rows.append(("total", data["kpi_red"], data["at_stake"], None))
    console.table(f"KPI-red backlog on {data['as_of']}", ["segment", "leads", "S/ at stake",
                                                         "next deadline"], rows)  # fmt: skip
    lost = sorted(segments["lost"]["by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
    console.table("lost, by reason", ["reason", "leads"], lost)
    cols = ["lead", "segment", "reason", "S/", "deadline", "days"]
    leads = [(r["lead_id"], r["segment"], r["loss_reason"] or r["reason"], r["at_stake"],
              r["deadline"], r["days_left"]) for r in data["leads"]]  # fmt: skip
    shown = f"{data['offset'] + 1}-{data['offset'] + len(leads)}" if leads else "none"
    console.table(f"leads {shown} of {data['total']}", cols, leads)


def _cell(value: Any) -> Any:
    return "yes" if value is True else "no" if value is False else value
