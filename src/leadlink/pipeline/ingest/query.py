"""`leadlink ingest SOURCE --from URL --query Q`: a source read from the partner's database.

The query runs read-only on the partner's database (``store.source_db``) and streams: each page
of rows is turned into text the way a Parquet cell is (``cells.cell_text``), validated by the
same :class:`~leadlink.pipeline.ingest.readers.Validator` a file goes through and written by the
same ``files.write_rows``, all pages in ONE transaction of our store: a bad row anywhere (or a
failing query) rolls back everything, and the store is exactly as it was. Memory holds one
page: the keys of earlier pages are in a temporary table of that transaction
(``store.seen_keys``), so a duplicate key in a later page is still an error.

``--map COL=SRC`` names the query's column ``SRC`` as our column ``COL`` (the partner's view
says ``telefono`` where we say ``phone``); errors name the query's own column and the query's
row (1-based, in the order the query returns them). The URL's password is never printed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import BadInputError, UsageError
from leadlink.pipeline import summaries
from leadlink.pipeline.ingest.cells import CellError, cell_text
from leadlink.pipeline.ingest.files import (
    IngestResult,
    _gc_paused,
    _naive_utc,
    collect_page,
    record_row,
    write_rows,
)
from leadlink.pipeline.ingest.readers import Validator
from leadlink.pipeline.progress import ProgressFn
from leadlink.sources import SOURCES
from leadlink.store import seen_keys, source_db
from leadlink.store.db import INGEST_TABLES, refresh_statistics, transaction

PAGE_ROWS = 5000
"""Rows fetched from the source per page (one FETCH of the server-side cursor)."""


@dataclass(frozen=True)
class QueryIngestResult(IngestResult):
    pages: int = 0


class QueryRowError(BadInputError):
    """A query's row cannot be loaded: names the source, the query's row and its column."""

    def __init__(self, where: str, message: str, *, row: int | None, column: str | None) -> None:
        super().__init__(where, message, line=row, column=column)
        place = where
        if row is not None:
            place += f", query row {row}"
        if column is not None:
            place += f", column '{column}'"
        self.args = (f"{place}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def parse_map(items: Sequence[str]) -> dict[str, str]:
    """``["phone=telefono", ...]`` -> ``{"phone": "telefono"}``; UsageError when malformed."""
    mapping: dict[str, str] = {}
    for item in items:
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise UsageError(f"--map takes COL=SRC (our column = the query's column), not {item!r}")
        if ours in mapping:
            raise UsageError(f"--map {ours}=... is given twice")
        if theirs in mapping.values():
            raise UsageError(f"--map ...={theirs}: the query's column {theirs!r} is mapped twice")
        mapping[ours] = theirs
    return mapping


def ingest_query(
    engine: Engine,
    source: str,
    url: str,
    query: str,
    *,
    mapping: dict[str, str] | None = None,
    page_rows: int = PAGE_ROWS,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
) -> QueryIngestResult:
    """Stream ``query`` from the database at ``url`` into ``source``, all or nothing."""
    spec = SOURCES.get(source)
    if spec is None:
        raise UsageError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    if not query.strip():
        raise UsageError("--query is empty: give the SELECT that returns the source's rows")
    if page_rows < 1:
        raise UsageError("the page size must be at least 1 row")
    mapping = dict(mapping or {})
    stamp = _naive_utc(now)
    label = f"ingest {source}"
    rows = pages = written = updated = 0
    with source_db.stream(url, query, page_rows=page_rows) as result:
        where = f"source {result.where}"
        columns, theirs = _mapped_columns(result.columns, mapping)
        try:
            validator = Validator(where, columns, spec, header_line=None, row_word="query rows",
                                  across_pages=False)  # fmt: skip
        except BadInputError as exc:
            raise _query_error(where, exc, theirs, mapping) from None
        with transaction(engine) as session, _gc_paused():
            seen_keys.start(session)
            for page in result.pages:
                texts = [(rows + n, _texts(values, rows + n, where, result.columns))
                         for n, values in enumerate(page, start=1)]  # fmt: skip
                try:
                    valid = validator.page(texts)
                    repeated = seen_keys.add_page(session, [(v.source_pk, v.line) for v in valid])
                    if repeated is not None:
                        raise validator.duplicate(*repeated)
                except BadInputError as exc:
                    raise _query_error(where, exc, theirs, mapping) from None
                records = [record_row(v.source_pk, v.data, v.event_date) for v in valid]
                done, changed = write_rows(session, source, records, now=stamp)
                if done:
                    summaries.invalidate(session)
                rows += len(records)
                pages += 1
                written += done
                updated += changed
                if progress is not None:
                    progress(label, rows, rows)
                del page, texts, valid, records
                collect_page()
            if rows == 0:
                raise QueryRowError(where, "no rows: the query returned nothing", row=None,
                                    column=None)  # fmt: skip
            seen_keys.finish(session)
    refresh_statistics(engine, INGEST_TABLES, written)
    return QueryIngestResult(source=source, file=where, rows=rows, inserted=written - updated,
                             updated=updated, unchanged=rows - written, pages=pages)  # fmt: skip


def _mapped_columns(
    columns: tuple[str, ...], mapping: dict[str, str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The query's columns under our names, and {our name: the query's name}."""
    missing = [f"{ours}={src}" for ours, src in mapping.items() if src not in columns]
    if missing:
        raise UsageError(f"--map {', '.join(missing)}: the query has no such column; its "
                         f"columns are {', '.join(columns) or '(none)'}")  # fmt: skip
    renamed = {src: ours for ours, src in mapping.items()}
    ours = tuple(renamed.get(c, c) for c in columns)
    return ours, {o: c for o, c in zip(ours, columns, strict=True)}


def _texts(values: tuple[Any, ...], row: int, where: str, columns: tuple[str, ...]) -> list[str]:
    try:
        return [cell_text(v) for v in values]
    except CellError:
        pass
    for value, column in zip(values, columns, strict=True):  # find which cell, only on error
        try:
            cell_text(value)
        except CellError as exc:
            raise QueryRowError(where, str(exc), row=row, column=column) from None
    raise AssertionError("unreachable")


def _query_error(
    where: str, exc: BadInputError, theirs: dict[str, str], mapping: dict[str, str]
) -> QueryRowError:
    """A validation error re-said for a query: the query's column names, and a --map hint."""
    column = exc.column
    message = exc.detail
    if column is not None and column in theirs:
        if theirs[column] != column:
            message += f" (our {column}, by --map {column}={mapping[column]})"
            column = theirs[column]
    elif exc.line is None and "missing required column" in message:
        message += " (name the query's columns with --map COL=SRC, or alias them in the SELECT)"
    return QueryRowError(where, message, row=exc.line, column=column)
