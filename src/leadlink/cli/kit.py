"""What every command module shares: the Typer app, the lazily built engine and settings,
the error translation (LeadlinkError -> message + exit code) and the common options."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.markup import escape
from sqlalchemy import Engine

from leadlink import clock
from leadlink.cli import console
from leadlink.errors import LeadlinkError, UsageError
from leadlink.settings import Settings, load_settings
from leadlink.store.db import ensure_current, make_engine

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
            # Escaped: a message's own brackets (pip install 'leadlink[spark]') are not markup.
            # Never wrapped: a message is one line that scripts and people can grep.
            console.err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              markup=True, soft_wrap=True)  # fmt: skip
            raise typer.Exit(exc.exit_code) from exc

    return wrapper


def now() -> dt.datetime:
    """Naive UTC, the way the store keeps times."""
    return clock.utcnow()


def need(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
