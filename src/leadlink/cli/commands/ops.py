"""`leadlink check`, `leadlink gap`, `leadlink backfill origins`, `leadlink origins
list|decide`, `leadlink alerts [ack]`, `leadlink worker`: operating leadlink day to day
(docs/operations.md)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, need, now, state

backfill_app = typer.Typer(help="Repair data written before a feature existed.",
                           no_args_is_help=True)  # fmt: skip
origins_app = typer.Typer(help="Origins: why each person entered the funnel.", no_args_is_help=True)

TABLE_ROWS = 50


@handles_errors
def check(
    which: Annotated[str, typer.Argument(help="all, or one of the checks")] = "all",
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Sample size of sampling checks (drain).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the invariants; exit 1 on a violation, naming what broke."""
    from leadlink.pipeline.operations.checks import CHECKS, run_checks

    names = list(CHECKS) if which == "all" else [which]
    need(which == "all" or which in CHECKS,
         f"unknown check {which!r}; one of: all, {', '.join(CHECKS)}")  # fmt: skip
    settings = state.settings()
    if n is not None:
        settings = settings.model_copy(update={"check_sample": n})
    results = run_checks(state.engine(), settings, names)
    ok = all(r.ok for r in results)
    emit({"ok": ok, "checks": {r.name: r.as_dict() for r in results}}, _print_checks, json_out)
    if not ok:
        raise typer.Exit(1)


def _print_checks(data: dict[str, Any]) -> None:
    checks = data["checks"]
    console.table("checks", ["check", "ok", "violations", "detail"],
                  [(name, "ok" if r["ok"] else "FAILED", r["violations"], r["detail"])
                   for name, r in checks.items()])  # fmt: skip
    for name, r in checks.items():
        for example in r["examples"]:
            console.err.print(f"[red]{name}[/]: {example}", highlight=False)


@handles_errors
def gap(
    reason: Annotated[
        list[str] | None,
        typer.Option(
            "--reason",
            help="Only leads with this gap reason (repeatable): resolved, "
            "no_identity, no_origin, inconsistent_origin.",
        ),
    ] = None,
    risk: Annotated[
        list[str] | None,
        typer.Option("--risk", help="Only this risk (repeatable): high, medium, low."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N leads.")] = None,
    sort: Annotated[
        str | None,
        typer.Option("--sort", help="lead_date, -lead_date, lead_id or -lead_id; "
                     "default: high risk first, then oldest."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Gap analysis per lead: resolved / no_identity / no_origin / inconsistent_origin, risk."""
    from leadlink.pipeline.money.gap import gap_report

    data = gap_report(state.engine(), state.settings(), now=now(), reasons=reason or (),
                      risks=risk or (), limit=limit, sort=sort)  # fmt: skip
    emit(data, lambda d: _print_gap(d, limit), json_out)


def _print_gap(data: dict[str, Any], limit: int | None) -> None:
    s = data["summary"]
    console.key_values("gap summary (all leads)", {k: v for k, v in s.items() if k != "by_risk"})
    rows = data["leads"][: limit or TABLE_ROWS]
    console.table("leads", ["lead_id", "gap_reason", "risk", "age_days", "person_key"],
                  [(r["lead_id"], r["gap_reason"], r["risk"], r["age_days"], r["person_key"])
                   for r in rows])  # fmt: skip
    if len(data["leads"]) > len(rows):
        console.out.print(f"... {len(data['leads']) - len(rows)} more: use --limit or --json")


@backfill_app.command("origins")
@handles_errors
def backfill_origins(json_out: JsonOpt = False) -> None:
    """Give every linked lead, scouting and migration record without an origin its origin."""
    from leadlink.pipeline.money.origins import backfill

    data = backfill(state.engine(), state.settings(), now=now()).as_dict()
    emit(data, lambda d: console.key_values("backfill origins",
                                            {**d, "by_status": d["by_status"] or "-"}),
         json_out)  # fmt: skip


@origins_app.command("list")
@handles_errors
def origins_list(
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this person_key.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N origins.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List origins with their status and who decided it."""
    from leadlink.pipeline.money.origins import list_origins

    data = list_origins(state.engine(), status=status, person_key=person, limit=limit)
    emit(data, _print_origins, json_out)


def _print_origins(data: dict[str, Any]) -> None:
    console.table("origins by status", ["status", "origins"], sorted(data["by_status"].items()))
    console.table("origins", ["id", "person_key", "origin", "record", "status", "decided_by"],
                  [(o["id"], o["person_key"], o["origin"], f"{o['source']}/{o['source_pk']}",
                    o["status"], o["decided_by"])
                   for o in data["origins"][:TABLE_ROWS]])  # fmt: skip


@origins_app.command("decide")
@handles_errors
def origins_decide(
    origin_id: Annotated[int, typer.Argument(help="Origin id (see `origins list`)")],
    status: Annotated[
        str,
        typer.Option(
            "--status", help="pending_review, resolved_manual, marked_legacy or discarded"
        ),
    ],
    by: Annotated[str, typer.Option("--by", help="Who decides (recorded in the history)")],
    note: Annotated[str | None, typer.Option("--note", help="Why")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set an origin's status by hand (decided_by manual); the history keeps the old one."""
    from leadlink.pipeline.money.origins import decide

    data = decide(state.engine(), origin_id, status=status, actor=by, note=note, now=now())
    emit(data, lambda d: _print_decided(d, origin_id), json_out)


def _print_decided(data: dict[str, Any], origin_id: int) -> None:
    console.key_values(f"origin {origin_id}", {k: v for k, v in data.items() if k != "history"})
    console.table("history", ["at", "event", "detail"],
                  [(h["at"], h["event"], h["detail"]) for h in data["history"]])  # fmt: skip


def alerts(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Evaluate the alert rules now: raise new alerts, resolve the ones that cleared; list the
    open ones, acknowledged or not (`alerts ack ID` acknowledges one)."""
    if ctx.invoked_subcommand is None:
        # Not decorated itself: a group's callback is no command of its own (test_registration).
        handles_errors(_evaluate)(json_out)


def _evaluate(json_out: bool) -> None:
    from leadlink.pipeline.operations.alerts import evaluate

    emit(evaluate(state.engine(), state.settings(), now=now()).as_dict(), _print_alerts, json_out)


def _print_alerts(data: dict[str, Any]) -> None:
    pending = [a for a in data["open"] if not a["acknowledged"]]
    console.key_values("alerts", {"raised": data["raised"], "resolved": data["resolved"],
                                  "open": len(data["open"]),
                                  "unacknowledged": len(pending)})  # fmt: skip
    console.table("open alerts", ["id", "kind", "subject", "severity", "since", "acknowledged",
                                  "detail"],
                  [(a["id"], a["kind"], a["subject"], a["severity"], a["raised_at"], _ack(a),
                    a["detail"]) for a in data["open"]])  # fmt: skip


def _ack(alert: dict[str, Any]) -> str:
    if not alert["acknowledged"]:
        return "-"
    note = f"\n{alert['ack_note']}" if alert["ack_note"] else ""
    return f"{alert['acknowledged_by']}\n{alert['acknowledged_at']}{note}"


alerts_app = typer.Typer(help=alerts.__doc__, invoke_without_command=True)
alerts_app.callback(invoke_without_command=True)(alerts)


@alerts_app.command("ack")
@handles_errors
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="Alert id (see `alerts`, or GET /api/alerts).")],
    note: Annotated[str | None, typer.Option("--note", help="What is being done about it.")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who acknowledges (default: the OS user).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Acknowledge an open alert (audited): it stays open while it holds, shown as acknowledged.
    A resolved or already acknowledged alert is an error (exit 2)."""
    import getpass

    from leadlink.pipeline.operations.alerts import acknowledge

    data = acknowledge(state.engine(), alert_id, actor=by if by is not None else getpass.getuser(),
                       note=note, now=now())  # fmt: skip
    emit(data, lambda d: console.key_values(f"alert {alert_id} acknowledged", {
        "kind": d["kind"], "subject": d["subject"], "severity": d["severity"],
        "acknowledged_by": d["acknowledged_by"], "acknowledged_at": d["acknowledged_at"],
        "note": d["ack_note"] or "-"}), json_out)  # fmt: skip


@handles_errors
def worker(
    every: Annotated[
        str, typer.Option("--every", help="Time between cycles: 30s, 15m, 6h, 1d.")
    ] = "6h",
    watch: Annotated[
        Path | None,
        typer.Option(
            "--watch",
            help="Folder of incoming files (leads*.csv, drivers*.parquet...); "
            "env LEADLINK_WATCH_DIR.",
        ),
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            help="TOML file of the partner's databases to read, per source, each on its own "
            "schedule (docs/operations.md); env LEADLINK_SOURCES_FILE.",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit (1 if a job failed).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """The scheduler: ingest (folder, databases), match, queue seed, recover, claims, alerts.

    SIGTERM or Ctrl-C lets the current job finish, then exits 0.
    """
    from leadlink.pipeline.operations import db_sources
    from leadlink.pipeline.operations.schedule import parse_every
    from leadlink.pipeline.operations.worker import Outcome, Worker

    seconds = parse_every(every)
    settings = state.settings()
    folder = watch or (Path(settings.watch_dir) if settings.watch_dir else None)
    need(folder is None or folder.is_dir(), f"--watch {folder}: no such folder")
    sources_file = sources or (Path(settings.sources_file) if settings.sources_file else None)
    databases = db_sources.load(sources_file) if sources_file else []
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Alembic says INFO for every context it opens (a check's scratch copy migrates one): not
    # the worker's news. Its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %s: stopping after the current job", signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner = Worker(state.engine(), settings, watch=folder, stop=stop, db_sources=databases)
    failed: list[str] = []

    def report(outcomes: list[Outcome]) -> None:
        failed.extend(o.kind for o in outcomes if o.status == "failed")
        emit({"jobs": [o.as_dict() for o in outcomes]}, _print_cycle, json_out)

    try:
        runner.loop(seconds, once=once, on_cycle=report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once and failed:
        raise typer.Exit(1)


def _print_cycle(data: dict[str, Any]) -> None:
    console.table("worker cycle", ["job", "status", "run", "seconds", "error"],
                  [(j["kind"], j["status"], j["run_id"], j["duration_s"], j["error"])
                   for j in data["jobs"]])  # fmt: skip
