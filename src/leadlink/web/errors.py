"""The one table from a ``LeadlinkError`` to its HTTP status, for the app's JSON errors and the
dashboard's error pages alike (apart from the app, so pages need not import the app)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from leadlink.errors import (
    BadInputError,
    CheckFailed,
    ConfigError,
    LeadlinkError,
    LockBusyError,
    NotFoundError,
    UsageError,
)
from leadlink.store.db import DatabaseError

# Most specific first: the first class the error is an instance of gives the status.
STATUS: tuple[tuple[type[LeadlinkError], int], ...] = (
    (NotFoundError, 404),
    (BadInputError, 422),
    (UsageError, 422),
    (LockBusyError, 409),
    (CheckFailed, 409),
    (DatabaseError, 503),
    (ConfigError, 500),
)


def status_for(exc: LeadlinkError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


class EscapedJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (``\\ud800``): a validation error echoes the
    input it refused, and a lone surrogate in it cannot be encoded as UTF-8 (Starlette's
    JSONResponse raised UnicodeEncodeError: a 500 for a 422)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")  # fmt: skip


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 (``detail``: a list, each naming its field in ``loc``), safely encoded."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return EscapedJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)
