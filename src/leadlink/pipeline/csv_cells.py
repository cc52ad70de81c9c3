"""Text cells safe to open in a spreadsheet: the one place CSV formula injection is handled.

A CSV we write is often opened in Excel, LibreOffice or Google Sheets. These run a cell that
starts with ``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(...)`` can send data
away, ``=cmd|...`` once ran programs), and a leading tab or carriage return can hide such a
prefix from a naive check. Ids and names come from the files we ingest, so an attacker who
can put a lead into a source file could otherwise plant a formula in ``export links``.

The OWASP remedy is used: such a cell gets a leading single quote, which spreadsheets read as
"this is text" (and show without the quote). Every text cell goes through :func:`safe_cell`
(ids and names from data; our own rule names and keys never start with those characters, so
they pass unchanged); numbers we format ourselves (scores) are written as they are, so a
spreadsheet still reads them as numbers, even a negative one. Importing this module costs
nothing (no Splink, no DuckDB): web and pipeline code may both use it.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _csv import Writer

# OWASP "CSV Injection": the characters a spreadsheet may take as the start of a formula.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def safe_cell(value: str) -> str:
    """``value`` itself, or ``'`` + ``value`` when a spreadsheet would read it as a formula."""
    return TEXT_MARK + value if value.startswith(FORMULA_PREFIXES) else value


class TextSink(Protocol):
    def write(self, text: str, /) -> int: ...


class _LineFeedRows:
    """Receives whole CSV rows ending in CR LF, passes them on ending in LF alone.

    Python's writer quotes a cell holding CR only when CR is in its line terminator. An
    unquoted CR ends the row for every reader, so ``x\r=1+1`` would start a new row with a
    live formula. Writing with CR LF (every cell holding CR or LF quoted) and ending each row
    with LF keeps our files LF-only and byte-identical for every other cell. ``writerow``
    makes exactly one ``write`` per row, so only a row's own terminator is at its end."""

    def __init__(self, sink: TextSink) -> None:
        self.sink = sink

    def write(self, row: str) -> int:
        return self.sink.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


def csv_writer(sink: TextSink) -> Writer:
    """The CSV writer of every file we write: rows end in LF, a cell holding CR or LF is
    quoted. Pass data cells through :func:`safe_cell` before writing them."""
    return csv.writer(_LineFeedRows(sink), lineterminator="\r\n")
