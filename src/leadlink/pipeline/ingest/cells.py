"""A typed cell (Parquet, a database query) as the text a CSV export of it would hold.

Shared by the file reader (``stream``) and the query source (``query``), so the same rows give
the same records and content hashes whichever way they arrive.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid


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
