"""One chunk of records decided against the registry rows it can meet: the one place that
chooses the rules (drivers: ``DRIVER_RULES`` and no model; every other source: ``RULES``, the
probabilistic model and its scorer) and turns an engine failure into ERROR decisions.

``Streamer.decide`` (``match``) and ``Resolver.decide`` (``recover``, tests) both decide
through ``decide_chunk``, so the two paths cannot drift apart. Drivers found persons
afterwards (``founding``): that needs the whole batch, not one chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from leadlink.matching import DRIVER_RULES, RULES, Bands, resolve
from leadlink.matching.decision import conform, error_table

# Scores model pairs: (query subset, registry) -> pairs with probabilities (engine.resolve).
Scorer = Callable[[pa.Table, pa.Table], pa.Table]

log = logging.getLogger(__name__)


def failure_message(exc: BaseException) -> str:
    """What an ERROR decision (or a failed attempt) says of the exception behind it."""
    return f"{type(exc).__name__}: {exc}"


def decide_chunk(
    source: str,
    query: pa.Table,
    registry: pa.Table,
    bands: Bands,
    model: dict[str, Any] | None = None,
    *,
    scorer: Scorer | None = None,
    tf: dict[str, pa.Table] | None = None,
) -> pa.Table:
    """The chunk's decisions, one per record of ``query``, as a ``DECISION_SCHEMA`` table.

    ``model``, ``scorer`` and ``tf`` are ignored for drivers: a driver links by document or
    founds a person, never on a probability. An exception in the engine never escapes as a
    crash of the run: it is logged with its traceback and every record of the chunk is
    decided ERROR with the exception's message (the records are not silently dropped).
    """
    try:
        if source == "drivers":
            table = resolve(query, registry, bands, DRIVER_RULES)
        else:
            table = resolve(query, registry, bands, RULES, model, scorer=scorer, tf=tf)
        return conform(table)
    except Exception as exc:
        log.exception("matching %s failed", source)
        return error_table(query.column("rid").to_pylist(), failure_message(exc))
