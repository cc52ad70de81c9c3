"""One exception root; the edges (CLI, API) translate it into exit codes and statuses.

An error a person can meet in the dashboard also carries a ``code`` and its ``params``: the
message is written once here, in English, as a template (``"no person {key}"``), and the
dashboard shows ``error.<code>`` from its catalog in the page's language, formatted with the
same params (docs/dashboard.md, "Errors in the page's language"). The CLI and the API say the
English text. A part of such a message that is itself words (why a record cannot move, why
an item went stale) is a :class:`Phrase`, said the same way, so no English fragment ends up
inside a Spanish page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Phrase:
    """A piece of an error's text in the reader's language, given as an error param:
    ``Phrase("{record} (no such record)", code="split_record_unknown", record=r)``. Its
    ``str()`` is the English text; a page says ``error.<code>`` with the same params."""

    def __init__(self, template: str, /, *, code: str, **params: Any) -> None:
        self.template, self.code, self.params = template, code, params

    def __str__(self) -> str:
        return self.template.format(**self.params)

    def __repr__(self) -> str:
        return f"Phrase({str(self)!r}, code={self.code!r})"


class Term:
    """A code word given as an error param (a status, a reason): ``str()`` is the code itself,
    a page says its catalog's ``<group>.<value>`` (``item_status.accepted``)."""

    def __init__(self, group: str, value: str) -> None:
        self.group, self.value = group, value

    def __str__(self) -> str:
        return self.value


class Phrases:
    """Several phrases given as one param, joined by ``sep`` (the same in every language)."""

    def __init__(self, items: Sequence[Phrase], sep: str = ", ") -> None:
        self.items, self.sep = tuple(items), sep

    def __str__(self) -> str:
        return self.sep.join(str(p) for p in self.items)


class LeadlinkError(Exception):
    """Root of every error leadlink raises on purpose.

    ``LeadlinkError("no person {key}", code="person_unknown", key=k)``: with params, the
    message is a template they fill in; without, it is the text as given.
    """

    exit_code = 1

    def __init__(self, message: str = "", /, *, code: str | None = None, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(message.format(**params) if params else message)


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
