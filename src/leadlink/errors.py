"""One exception root; the edges (CLI, API) translate it into exit codes and statuses."""

from __future__ import annotations


class LeadlinkError(Exception):
    """Root of every error leadlink raises on purpose."""

    exit_code = 1


class ConfigError(LeadlinkError):
    """Settings are invalid (bad URL, thresholds out of range...)."""

    exit_code = 2


class UsageError(LeadlinkError):
    """The command was called the wrong way (unknown source, bad flag value)."""

    exit_code = 2


class BadInputError(LeadlinkError):
    """An input file cannot be loaded. Names the file and, where it applies, line and column.

    ``line`` is the physical line number in the file, header = line 1.
    """

    exit_code = 2

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.detail = message
        where = file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


class NotFoundError(LeadlinkError):
    """A record, person or item that was asked for does not exist."""

    exit_code = 2


class CheckFailed(LeadlinkError):
    """An invariant check found a violation."""

    exit_code = 1


class LockBusyError(LeadlinkError):
    """Another job of the same kind holds the lock."""

    exit_code = 1
