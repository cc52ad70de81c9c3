"""Terminal output for the CLI: Rich tables and progress bars on a terminal, quiet when piped."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadlink.pipeline.progress import ProgressFn

out = Console()
err = Console(stderr=True)



def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def cell(value: Any) -> str:
    """A value as a person reads it in a table: no Python repr (``{'OK': 3}``, ``[]``,
    ``False``, ``1000000.0``, microseconds); ``--json`` keeps the exact values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(v) for v in value) or "—"
    return str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for col in columns:
        # Folded, not cut with an ellipsis, when the terminal is narrow (80 columns).
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*(cell(v) for v in row))
    out.print(t)


def key_values(title: str, data: Mapping[str, Any]) -> None:
    table(title, ["", "value"], [(k, v) for k, v in data.items()])


@contextmanager
def progress(enabled: bool = True) -> Iterator[ProgressFn | None]:
    """A progress callback drawing bars on stderr when it is a terminal; None otherwise."""
    if not (enabled and err.is_terminal):
        yield None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def report(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bars.add_task(label, total=total)
        bars.update(tasks[label], completed=done, total=total)

    with bars:
        yield report
