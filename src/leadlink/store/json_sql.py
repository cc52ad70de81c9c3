"""Reading a JSON array column row by row in SQL, on SQLite and PostgreSQL alike.

The two dialects spell it differently: SQLite expands an array with the table-valued
``json_each(x)`` and reads a member with ``json_extract(v, '$.key')``; PostgreSQL has
``json_array_elements(x)`` and ``v ->> 'key'``. Each construct below renders the dialect's own
function (as ``windows.plus_days`` does); the member's name is always a bound parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class json_elements(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it renders
    """The elements of a JSON array, one row each: use ``.table_valued("value")``."""

    inherit_cache = True
    name = "json_elements"


@compiles(json_elements, "sqlite")
def _json_elements_sqlite(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    (array,) = list(element.clauses)
    return f"json_each({compiler.process(array, **kw)})"


@compiles(json_elements, "postgresql")
def _json_elements_postgresql(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    (array,) = list(element.clauses)
    return f"json_array_elements(CAST({compiler.process(array, **kw)} AS JSON))"


class json_member(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it renders
    """A member of a JSON object as text: ``json_member(value, "score")``, NULL when absent."""

    type = String()
    inherit_cache = True
    name = "json_member"


@compiles(json_member, "sqlite")
def _json_member_sqlite(element: json_member, compiler: SQLCompiler, **kw: Any) -> str:
    obj, key = list(element.clauses)
    # json_extract gives a number as a number: CAST keeps the answer text on both dialects.
    path = f"'$.' || {compiler.process(key, **kw)}"
    return f"CAST(json_extract({compiler.process(obj, **kw)}, {path}) AS TEXT)"


@compiles(json_member, "postgresql")
def _json_member_postgresql(element: json_member, compiler: SQLCompiler, **kw: Any) -> str:
    obj, key = list(element.clauses)
    return f"(CAST({compiler.process(obj, **kw)} AS JSON) ->> {compiler.process(key, **kw)})"


def member(obj: ColumnElement[Any], key: str) -> ColumnElement[str]:
    """``json_member(obj, key)`` with ``key`` bound."""
    return json_member(obj, literal(key, String()))
