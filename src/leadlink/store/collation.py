"""Source keys compared byte by byte, whatever the database's collation.

The trips of one driver are the keys ``driver_id|YYYY-MM-DD`` inside ``[driver_id + "|",
driver_id + "}")`` (``windows.py``): a range that holds only in byte (code point) order. SQLite
compares text that way (``BINARY``), but PostgreSQL compares in the database's collation, and
a linguistic one (``en_US.UTF-8``, ICU) weighs letters before punctuation: there ``D1|2026-10-05``
sorts after ``D1}`` and the range finds no trip at all. ``key_text(x)`` is ``x COLLATE "C"`` on
PostgreSQL (migration 0007 indexes ``(source, source_pk COLLATE "C")`` so the range is still
one index scan) and ``x`` itself on SQLite, which has no collation named C.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class key_text(FunctionElement[str]):  # noqa: N801 - reads as the SQL it renders
    """Text compared in byte order: ``key_text(trip.source_pk) >= key_text(prefix)``."""

    type = String()
    inherit_cache = True
    name = "key_text"


@compiles(key_text, "sqlite")
def _key_text_sqlite(element: key_text, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = list(element.clauses)
    return str(compiler.process(text, **kw))


@compiles(key_text, "postgresql")
def _key_text_postgresql(element: key_text, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = list(element.clauses)
    # COLLATE binds tighter than ||: the inner parentheses make it collate the whole
    # concatenation (a prefix built as driver || '|' || day), not its last operand.
    return f'(({compiler.process(text, **kw)}) COLLATE "C")'
