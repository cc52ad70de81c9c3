"""Terminal output for the CLI: Rich tables and progress bars on a terminal, quiet when piped."""

from __future__ import annotations

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


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
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
