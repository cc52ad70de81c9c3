"""Why a record is not linked: exactly the codes of DESIGN.md."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    NO_CANDIDATES = "NO_CANDIDATES"
    WEAK_MATCH_ONLY = "WEAK_MATCH_ONLY"
    MULTIPLE_CANDIDATES = "MULTIPLE_CANDIDATES"
    MISSING_IDENTIFIERS = "MISSING_IDENTIFIERS"
    CONFLICTING_EVIDENCE = "CONFLICTING_EVIDENCE"
    ERROR = "ERROR"

