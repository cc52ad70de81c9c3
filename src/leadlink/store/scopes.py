"""The persons and lead records a partial refresh is limited to, as expanding parameters.

A summary's partial refresh (``summaries.touch``: a decision's leads and persons) builds its
statements once per configuration and runs them with each decision's ids; the ids therefore
enter as one named parameter, the same wherever a statement names them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam

PERSONS = "scope_persons"
RECORDS = "scope_records"


def persons_in(persons: Collection[str]) -> Any:
    """``persons`` as the expanding parameter ``PERSONS`` (its value when run as built)."""
    return bindparam(PERSONS, value=sorted(persons), expanding=True)


def records_in(record_ids: Collection[int]) -> Any:
    """Lead record ids as the expanding parameter ``RECORDS``."""
    return bindparam(RECORDS, value=sorted(record_ids), expanding=True)
