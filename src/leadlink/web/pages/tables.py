"""The tables of a page as CSV (``?format=csv&table=NAME``), from the page's one data dict.

A page declares its tables once (``TableSpec``: where the rows are in its dict, which fields
are the columns, in order); ``respond`` answers ``format=csv`` with ``csv_response``, made
from the very dict the page renders and ``/<page>.json`` returns, so the CSV of a table equals
its JSON rows (and the API's, which the dict comes from) for the same filters, sort and page.

A list table exports the page shown (its ``limit``/``offset``, up to the API's 500 rows): the
dict is computed once per request and never holds more than a page, so an export of a 1 M
lead backlog costs what the page costs (docs/dashboard.md, "Tables").

Cells are plain: None is empty, dates ISO (they are ISO text in the dict already), booleans
``true``/``false``, numbers as decimals (never ``1e-05``), a list of plain values joined with
``"; "``, anything nested as compact JSON. A text cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is prefixed with ``'``: a spreadsheet would otherwise run
it as a formula (CSV injection). Numbers are written as numbers, never prefixed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi.responses import Response

# What a spreadsheet reads as the start of a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TableSpec:
    """A table of a page's dict: ``path`` the keys down to it (a ``paged`` dict is read at its
    ``items``), ``columns`` its fields in order (``a.b`` reads a nested field). When the path
    ends at a mapping (``{"M1": {...}, ...}``), each entry is a row whose key is the column
    ``key`` (and a plain value, as in ``{"EXPIRED": 3}``, the column ``value``)."""

    path: tuple[str, ...]
    columns: tuple[str, ...]
    key: str | None = None
    value: str = "value"


Tables = Mapping[str, TableSpec]


def rows_of(data: Mapping[str, Any], spec: TableSpec) -> list[Mapping[str, Any]]:
    found: Any = data
    for step in spec.path:
        found = found.get(step) if isinstance(found, Mapping) else None
    if isinstance(found, Mapping) and "items" in found and spec.key is None:
        found = found["items"]  # a paged list: {"items", "total", "limit", "offset"}
    if found is None:
        return []
    if isinstance(found, Mapping):
        if spec.key is None:
            raise ValueError(f"table at {'.'.join(spec.path)} is a mapping: it needs a key")
        return [{spec.key: k, **(v if isinstance(v, Mapping) else {spec.value: v})}
                for k, v in found.items()]  # fmt: skip
    return list(found)


def _field(row: Mapping[str, Any], column: str) -> Any:
    value: Any = row
    for step in column.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def cell(value: Any) -> str:
    """One value as a CSV cell (the module's rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # 1e-05 -> 0.00001, 12.5 -> 12.5
    if isinstance(value, dt.date):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, list | tuple) and all(not isinstance(v, Mapping | list) for v in value):
        text = "; ".join(cell(v) for v in value)
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(data: Mapping[str, Any], spec: TableSpec) -> Iterator[list[str]]:
    """The header (the JSON field names), then one line per row."""
    yield list(spec.columns)
    for row in rows_of(data, spec):
        yield [cell(_field(row, c)) for c in spec.columns]


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def csv_response(page: str, name: str, data: Mapping[str, Any], spec: TableSpec) -> Response:
    """The table as a download: UTF-8 with a BOM, so a spreadsheet reads its accents."""
    body = "\ufeff" + to_csv(lines(data, spec))
    disposition = f'attachment; filename="{page}-{name}.csv"'
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})  # fmt: skip
