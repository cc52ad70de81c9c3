"""The command line. Thin: parse, call a service, print; LeadlinkError becomes an exit code.

Every command lives in a ``cli/commands`` module of its concept; this module composes them
into the one app, in the order ``leadlink --help`` lists them (commands, then groups).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadlink import __version__
from leadlink.cli.commands import (
    activity,
    console_cmds,
    data,
    engine_cmds,
    money,
    ops,
    persons,
    recovery,
    resolution,
    review,
)
from leadlink.cli.kit import state

app = typer.Typer(
    help="leadlink: who is behind every lead, and what it is worth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"leadlink {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (env LEADLINK_DB; default sqlite:///leadlink.db)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    state.db = db
    state._settings = None
    state._engine = None


# The database and its data, resolution, the invariants.
app.command("init")(data.init)
app.command("ingest")(data.ingest)
app.command("match")(resolution.match_cmd)
app.command("generate")(data.generate)
app.command("demo")(data.demo)
app.command("explain")(resolution.explain)
app.command("evaluate")(resolution.evaluate)
app.command("check")(ops.check)
# The console, the matching engine on arbitrary files, money, operations, the backlog.
app.command("serve")(console_cmds.serve)
app.command("link")(engine_cmds.link_cmd)
app.command("dedupe")(engine_cmds.dedupe_cmd)
app.command("generate-people")(engine_cmds.generate_people_cmd)
app.command("claims")(money.claims_cmd)
app.command("activity")(activity.activity_cmd)
app.command("refresh")(money.refresh_cmd)
app.command("gap")(ops.gap)
app.command("worker")(ops.worker)
app.command("recover")(recovery.recover_cmd)
app.command("impact")(recovery.impact_cmd)
app.command("backlog")(recovery.backlog_cmd)
# Command groups: each module builds its own sub-app.
app.add_typer(resolution.export_app, name="export")
app.add_typer(console_cmds.token_app, name="token")
app.add_typer(engine_cmds.model_app, name="model")
app.add_typer(money.quarantine_app, name="quarantine")
app.add_typer(ops.backfill_app, name="backfill")
app.add_typer(ops.origins_app, name="origins")
app.add_typer(ops.alerts_app, name="alerts")
app.add_typer(persons.persons_app, name="persons")
app.add_typer(recovery.queue_app, name="queue")
app.add_typer(review.review_app, name="review")


def main() -> Any:
    return app()
