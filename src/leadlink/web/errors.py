"""The one table from a ``LeadlinkError`` to its HTTP status, for the app's JSON errors and the
dashboard's error pages alike (apart from the app, so pages need not import the app)."""

from __future__ import annotations

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
