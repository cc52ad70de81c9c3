"""`leadlink ingest SOURCE FILE`: load a CSV or Parquet file into a source, all or nothing.

The whole file is read and validated first (``leadlink.pipeline.ingest.readers``); only then is it
written, in one transaction, so a bad file leaves the database exactly as it was.

Records are upserted by ``(source, source_pk)``. A record's ``content_hash`` is the SHA-256
of the canonical JSON of its ``data`` (sorted keys, no spaces, UTF-8): a new key is
inserted, a key whose hash changed is updated (``data``, ``content_hash``, ``event_date``,
``updated_at``) and its ``unmatched`` row is deleted so ``match`` looks at it again, and an
identical record is not touched at all. Re-ingesting a file therefore changes nothing.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadlink import clock
from leadlink.errors import UsageError
from leadlink.pipeline.ingest.readers import check_encoding, read_table, validate
from leadlink.pipeline.progress import ProgressFn
from leadlink.sources import SOURCES
from leadlink.store import records as records_store
from leadlink.store.db import transaction


@dataclass(frozen=True)
class IngestResult:
    source: str
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest_file(
    engine: Engine,
    source: str,
    path: Path,
    *,
    encoding: str | None = None,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Validate ``path`` completely, then upsert it into ``source`` in one transaction."""
    spec = SOURCES.get(source)
    if spec is None:
        raise UsageError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    if encoding is not None:
        check_encoding(encoding)
    stamp = _naive_utc(now)
    with _gc_paused():
        valid = validate(read_table(path, encoding=encoding), spec)
        rows = [_record_row(v.source_pk, v.data, v.event_date) for v in valid]
        del valid

    label = f"ingest {source}"
    with transaction(engine) as session:
        existing = records_store.existing_hashes(session, source, [r.source_pk for r in rows])
        to_write = [r for r in rows if existing.get(r.source_pk) != r.content_hash]
        changed = [r.source_pk for r in to_write if r.source_pk in existing]
        total = len(to_write)

        def on_chunk(done: int) -> None:
            if progress is not None:
                progress(label, done, total)

        records_store.upsert(session, source, to_write, now=stamp, on_chunk=on_chunk)
        if changed:
            records_store.forget_unmatched(session, source, changed)
            records_store.forget_keys(session, source, changed)
    if progress is not None:
        progress(label, total, total)
    updated = len(changed)
    return IngestResult(
        source=source,
        file=str(path),
        rows=len(rows),
        inserted=total - updated,
        updated=updated,
        unchanged=len(rows) - total,
    )


def content_hash(data: dict[str, str]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data``."""
    return hashlib.sha256(records_store.canonical_json(data).encode("utf-8")).hexdigest()


def _record_row(
    source_pk: str, data: dict[str, str], event_date: dt.date | None
) -> records_store.RecordRow:
    text = records_store.canonical_json(data)
    return records_store.RecordRow(
        source_pk=source_pk,
        data=data,
        data_json=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        event_date=event_date,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is parsed.

    Parsing creates hundreds of thousands of long-lived objects and no reference cycles;
    the collector's repeated scans of them about double the parse time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _naive_utc(now: dt.datetime | None) -> dt.datetime:
    """``now`` as a naive UTC datetime (what the database stores); the clock when None."""
    if now is None:
        return clock.utcnow()
    if now.tzinfo is not None:
        return now.astimezone(dt.UTC).replace(tzinfo=None)
    return now
