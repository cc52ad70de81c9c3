"""What every command module shares: the lazily built engine and settings, the error
translation (LeadlinkError -> message + exit code), the one ``--json`` output path and the
common options."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from sqlalchemy import Engine

from leadlink import clock
from leadlink.cli import console
from leadlink.errors import LeadlinkError, UsageError
from leadlink.settings import Settings, load_settings
from leadlink.store.db import ensure_current, make_engine

P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D")

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


def emit(data: D, render: Callable[[D], Any], json_out: bool) -> None:
    """The one output path: ``--json`` prints exactly ``data``; otherwise ``render`` draws
    the same data as tables. A command computes its data once and never tests --json itself,
    so the tables can show nothing the JSON does not say."""
    if json_out:
        console.emit_json(data)
    else:
        render(data)


def now() -> dt.datetime:
    """Naive UTC, the way the store keeps times."""
    return clock.utcnow()


def need(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
