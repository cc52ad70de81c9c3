"""Reading and validating source files (DESIGN.md, "Files" and "Source columns").

Two steps, both pure (no database):

- :func:`read_table` turns a CSV or Parquet file into a :class:`RawTable`: the header and,
  for every data row, its line number and its values as stripped text. It collects the pages
  of :func:`leadlink.pipeline.ingest.stream.open_table`, which holds the reading rules (lines,
  encodings, delimiter, quoting, Parquet) and which ``ingest`` uses directly, page by page.
- :func:`validate` checks a table against a :class:`~leadlink.sources.SourceSpec` and
  returns one :class:`ValidRow` per data row, or raises the first problem found;
  :class:`Validator` does the same a page at a time.

Every problem is a :class:`~leadlink.errors.BadInputError` naming the file, the line (header
= line 1) and, where it applies, the column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from leadlink.dates import DateParseError, parse_timestamp, to_iso
from leadlink.errors import BadInputError
from leadlink.pipeline.ingest.cells import CellError, cell_text
from leadlink.pipeline.ingest.stream import (
    MAX_FIELD_CHARS,
    PARQUET_SUFFIXES,
    check_encoding,
    open_table,
)
from leadlink.sources import Kind, SourceSpec

__all__ = [  # the reading names other modules import from here
    "MAX_FIELD_CHARS", "PARQUET_SUFFIXES", "CellError", "RawTable", "ValidRow", "Validator",
    "cell_text", "check_encoding", "data_rows", "read_table", "validate",
]  # fmt: skip

MAX_KEY_CHARS = 200
"""Longest ``source_pk`` (the width of ``source_record.source_pk``)."""
MILESTONES = ("M1", "M5", "M25")
DATES_CACHED = 65_536
"""Distinct date texts remembered while validating (the same few days repeat a lot; a file of
distinct timestamps must not grow the cache without bound)."""

_INT = re.compile(r"[0-9]{1,18}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
_SHOWN = 60


@dataclass(frozen=True)
class RawTable:
    """A file as text: header names (stripped) and ``(line, stripped values)`` per data row."""

    file: str
    columns: tuple[str, ...]
    rows: list[tuple[int, list[str]]]
    header_line: int | None = 1  # None: no header line (a database query's columns)
    # CSV only; a row may have more or fewer values than the header: validate() says so.
    delimiter: str | None = None


class ValidRow(NamedTuple):
    """One validated row: ``data`` has every column, dates rewritten to ISO."""

    line: int
    source_pk: str
    data: dict[str, str]
    event_date: dt.date | None


def read_table(path: Path, *, encoding: str | None = None) -> RawTable:
    """Read a CSV or Parquet file whole: :func:`~.stream.open_table`'s pages collected (for the
    callers that need every row at once: ``link``, ``dedupe``; ``ingest`` streams)."""
    with open_table(path, encoding=encoding) as table:
        rows = [row for page in table.pages for row in page]
    return RawTable(file=table.file, columns=table.columns, rows=rows, delimiter=table.delimiter)


# --- validation ----------------------------------------------------------------------------


def data_rows(table: RawTable) -> Iterator[tuple[int, list[str]]]:
    """(line, values) of each data row; BadInputError if there is none, or a row is ragged."""
    if not table.rows:
        raise BadInputError(table.file, "no rows: the file has a header but no data")
    width = len(table.columns)
    for line, values in table.rows:
        if len(values) != width:
            raise BadInputError(
                table.file,
                f"this row has {len(values)} values but the header has {width} "
                f"(delimiter {table.delimiter!r})",
                line=line,
            )
        yield line, values


def validate(table: RawTable, spec: SourceSpec) -> list[ValidRow]:
    """Check header and rows against ``spec``; the rows in file order, or BadInputError."""
    validator = Validator(table.file, table.columns, spec, header_line=table.header_line,
                          delimiter=table.delimiter)  # fmt: skip
    return validator.page(data_rows(table))


class Validator:
    """The checks of :func:`validate`, fed page by page (a file and a database query stream):
    the header once, then each page's rows. Keys are remembered across pages, so a duplicate
    in a later page is found too; that map is the only thing that grows with the input.
    With ``across_pages=False`` only a page's own keys are remembered: the caller finds a key
    repeated from an earlier page (``ingest_file`` asks the database) and reports it with
    :meth:`duplicate`."""

    def __init__(self, file: str, columns: tuple[str, ...], spec: SourceSpec, *,
                 header_line: int | None = 1, delimiter: str | None = None,
                 row_word: str = "lines", across_pages: bool = True) -> None:  # fmt: skip
        self.file, self.columns, self.spec, self.row_word = file, columns, spec, row_word
        _check_header(RawTable(file, columns, [], header_line, delimiter), spec)
        index = {name: i for i, name in enumerate(columns)}
        self.delimiter = delimiter
        self.not_null = [(index[c], c) for c in spec.not_null]
        self.typed = [(index[c], c, kind) for c, kind in spec.kinds.items()]
        self.hashed = not spec.key_columns  # scouting: the key hashes the raw values
        self.key_label = _key_label(spec, index)
        self.key_what = _key_what(spec, index)
        self.seen: dict[str, int] = {}
        self.across_pages = across_pages
        self.dates: dict[str, tuple[str, dt.date]] = {}  # the same few days repeat a lot

    def page(self, rows: Iterable[tuple[int, list[str]]]) -> list[ValidRow]:
        """These rows validated, in order; BadInputError at the first problem."""
        file, columns, spec, dates = self.file, self.columns, self.spec, self.dates
        width = len(columns)
        out: list[ValidRow] = []
        if not self.across_pages:
            self.seen.clear()
        for line, values in rows:
            if len(values) != width:
                raise BadInputError(
                    file,
                    f"this row has {len(values)} values but the header has {width} "
                    f"(delimiter {self.delimiter!r})",
                    line=line,
                )
            for i, name in self.not_null:
                if not values[i]:
                    raise BadInputError(file, "this value may not be empty", line=line,
                                        column=name)  # fmt: skip
            data = dict(zip(columns, values, strict=True))
            raw_key = spec.source_pk(data) if self.hashed else None
            event_date: dt.date | None = None
            for i, name, kind in self.typed:
                value = values[i]
                if not value:
                    continue
                if kind is Kind.DATE:
                    parsed = dates.get(value)
                    if parsed is None:
                        if len(dates) >= DATES_CACHED:
                            dates.clear()
                        try:
                            stamp = parse_timestamp(value)
                        except DateParseError as exc:
                            raise BadInputError(file, str(exc), line=line, column=name) from None
                        day = stamp.date() if isinstance(stamp, dt.datetime) else stamp
                        parsed = dates[value] = (to_iso(stamp), day)
                    data[name] = parsed[0]
                    if name == spec.date_column:
                        event_date = parsed[1]
                else:
                    _check_value(kind, value, file, line, name)
            key = raw_key if raw_key is not None else spec.source_pk(data)
            self._check_key(key, line)
            out.append(ValidRow(line=line, source_pk=key, data=data, event_date=event_date))
        return out

    def _check_key(self, key: str, line: int) -> None:
        if len(key) > MAX_KEY_CHARS:
            raise BadInputError(
                self.file,
                f"the record key is {len(key)} characters long (at most {MAX_KEY_CHARS})",
                line=line,
                column=self.key_label,
            )
        first = self.seen.setdefault(key, line)
        if first != line:
            raise self.duplicate(key, first, line)

    def duplicate(self, key: str, first: int, line: int) -> BadInputError:
        """The error for ``key`` on ``line``, already on line ``first``."""
        return BadInputError(
            self.file,
            f"duplicate record key {_shown(key)} ({self.key_what}): "
            f"{self.row_word} {first} and {line}",
            line=line,
            column=self.key_label,
        )


def _check_header(table: RawTable, spec: SourceSpec) -> None:
    file, line = table.file, table.header_line
    for position, name in enumerate(table.columns, start=1):
        if not name:
            raise BadInputError(
                file, f"the header has an empty column name (column {position})", line=line
            )
    dupes = sorted(name for name, n in Counter(table.columns).items() if n > 1)
    if dupes:
        raise BadInputError(
            file, f"duplicate column name(s) in the header: {', '.join(dupes)}", line=line
        )
    present = set(table.columns)
    missing = [c for c in spec.columns if c not in present]
    if missing:
        lowered = {c.lower(): c for c in table.columns}
        hints = [
            f"'{lowered[c]}' is not '{c}' (names are case-sensitive)"
            for c in missing
            if c in lowered
        ]
        message = f"missing required column(s) for source '{spec.name}': {', '.join(missing)}"
        if hints:
            message += "; " + "; ".join(hints)
        raise BadInputError(
            file, message, line=line, column=missing[0] if len(missing) == 1 else None
        )


def _check_value(kind: Kind, value: str, file: str, line: int, column: str) -> None:
    if kind is Kind.INT and not _INT.fullmatch(value):
        message = f"{_shown(value)} is not a whole number (digits only, e.g. 12)"
    elif kind is Kind.DECIMAL and not _DECIMAL.fullmatch(value):
        message = (
            f"{_shown(value)} is not an amount: digits with an optional '.' decimal point "
            "(e.g. 25 or 25.00); no ',' decimal comma, no thousands separator, no sign"
        )
    elif kind is Kind.MILESTONE and value not in MILESTONES:
        message = f"{_shown(value)} is not a milestone: expected one of {', '.join(MILESTONES)}"
    else:
        return
    raise BadInputError(file, message, line=line, column=column)


def _key_label(spec: SourceSpec, index: dict[str, int]) -> str:
    if spec.optional_key and spec.optional_key in index:
        return spec.optional_key
    return ", ".join(spec.key_columns or spec.hash_columns)


def _key_what(spec: SourceSpec, index: dict[str, int]) -> str:
    if spec.key_columns:
        return "same " + " + ".join(spec.key_columns)
    what = "same " + ", ".join(spec.hash_columns)
    if spec.optional_key and spec.optional_key in index:
        return f"same {spec.optional_key}, or {what} where it is empty"
    return what


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")
