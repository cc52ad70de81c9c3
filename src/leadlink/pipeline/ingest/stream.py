"""Reading a CSV or Parquet file as a stream of pages of rows (DESIGN.md, "Files").

:func:`open_table` opens a file and reads its header; the table's ``pages`` then yield lists of
``(line, stripped values)`` of at most ``page_rows`` data rows each, so memory holds one page
whatever the file's size. ``readers.read_table`` is this stream collected: there is one parser.

Every problem is a :class:`~leadlink.errors.BadInputError` naming the file, the line (header
= line 1) and, where it applies, the column; a problem on a later page is raised when that page
is read. A CSV row's line is the physical line it starts on (a quoted value may span lines;
blank lines are skipped but still counted). Parquet has no lines: data row N (1-based) is
reported as line N + 1, so the header is line 1 there too.

CSV rules: UTF-8 with or without a BOM unless another encoding is named (``cp1252`` for
Excel exports); the delimiter is ``;`` when the header line holds more ``;`` than ``,``,
else ``,``; standard double-quote quoting (a quoted value that is never closed is an error);
one value may be at most :data:`MAX_FIELD_CHARS` characters (1 MiB). NUL characters are
refused everywhere: they mean a binary file (PostgreSQL could not store them either). The
bytes are decoded block by block by the codec's incremental decoder and cut into lines as
``io.StringIO(newline="")`` cuts them (``\\r\\n``, ``\\r``, ``\\n``), for the ``csv`` module.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from leadlink.errors import BadInputError, UsageError
from leadlink.pipeline.ingest.cells import CellError, cell_text

MAX_FIELD_CHARS = 1 << 20
"""Longest accepted value in a CSV, in characters (1 MiB): longer means a broken file."""
MAX_LINE_CHARS = 64 * MAX_FIELD_CHARS
"""Longest physical line held while looking for its end (64 Mi characters): a broken file."""
PAGE_ROWS = 20_000
"""Data rows per page: a page of leads is a few tens of MB as Python objects."""
BLOCK_BYTES = 1 << 20
"""Bytes read from a CSV at a time."""
PARQUET_SUFFIXES = (".parquet", ".pq")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

Row = tuple[int, list[str]]


@dataclass(frozen=True)
class TableStream:
    """An open file: its header (stripped names) and its data rows, page by page."""

    file: str
    columns: tuple[str, ...]
    pages: Iterator[list[Row]]
    delimiter: str | None = None  # CSV only; a ragged row is the validator's to report


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


@contextmanager
def open_table(
    path: Path, *, encoding: str | None = None, page_rows: int = PAGE_ROWS
) -> Iterator[TableStream]:
    """Open a CSV or Parquet file (chosen by suffix, or by the Parquet magic bytes)."""
    file = str(path)
    if encoding is not None:
        check_encoding(encoding)
    if page_rows < 1:
        raise UsageError("the page size must be at least 1 row")
    if not path.exists():
        raise BadInputError(file, "file not found")
    if not path.is_file():
        raise BadInputError(file, "not a regular file")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _unreadable(file, exc) from None
    with handle:
        head = _read(handle, 4, file)
        if not head:
            raise BadInputError(file, "no rows: the file is empty")
        if path.suffix.lower() in PARQUET_SUFFIXES or head == b"PAR1":
            with _parquet(path, file, page_rows) as table:
                yield table
            return
        if head == b"PK\x03\x04":
            raise BadInputError(
                file,
                "this is a ZIP archive (an Excel .xlsx workbook?), not a CSV: export it as CSV",
            )
        handle.seek(0)
        yield _csv(handle, file, encoding, page_rows)


def _read(handle: BinaryIO, size: int, file: str) -> bytes:
    try:
        return handle.read(size)
    except OSError as exc:
        raise _unreadable(file, exc) from None


def _unreadable(file: str, exc: OSError) -> BadInputError:
    return BadInputError(file, f"cannot read the file: {exc.strerror or exc}")


# --- CSV -----------------------------------------------------------------------------------


def _csv(handle: BinaryIO, file: str, encoding: str | None, page_rows: int) -> TableStream:
    lines = _Lines(handle, file, encoding).lines()
    header_line = next(lines, "")
    header_text = header_line.rstrip("\r\n")
    if not header_text.strip():
        raise BadInputError(file, "the first line is empty: it must be the header", line=1)
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    records = _Records(_chain(header_line, lines), file, delimiter)
    header = records.take(1)
    if not header:  # only blank lines
        raise BadInputError(file, "no rows: the file has no header and no data")
    return TableStream(file, tuple(header[0][1]), records.pages(page_rows), delimiter)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


class _Lines:
    """The file's text, decoded block by block, as physical lines with their line ends.

    It also counts the line ends handed out, so a NUL or an undecodable byte inside a block is
    reported on its own line without the rest of the file being read.
    """

    def __init__(self, handle: BinaryIO, file: str, encoding: str | None) -> None:
        self.handle, self.file, self.encoding = handle, file, encoding
        self.decoder = codecs.getincrementaldecoder(encoding or "utf-8")()
        self.ends = 0  # line ends in the text decoded so far (\r\n is one)
        self.after_cr = False  # that text ends with \r (a \n next is the same line end)
        self.utf16 = False

    def lines(self) -> Iterator[str]:
        held: list[str] = []  # text after the last line end seen
        held_chars = 0
        for text, final in self._texts():
            if final:
                held.append(text)
                yield from io.StringIO("".join(held), newline="")
                return
            # Up to the last line end, but a \r at the very end may be half of a \r\n.
            end = len(text) - 1 if text.endswith("\r") else len(text)
            cut = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
            if not cut:
                held.append(text)
                held_chars += len(text)
                if held_chars > MAX_LINE_CHARS:
                    raise BadInputError(
                        self.file,
                        f"a line is longer than {MAX_LINE_CHARS} characters: a broken file?",
                        line=self.ends + 1 - self.after_cr,
                    )
                continue
            held.append(text[:cut])
            yield from io.StringIO("".join(held), newline="")
            held, held_chars = [text[cut:]], len(text) - cut

    def _texts(self) -> Iterator[tuple[str, bool]]:
        bom = True  # a BOM may still come (the first text has not been decoded yet)
        block = _read(self.handle, BLOCK_BYTES, self.file)
        self.utf16 = block[:2] in _UTF16_BOMS
        while True:
            final = not block
            if not final and self.encoding is None and not self.utf16:
                nul = block.find(b"\x00")
                if nul >= 0:
                    raise BadInputError(self.file, "contains NUL bytes: this is a binary file, "
                                        "not a CSV", line=self._line_in(block, nul))  # fmt: skip
            text = self._decode(block, final)
            if bom and text:
                text = text.removeprefix("\ufeff")
                bom = False
            nul = text.find("\x00")
            if nul >= 0:
                raise BadInputError(self.file, "contains NUL characters: this is a binary file, "
                                    "not a CSV", line=self._line_at(text, nul))  # fmt: skip
            self.ends += _line_ends(text, self.after_cr)
            if text:
                self.after_cr = text.endswith("\r")
            yield text, final
            if final:
                return
            block = _read(self.handle, BLOCK_BYTES, self.file)

    def _decode(self, block: bytes, final: bool) -> str:
        state = self.decoder.getstate()
        try:
            return self.decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            data = state[0] + block  # the decoder's position counts the bytes it held back
            bad = data[exc.start : exc.end][:4]
            line = self._line_in(block, max(0, exc.start - len(state[0])), state)
        byte = f"byte(s) 0x{bad.hex()}" if bad else "the end of the file"
        if self.encoding is not None:
            message = f"cannot be decoded as {self.encoding}: {byte} is invalid"
        else:
            hint = "if it comes from Excel, pass --encoding cp1252"
            if self.utf16:
                hint = "it looks like UTF-16: save it as 'CSV UTF-8' or pass --encoding utf-16"
            message = f"the file is not UTF-8 ({byte} is invalid here); {hint}"
        raise BadInputError(self.file, message, line=line)

    def _line_in(self, block: bytes, upto: int, state: tuple[bytes, int] | None = None) -> int:
        """The line of byte ``upto`` of ``block``, the block's start being where decoding is."""
        decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")(errors="replace")
        decoder.setstate(state or self.decoder.getstate())
        return self._line_at(decoder.decode(block[:upto]), None)

    def _line_at(self, text: str, pos: int | None) -> int:
        """1-based line of position ``pos`` of ``text`` (its end when None), ``text`` being the
        next text after what was counted."""
        return self.ends + _line_ends(text if pos is None else text[:pos], self.after_cr) + 1


def _line_ends(text: str, after_cr: bool) -> int:
    """How many line ends ``text`` holds (\\r\\n, \\r and \\n), a \\r just before it given."""
    ends = text.count("\n") + text.count("\r") - text.count("\r\n")
    return ends - 1 if after_cr and text.startswith("\n") else ends


class _Records:
    """The ``csv`` module over the lines: ``(line it starts on, stripped values)`` per record."""

    def __init__(self, lines: Iterator[str], file: str, delimiter: str) -> None:
        self.reader = csv.reader(lines, delimiter=delimiter, strict=True)
        self.file = file

    def take(self, n: int) -> list[Row]:
        """The next ``n`` non-blank records; fewer only at the end of the file."""
        reader, out = self.reader, list[Row]()
        # The limit is process-wide: ours only while our records are parsed.
        previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)
        try:
            while len(out) < n:
                start = reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise _csv_error(self.file, exc, start, reader.line_num) from None
                if len(fields) <= 1 and not "".join(fields).strip():
                    continue  # a blank line
                out.append((start, [f.strip() for f in fields]))
        finally:
            csv.field_size_limit(previous_limit)
        return out

    def pages(self, page_rows: int) -> Iterator[list[Row]]:
        while True:
            page = self.take(page_rows)
            if page:
                yield page
            if len(page) < page_rows:
                return


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


# --- Parquet -------------------------------------------------------------------------------


@contextmanager
def _parquet(path: Path, file: str, page_rows: int) -> Iterator[TableStream]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pa.ArrowException, OSError, ValueError)
    try:
        parquet = pq.ParquetFile(path)
    except errors as exc:
        raise BadInputError(file, f"cannot read it as Parquet: {exc}") from None
    with parquet:
        columns = tuple(str(name).strip() for name in parquet.schema_arrow.names)

        def pages() -> Iterator[list[Row]]:
            line = 2  # of the next row
            batches = parquet.iter_batches(batch_size=page_rows)
            while True:
                try:
                    batch = next(batches, None)
                except errors as exc:
                    raise BadInputError(file, f"cannot read it as Parquet: {exc}") from None
                if batch is None:
                    return
                if not batch.num_rows:
                    continue
                values = [[_parquet_text(v, file, name, line + i)
                           for i, v in enumerate(_cells(batch, c, file, name, line, errors))]
                          for c, name in enumerate(columns)]  # fmt: skip
                yield [(line + i, [col[i] for col in values]) for i in range(batch.num_rows)]
                line += batch.num_rows

        yield TableStream(file, columns, pages())


def _cells(
    batch: Any, index: int, file: str, column: str, line: int, errors: tuple[type[Exception], ...]
) -> list[object]:
    """A batch's column as Python values. A damaged file can hold bytes that are no UTF-8 in a
    string column: pyarrow finds out only here (a UnicodeDecodeError, a ValueError), not while
    reading the batch; ``errors`` are the reader's (pyarrow's, OS and value errors)."""
    try:
        cells: list[object] = batch.column(index).to_pylist()
    except errors as exc:
        raise BadInputError(file, f"cannot read it as Parquet: {exc} (a row from here on)",
                            line=line, column=column) from None  # fmt: skip
    return cells


def _parquet_text(value: object, file: str, column: str, line: int) -> str:
    """A Parquet cell as text: the same text a CSV export of it would hold."""
    try:
        return cell_text(value)
    except CellError as exc:
        raise BadInputError(file, str(exc), line=line, column=column) from None
