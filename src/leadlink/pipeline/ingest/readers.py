"""Reading and validating source files (DESIGN.md, "Files" and "Source columns").

Two steps, both pure (no database):

- :func:`read_table` turns a CSV or Parquet file into a :class:`RawTable`: the header and,
  for every data row, its line number and its values as stripped text.
- :func:`validate` checks a table against a :class:`~leadlink.sources.SourceSpec` and
  returns one :class:`ValidRow` per data row, or raises the first problem found.

Every problem is a :class:`~leadlink.errors.BadInputError` naming the file, the line (header
= line 1) and, where it applies, the column. A CSV row's line is the physical line it starts
on (a quoted value may span lines; blank lines are skipped but still counted). Parquet has no
lines: data row N (1-based) is reported as line N + 1, so the header is line 1 there too.

CSV rules: UTF-8 with or without a BOM unless another encoding is named (``cp1252`` for
Excel exports); the delimiter is ``;`` when the header line holds more ``;`` than ``,``,
else ``,``; standard double-quote quoting (a quoted value that is never closed is an error);
one value may be at most :data:`MAX_FIELD_CHARS` characters (1 MiB). NUL characters are
refused everywhere: they mean a binary file (PostgreSQL could not store them either).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import io
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from leadlink.dates import DateParseError, parse_timestamp, to_iso
from leadlink.errors import BadInputError, UsageError
from leadlink.sources import Kind, SourceSpec

MAX_FIELD_CHARS = 1 << 20
"""Longest accepted value in a CSV, in characters (1 MiB): longer means a broken file."""
MAX_KEY_CHARS = 200
"""Longest ``source_pk`` (the width of ``source_record.source_pk``)."""
PARQUET_SUFFIXES = (".parquet", ".pq")
MILESTONES = ("M1", "M5", "M25")

_INT = re.compile(r"[0-9]{1,18}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
_SHOWN = 60
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


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


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; :class:`UsageError` for an unknown or non-text codec."""
    try:
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib...
            raise LookupError(encoding)
    except LookupError:
        raise UsageError(
            f"unknown text encoding {encoding!r}: use a Python codec name such as "
            "utf-8, cp1252 or latin-1"
        ) from None
    return info.name


def read_table(path: Path, *, encoding: str | None = None) -> RawTable:
    """Read a CSV or Parquet file (chosen by suffix, or by the Parquet magic bytes)."""
    file = str(path)
    if encoding is not None:
        check_encoding(encoding)
    if not path.exists():
        raise BadInputError(file, "file not found")
    if not path.is_file():
        raise BadInputError(file, "not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(file, f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise BadInputError(file, "no rows: the file is empty")
    if path.suffix.lower() in PARQUET_SUFFIXES or data[:4] == b"PAR1":
        return _read_parquet(path, file)
    return _read_csv(data, file, encoding)


# --- CSV -----------------------------------------------------------------------------------


def _read_csv(data: bytes, file: str, encoding: str | None) -> RawTable:
    if data[:4] == b"PK\x03\x04":
        raise BadInputError(
            file, "this is a ZIP archive (an Excel .xlsx workbook?), not a CSV: export it as CSV"
        )
    nul = data.find(b"\x00") if encoding is None and data[:2] not in _UTF16_BOMS else -1
    if nul >= 0:
        raise BadInputError(
            file,
            "contains NUL bytes: this is a binary file, not a CSV",
            line=_line_at(data[:nul].decode("utf-8", errors="replace"), None),
        )
    text = _decode(data, file, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        raise BadInputError(
            file,
            "contains NUL characters: this is a binary file, not a CSV",
            line=_line_at(text, nul),
        )
    header_text = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if not header_text.strip():
        raise BadInputError(file, "the first line is empty: it must be the header", line=1)
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        return _parse_csv(text, file, delimiter)
    finally:
        csv.field_size_limit(previous_limit)


def _parse_csv(text: str, file: str, delimiter: str) -> RawTable:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: tuple[str, ...] | None = None
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _csv_error(file, exc, start, reader.line_num) from None
        if len(fields) <= 1 and not "".join(fields).strip():
            continue  # a blank line
        if columns is None:
            columns = tuple(f.strip() for f in fields)
            continue
        rows.append((start, [f.strip() for f in fields]))
    if columns is None:  # only blank lines
        raise BadInputError(file, "no rows: the file has no header and no data")
    return RawTable(file=file, columns=columns, rows=rows, delimiter=delimiter)


def _csv_error(file: str, exc: csv.Error, start: int, current: int) -> BadInputError:
    message = str(exc)
    if "field limit" in message:
        return BadInputError(
            file,
            f"a value is longer than {MAX_FIELD_CHARS} characters (the limit is 1 MiB per value):"
            " a broken file or a quote that is never closed?",
            line=current,
        )
    if "unexpected end of data" in message:
        return BadInputError(file, "a quoted value starting here is never closed", line=start)
    return BadInputError(file, f"malformed CSV: {message}", line=current)


def _decode(data: bytes, file: str, encoding: str | None) -> str:
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        line = _line_at(data[: exc.start].decode(encoding or "utf-8", errors="replace"), None)
        bad = data[exc.start : exc.end][:4]
        byte = f"byte(s) 0x{bad.hex()}" if bad else "the end of the file"
        if encoding is not None:
            raise BadInputError(
                file, f"cannot be decoded as {encoding}: {byte} is invalid", line=line
            ) from None
        if data[:2] in _UTF16_BOMS:
            hint = "it looks like UTF-16: save it as 'CSV UTF-8' or pass --encoding utf-16"
        else:
            hint = "if it comes from Excel, pass --encoding cp1252"
        raise BadInputError(
            file, f"the file is not UTF-8 ({byte} is invalid here); {hint}", line=line
        ) from None


def _line_at(text: str, pos: int | None) -> int:
    """1-based line of position ``pos`` (end of text when None); \\r\\n, \\r and \\n end lines."""
    prefix = text if pos is None else text[:pos]
    return prefix.count("\n") + prefix.count("\r") - prefix.count("\r\n") + 1


# --- Parquet -------------------------------------------------------------------------------


def _read_parquet(path: Path, file: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(file, f"cannot read it as Parquet: {exc}") from None
    columns = tuple(str(name).strip() for name in table.column_names)
    n = table.num_rows
    values = [
        [_parquet_text(v, file, name, i) for i, v in enumerate(table.column(c).to_pylist())]
        for c, name in enumerate(columns)
    ]
    rows = [(i + 2, [col[i] for col in values]) for i in range(n)]
    return RawTable(file=file, columns=columns, rows=rows)


def _parquet_text(value: object, file: str, column: str, index: int) -> str:
    """A Parquet cell as text: the same text a CSV export of it would hold."""
    try:
        return cell_text(value)
    except CellError as exc:
        raise BadInputError(file, str(exc), line=index + 2, column=column) from None


class CellError(ValueError):
    """A typed value (Parquet, a database query) that has no text form we accept."""


def cell_text(value: object) -> str:
    """A typed cell (from Parquet or a database) as the stripped text a CSV export would hold:
    NULL and NaN are empty, whole-number floats integers, timestamps ``YYYY-MM-DD HH:MM:SS``.
    :class:`CellError` for what has no such text (lists, binary that is not UTF-8, NUL)."""
    text: str
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if math.isnan(value):
            return ""
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, decimal.Decimal):
        if value.is_nan():
            return ""
        text = format(value, "f")
    elif isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise CellError("a timestamp with a time zone: give local times "
                            "(in SQL: col AT TIME ZONE 'America/Lima')")  # fmt: skip
        text = value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    elif isinstance(value, uuid.UUID):
        text = str(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CellError("binary value that is not UTF-8 text") from None
    else:
        raise CellError(
            f"unsupported value of type {type(value).__name__}: use text, numbers or dates"
        )
    if "\x00" in text:
        raise CellError("value contains a NUL character")
    return text.strip()


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
    """The checks of :func:`validate`, fed page by page (a database query streams its rows):
    the header once, then each page's rows. Keys are remembered across pages, so a duplicate
    in a later page is found too; that map is the only thing that grows with the input."""

    def __init__(self, file: str, columns: tuple[str, ...], spec: SourceSpec, *,
                 header_line: int | None = 1, delimiter: str | None = None,
                 row_word: str = "lines") -> None:  # fmt: skip
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
        self.dates: dict[str, tuple[str, dt.date]] = {}  # the same few days repeat a lot

    def page(self, rows: Iterable[tuple[int, list[str]]]) -> list[ValidRow]:
        """These rows validated, in order; BadInputError at the first problem."""
        file, columns, spec, dates = self.file, self.columns, self.spec, self.dates
        width = len(columns)
        out: list[ValidRow] = []
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
            raise BadInputError(
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
