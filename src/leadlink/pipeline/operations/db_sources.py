"""The worker's database sources: the partner's tables and views read on a schedule.

``leadlink worker --sources FILE`` (or ``LEADLINK_SOURCES_FILE``) names a TOML file with one
table per source, what ``leadlink ingest SOURCE --from URL --query Q --map COL=SRC`` takes by
hand::

    [sources.leads]
    url_env = "PARTNER_DB_URL"      # or url = "postgresql+psycopg://reader@host/crm"
    query = "SELECT * FROM crm.v_leads"
    map = { last_name = "apellidos", phone = "celular" }
    every = "6h"                    # optional: every cycle when left out

Each source is one worker job of kind ``ingest_db:SOURCE``, run before match in the order
match resolves sources, exactly as the CLI runs it (``ingest.query.ingest_query``: one
transaction, a bad row rolls back the whole read). It is due when it never succeeded or its
last success *started* at least ``every`` ago; a failed read is retried the next cycle. The
file is checked whole when the worker starts: any mistake is a ConfigError naming the file and
the key, and the worker does not start. ``url_env`` keeps the password out of the file; the
URL is masked in every message, count and log line.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from leadlink.errors import ConfigError, LeadlinkError, UsageError
from leadlink.pipeline.operations.schedule import parse_every
from leadlink.sources import RESOLVE_ORDER, SOURCES
from leadlink.store import jobs, source_db


class Worker(Protocol):
    """What a database source needs of the worker running it: the store."""

    engine: Engine

KIND_PREFIX = "ingest_db:"
KEYS = {"url", "url_env", "query", "map", "every"}
# Identity sources in the order match resolves them, then activity (as the watched folder).
ORDER = [*RESOLVE_ORDER, *(s for s in SOURCES if s not in RESOLVE_ORDER)]


@dataclass(frozen=True)
class DbSource:
    """One source read from a database on a schedule."""

    source: str
    url: str = field(repr=False)  # holds the password: never printed, see ``where``
    query: str
    mapping: dict[str, str]
    every_s: float | None  # None: every cycle

    @property
    def kind(self) -> str:
        return f"{KIND_PREFIX}{self.source}"

    @property
    def where(self) -> str:
        """The database, password masked."""
        return source_db.where_of(self.url)

    def due(self, worker: Worker, now: dt.datetime) -> bool:
        if self.every_s is None:
            return True
        last = jobs.last_ok_start(worker.engine, self.kind)
        return last is None or (now - last).total_seconds() >= self.every_s

    def run(self, worker: Worker, now: dt.datetime) -> tuple[dict[str, Any], str | None]:
        """Read the source; a bad row or a failing query is the job's error (store unchanged)."""
        from leadlink.pipeline.ingest.query import ingest_query

        counts: dict[str, Any] = {"source": self.source, "from": self.where}
        try:
            result = ingest_query(worker.engine, self.source, self.url, self.query,
                                  mapping=self.mapping, now=now)  # fmt: skip
        except LeadlinkError as exc:  # a bad row, a failing query, no connection: all masked
            return {**counts, "rows": 0}, str(exc)
        return {**counts, "rows": result.rows, "inserted": result.inserted,
                "updated": result.updated, "unchanged": result.unchanged,
                "pages": result.pages}, None  # fmt: skip


def load(path: Path, environ: Mapping[str, str] | None = None) -> list[DbSource]:
    """The sources of the TOML file at ``path``, in ingest order; ConfigError on any mistake."""
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sources file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the sources file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"sources"})
    if extra:
        raise ConfigError(f"{path}: unknown top-level key {extra[0]!r}: sources go under "
                          f"[sources.NAME]")  # fmt: skip
    tables = data.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: no [sources.NAME] table: name at least one source "
                          f"({', '.join(SOURCES)})")  # fmt: skip
    found = [_one(path, name, spec, env) for name, spec in tables.items()]
    return sorted(found, key=lambda s: ORDER.index(s.source))


def _one(path: Path, name: str, spec: Any, env: Mapping[str, str]) -> DbSource:
    where = f"{path}: [sources.{name}]"
    if name not in SOURCES:
        raise ConfigError(f"{where}: unknown source; use one of {', '.join(SOURCES)}")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a table (url or url_env, query, map, every)")
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys are "
                          f"{', '.join(sorted(KEYS))}")  # fmt: skip
    url = _url(where, spec, env)
    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError(f"{where}: query must be the SELECT that returns the source's rows")
    return DbSource(name, url, query, _mapping(where, spec.get("map", {})),
                    _every(where, spec.get("every")))  # fmt: skip


def _url(where: str, spec: dict[str, Any], env: Mapping[str, str]) -> str:
    if ("url" in spec) == ("url_env" in spec):
        raise ConfigError(f"{where}: give exactly one of url or url_env (the name of an "
                          f"environment variable holding the URL, so no password is in the "
                          f"file)")  # fmt: skip
    if "url_env" in spec:
        var = spec["url_env"]
        if not isinstance(var, str) or not var:
            raise ConfigError(f"{where}: url_env must name an environment variable")
        url = env.get(var)
        if not url:
            raise ConfigError(f"{where}: the environment variable {var} (url_env) is not set")
    else:
        url = spec["url"]
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where}: url must be a database URL")
    try:
        source_db.source_url(url)  # a ConfigError of its own names it, password masked
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return url


def _mapping(where: str, raw: Any) -> dict[str, str]:
    from leadlink.pipeline.ingest.query import parse_map

    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where}: map must be a table of our column = the query's column, "
                          f'e.g. map = {{ phone = "celular" }}')  # fmt: skip
    try:
        return parse_map([f"{ours}={theirs}" for ours, theirs in raw.items()])
    except UsageError as exc:
        raise ConfigError(f"{where}: map: {exc}") from None


def _every(where: str, raw: Any) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(f'{where}: every must be a string like "6h" (s, m, h or d)')
    try:
        return parse_every(raw)
    except UsageError:
        raise ConfigError(f"{where}: every takes a positive number and a unit s, m, h or d "
                          f"(e.g. 6h), not {raw!r}") from None
