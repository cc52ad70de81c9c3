"""How `match` decides a source in chunks, without holding it or the registry in Python memory.

Per source (``resolve._run`` drives it):

1. ``stage``: read the pending records page by page (keyset on id), normalise each page once,
   store its blocking keys and model terms in the database if the record has none yet
   (``store.keys``), and keep the prepared page in the run's DuckDB workspace.
2. ``decide``: for each chunk of the staged records, look up in SQL the linked records sharing a
   key with the chunk (``keys.registry_sharing``), load into the workspace the ones not loaded
   yet, and decide the chunk against exactly those (``decider.decide_chunk``). Decisions are
   staged in the workspace. Nothing is written while a source is decided, so every chunk sees
   the registry as it was before the source, as deciding the source whole did.
3. ``decided_parts``: the staged decisions, in id order, a write chunk at a time.

A registry row is loaded (read, normalised) at most once per run; records linked by a source
join the workspace's registry from the staged pages (``Workspace.grow``). The model's term
frequencies are counted over the whole registry in SQL (``keys.term_counts``), so a record's
score does not depend on the chunk it is decided in, nor on what else is pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.matching import Bands, decision, prepare
from leadlink.matching.blocking import record_keys
from leadlink.matching.engine import term_frequencies
from leadlink.pipeline.progress import ProgressFn
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.decider import Scorer, decide_chunk
from leadlink.pipeline.resolution.staging import PARALLEL_AFTER, Page, prepared_pages
from leadlink.pipeline.resolution.workspace import Workspace
from leadlink.sources import IDENTITY_SOURCES
from leadlink.store import keys, resolution
from leadlink.store.db import transaction

# Records decided per engine call. Bigger chunks amortise Splink's fixed cost per call (its SQL
# pipeline is built each time) and share more registry rows; smaller ones bound memory.
DECIDE_CHUNK = 20_000
# Load the whole registry up front when the pending records number at least 1/PRELOAD_RATIO
# of it (a full run); otherwise look up only the rows sharing a key (an incremental run).
PRELOAD_RATIO = 10
# Rows per bulk insert when the gathered keys are stored (one transaction for all of them).
KEY_WRITE_PART = 100_000

R = TypeVar("R", bound=tuple[Any, ...])


@dataclass
class StreamStats:
    """What a run read: reported in ``match --json`` (``stream``) and asserted by tests."""

    staged: int = 0  # pending records read and normalised
    keyed: int = 0  # records whose blocking keys were stored by this run
    chunks: int = 0  # engine calls
    candidates: int = 0  # registry ids the key lookups returned (summed over chunks)
    registry_loaded: int = 0  # registry rows read from the store into the workspace

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Streamer:
    def __init__(
        self,
        engine: Engine,
        workspace: Workspace,
        bands: Bands,
        *,
        page: int,
        chunk: int = DECIDE_CHUNK,
        parallel_after: int = PARALLEL_AFTER,
    ) -> None:
        self.engine = engine
        self.parallel_after = parallel_after  # pages staged before a helper process joins
        self.ws = workspace
        self.bands = bands
        self.page = page
        self.chunk = chunk
        self.stats = StreamStats()
        self.complete = False  # the workspace holds the whole registry (grown with new links)

    # -- keys of records linked before keys existed -----------------------------------------

    def backfill(self) -> int:
        """Store the keys of linked records that have none (first run after an upgrade that
        rekeys, or their data changed since): a lookup must find every registry record."""
        pages = prepared_pages(self._unkeyed_pages(),
                               lambda rows: [(s, rid, data) for rid, s, data, _ in rows],
                               parallel_after=self.parallel_after)  # fmt: skip
        for rows, (_, found, terms) in pages:
            self.ws.add_fresh(found, terms, _hashes([(r[0], r[3]) for r in rows]))
        return self._store_fresh_keys()

    def _unkeyed_pages(self) -> Iterator[list[tuple[int, str, dict[str, Any], str]]]:
        return self._keyset_pages(lambda session, after: keys.unkeyed_linked(
            session, IDENTITY_SOURCES, after=after, limit=self.page))  # fmt: skip

    def _keyset_pages(self, fetch: Callable[[Session, int], list[R]]) -> Iterator[list[R]]:
        """Pages of rows whose first field is the record id, ids after the last page's, each
        read in its own short transaction; ends at the first empty page."""
        after = 0
        while True:
            with transaction(self.engine) as session:
                rows = fetch(session, after)
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def _store_fresh_keys(self) -> int:
        """Write the gathered keys and terms in one transaction, keys in key order: written
        page by page, every commit rewrote most of the key table's B-tree pages (at 1 M
        leads, 60 s of commits on SQLite). A crash before the commit loses only derived rows:
        the records stay unkeyed and the next run keys them. Records whose content changed
        since they were read (an ingest while this run staged) are left unkeyed: their keys
        would be the old content's, and the next run keys them from the new."""
        with transaction(self.engine) as session:
            stale = [rid for part in self.ws.fresh_hash_parts(keys.LOOKUP_CHUNK)
                     for rid in keys.changed(session, part)]  # fmt: skip
            self.ws.drop_fresh(stale)
            keyed = keys.write_parts(session, self.ws.fresh_parts(KEY_WRITE_PART))
        self.ws.reset_fresh()
        self.stats.keyed += keyed
        return keyed

    # -- 1. stage ------------------------------------------------------------------------

    def stage(self, source: str, *, rematch: bool) -> int:
        """Read, normalise and keep the source's pending records; store the keys of those
        that have none (pending records' keys are only looked up once they are linked, so
        they are written when the source is staged, in one go)."""
        self.ws.reset_pending()
        total = 0
        pages = prepared_pages(self._pending_pages(source, rematch),
                               lambda rows: [(source, r[0], r[2]) for r in rows],
                               parallel_after=self.parallel_after)  # fmt: skip
        for rows, (frame, found, terms) in pages:
            unkeyed = [(r[0], r[4]) for r in rows if not r[3]]
            if unkeyed:
                wanted = pa.array([rid for rid, _ in unkeyed], pa.int64())
                self.ws.add_fresh(found.filter(pc.is_in(found["rid"], wanted)),
                                  terms.filter(pc.is_in(terms["rid"], wanted)),
                                  _hashes(unkeyed))  # fmt: skip
            self.ws.add_pending(frame, [r[1] for r in rows], found)
            total += len(rows)
        self._store_fresh_keys()
        self.stats.staged += total
        return total

    def _pending_pages(self, source: str, rematch: bool) -> Iterator[Page]:
        return self._keyset_pages(lambda session, after: resolution.pending_page(
            session, source, after=after, limit=self.page, include_unmatched=rematch))  # fmt: skip

    # -- 2. decide -----------------------------------------------------------------------

    def registry_for_source(self, pending: int) -> None:
        """Before deciding ``pending`` records: when they are many next to the registry, load
        the whole registry once (a lookup per chunk would end up reading most of it anyway);
        from then on the workspace holds all of it and per-chunk lookups are skipped."""
        if self.complete:
            return
        with transaction(self.engine) as session:
            size = resolution.count_registry(session, IDENTITY_SOURCES)
        if size and pending * PRELOAD_RATIO < size:
            return
        after = 0
        while True:
            with transaction(self.engine) as session:
                rows = resolution.registry_page(session, IDENTITY_SOURCES, after=after,
                                                limit=self.page)  # fmt: skip
            if not rows:
                break
            after = rows[-1][0]
            wanted = set(self.ws.missing([r[0] for r in rows]))
            self._load([r for r in rows if r[0] in wanted])
        self.complete = True

    def reset_registry(self) -> None:
        self.ws.reset_registry()
        self.complete = False

    def _load(self, rows: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        if rows:
            frame = prepare(canonical_frame((s, rid, data, key) for rid, s, key, data in rows))
            self.ws.add_registry(frame, record_keys(frame))
            self.stats.registry_loaded += len(rows)

    def term_frequencies(self) -> dict[str, pa.Table]:
        with transaction(self.engine) as session:
            return term_frequencies(keys.term_counts(session))

    def decide(
        self,
        source: str,
        model: dict[str, Any] | None,
        *,
        scorer: Scorer | None = None,
        tf: dict[str, pa.Table] | None = None,
        progress: ProgressFn | None = None,
        total: int = 0,
    ) -> None:
        done = 0
        for query, qkeys in self.ws.pending_chunks(self.chunk):
            if progress:
                progress(f"decide {source}", done, total)
            done += query.num_rows
            registry = self._registry_for(qkeys)
            self.stats.chunks += 1
            self.ws.add_decided(decide_chunk(source, query, registry, self.bands, model,
                                             scorer=scorer, tf=tf))  # fmt: skip
        if progress:
            progress(f"decide {source}", done, total)

    def _registry_for(self, qkeys: pa.Table) -> pa.Table:
        """The registry rows sharing a key with the chunk, loading those not loaded yet."""
        if self.complete:
            return self.ws.registry_for(qkeys)
        with transaction(self.engine) as session:
            ids = keys.registry_sharing(session, qkeys.column("key").to_pylist())
        self.stats.candidates += len(ids)
        missing = self.ws.missing(ids)
        for start in range(0, len(missing), self.page):
            with transaction(self.engine) as session:
                self._load(resolution.linked_records(session, missing[start : start + self.page]))
        return self.ws.registry_for(qkeys)

    # -- 3. write ------------------------------------------------------------------------

    def decided_parts(self, size: int) -> Iterator[list[decision.Decision]]:
        for part in self.ws.decided_chunks(size):
            yield decision.rows(part)


def _hashes(rows: list[tuple[int, str]]) -> pa.Table:
    """(rid, content_hash) of records as they were read."""
    return pa.table({"rid": pa.array([r[0] for r in rows], pa.int64()),
                     "content_hash": pa.array([r[1] for r in rows], pa.string())})  # fmt: skip
