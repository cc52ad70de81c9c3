"""The command line. Thin: parse, call a service, print; LeadlinkError becomes an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from sqlalchemy import Engine

from leadlink import console
from leadlink.errors import LeadlinkError, UsageError
from leadlink.settings import Settings, load_settings
from leadlink.store.db import ensure_current, make_engine, migrate

app = typer.Typer(
    help="leadlink: who is behind every lead, and what it is worth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

P = ParamSpec("P")
R = TypeVar("R")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


class State:
    db: str | None = None
    _settings: Settings | None = None
    _engine: Engine | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(db=self.db)
        return self._settings

    def engine(self, *, migrated: bool = True) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings().db)
        if migrated:
            ensure_current(self._engine)
        return self._engine


state = State()


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Translate the one exception root into a message on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LeadlinkError as exc:
            console.err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (env LEADLINK_DB; default sqlite:///leadlink.db)."),
    ] = None,
) -> None:
    state.db = db
    state._settings = None
    state._engine = None


@app.command()
@handles_errors
def init(json_out: JsonOpt = False) -> None:
    """Create or migrate the database."""
    engine = state.engine(migrated=False)
    migrate(engine)
    result = {"database": engine.url.render_as_string(hide_password=True), "status": "at head"}
    if json_out:
        console.emit_json(result)
    else:
        console.out.print(f"database {result['database']} is at head")


@app.command()
@handles_errors
def ingest(
    source: Annotated[
        str, typer.Argument(help="leads, scouting, migrations, drivers, trips, payments")
    ],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file")],
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a CSV, e.g. cp1252 for Excel exports.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Load a CSV or Parquet file into a source; upsert by source_pk (all or nothing)."""
    from leadlink.pipeline.ingest import ingest_file

    with console.progress(not json_out) as report:
        result = ingest_file(state.engine(), source, file, encoding=encoding, progress=report)
    data = result.as_dict()
    if json_out:
        console.emit_json(data)
    else:
        console.key_values(f"ingest {source} ← {file}", data)


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def main() -> Any:
    return app()
