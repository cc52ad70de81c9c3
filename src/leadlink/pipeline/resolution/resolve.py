"""`leadlink match`: resolve every pending identity record into a person or an unmatched reason.

Sources are resolved in order (drivers found persons; migrations, scouting and leads attach to
them). Each source is decided set-based by the matching core, then written in chunks, one
transaction per chunk: a link and its origin always land together.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadlink import clock
from leadlink.matching import Bands, Reason, prepare
from leadlink.matching.compiled import BatchScorer
from leadlink.matching.decision import Decision, rows
from leadlink.pipeline import summaries
from leadlink.pipeline.progress import ProgressFn
from leadlink.pipeline.resolution import meanwhile, merge
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.decider import Scorer, decide_chunk
from leadlink.pipeline.resolution.founding import found_driver_parts, found_drivers
from leadlink.pipeline.resolution.founding import person_key_for as person_key_for  # re-exported
from leadlink.pipeline.resolution.model import StoredModel, TooLittleData
from leadlink.pipeline.resolution.model import current as current_model
from leadlink.pipeline.resolution.model import train as train_model
from leadlink.pipeline.resolution.persist import given, write_decisions
from leadlink.pipeline.resolution.settle import model_actor
from leadlink.pipeline.resolution.streaming import DECIDE_CHUNK, Streamer, StreamStats
from leadlink.pipeline.resolution.workspace import Workspace
from leadlink.settings import Settings
from leadlink.sources import IDENTITY_SOURCES, RESOLVE_ORDER
from leadlink.store import jobs, locks, resolution
from leadlink.store.db import MATCH_TABLES, refresh_statistics, transaction
from leadlink.store.resolution import RecordRow

# Builds a Scorer for a stored model's Splink settings and the registry's term frequencies
# (None: count them in the registry scored against): compiled.BatchScorer by default, the
# Spark engine's otherwise (pipeline/resolution/spark.py).
ScorerFactory = Callable[[dict[str, Any], dict[str, pa.Table] | None], Scorer]


@dataclass
class MatchResult:
    run_id: int
    processed: int = 0
    linked: int = 0
    new_persons: int = 0
    review: int = 0
    unmatched: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    merged: int = 0
    linked_meanwhile: int = 0  # read pending, then linked by another path before written
    margin: float = 0.05
    window_days: int = 14
    stream: StreamStats = field(default_factory=StreamStats)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "processed": self.processed,
            "linked": self.linked,
            "new_persons": self.new_persons,
            "unmatched": {r.value: self.unmatched.get(r.value, 0) for r in Reason},
            "review": self.review,
            "by_rule": dict(sorted(self.by_rule.items())),
            "by_source": self.by_source,
            "model": self.model,
            "merged": self.merged,
            "linked_meanwhile": self.linked_meanwhile,
            "stream": self.stream.as_dict(),
        }


def match(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    progress: ProgressFn | None = None,
    rematch: bool = False,
    owner: str | None = None,
    wait: float | bool = False,
    scorer: ScorerFactory | None = None,
    decide_chunk: int = DECIDE_CHUNK,
) -> MatchResult:
    """Resolve pending records of every identity source; record the run in job_run.

    One `match` at a time, and none while another job links records: it holds the `match`
    job lock and the linking lock exclusively (store/locks.py; LockBusyError, exit 1, names
    the holder), so no two runs decide the same pending records. The worker passes its own
    ``owner`` (it already holds the `match` lock); ``wait`` polls for up to that many seconds.
    ``scorer`` builds what replaces the DuckDB scoring of model pairs (``--engine spark``).
    """
    stale = dt.timedelta(seconds=settings.lock_stale_seconds)
    owner = owner or locks.new_owner()
    with (
        locks.hold(engine, "match", owner, now, wait=wait, stale_after=stale),
        locks.hold_linking(engine, "match", owner, now, wait=wait, stale_after=stale) as lock,
        jobs.recorded(engine, "match", now, owner=owner) as run,
    ):
        result = MatchResult(run_id=run.id)
        run.counts = result.as_dict
        _run(engine, settings, result, now=now, progress=progress, rematch=rematch,
             beat=lock.heartbeat, scorer=scorer, decide_chunk=decide_chunk)  # fmt: skip
        refresh_statistics(engine, MATCH_TABLES, result.processed)
        if result.processed:
            summaries.refresh(engine, settings, now)  # the backlog and activity it changed
    return result


def _run(
    engine: Engine,
    settings: Settings,
    result: MatchResult,
    *,
    now: dt.datetime,
    progress: ProgressFn | None,
    rematch: bool,
    beat: Callable[[], None],
    scorer: ScorerFactory | None = None,
    decide_chunk: int = DECIDE_CHUNK,
) -> None:
    """Each source: stage its pending records, decide them chunk by chunk against the registry
    rows they can meet, then write the decisions (see pipeline/resolution/streaming.py)."""
    resolver = Resolver(engine, settings, now=now, scorer=scorer)  # holds the model
    result.margin = settings.margin
    result.window_days = settings.claim_window_days
    with Workspace() as ws:
        stream = Streamer(engine, ws, resolver.bands, page=settings.chunk_size,
                          chunk=decide_chunk)  # fmt: skip
        result.stream = stream.stats
        stream.backfill()
        for source in RESOLVE_ORDER:
            total = stream.stage(source, rematch=rematch)
            if not total:
                continue
            stream.registry_for_source(total)
            model = None if source == "drivers" else resolver.model_settings()
            tf = stream.term_frequencies() if model else None
            score_with = resolver.scorer_factory(model, tf) if model else None
            stream.decide(source, model, scorer=score_with, tf=tf, progress=progress,
                          total=total)  # fmt: skip
            beat()  # deciding a source can be long: show the lock's holder is alive
            parts = stream.decided_parts(settings.chunk_size)
            if source == "drivers":
                parts = found_driver_parts(parts, ws.all_pending(), ws.pending_pks())
            # A rematch re-decides the review band: the model settles what it now decides.
            settle_by = None
            if rematch and model and resolver.model is not None:
                settle_by = model_actor(resolver.model.id)
            new_links = _write(engine, result, source, parts, total, run_id=result.run_id,
                               now=now, progress=progress, beat=beat,
                               settle_by=settle_by)  # fmt: skip
            ws.grow(new_links)
            if source == "drivers" and result.merged:
                stream.reset_registry()  # it still holds the retired keys
    if resolver.model is not None:
        result.model = {"id": resolver.model.id, "sha256": resolver.model.sha256,
                        "trained_now": resolver.model_trained}  # fmt: skip
    elif resolver.model_skipped:
        result.model = {"skipped": resolver.model_skipped}


class Resolver:
    """Decide records against the registry of linked records; the caller writes the result.

    The registry is loaded once, lazily (only when something is to be decided), and grows with
    what the caller reports as written (``grow``), so sources resolved later see earlier links.
    ``decide`` never writes: services (match, recover) persist decisions with ``write`` inside
    their own transaction, together with their own bookkeeping.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        now: dt.datetime | None = None,
        scorer: ScorerFactory | None = None,
    ) -> None:
        self.engine = engine
        # Scores the model's pairs: the stored model compiled to DuckDB SQL by default (the
        # same probabilities as Splink's predict, without rebuilding its pipeline per chunk).
        self.scorer_factory: ScorerFactory = scorer or BatchScorer
        self.bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
        self.window_days = settings.claim_window_days  # review deadlines, see write_decisions
        self.use_model = settings.probabilistic
        self.min_records = settings.model_min_records
        self.model_skipped: str | None = None
        self.now = now or clock.utcnow()
        self.model: StoredModel | None = None
        self.model_trained = False
        self._registry: pa.Table | None = None
        self._last_query: pa.Table | None = None

    def registry(self) -> pa.Table:
        if self._registry is None:
            self._registry = load_registry(self.engine)
        return self._registry

    def decide(self, source: str, records: Sequence[RecordRow]) -> list[Decision]:
        """One decision per record, decided as one chunk (``decider.decide_chunk``).

        An exception in the engine never escapes as a crash of the batch: every record of the
        batch is decided ERROR with the exception's message (logged with its traceback).
        Loading the registry or training the model happens first, outside that guard: their
        failure is the caller's (``recover`` records the batch's attempts as failed).
        """
        query = prepare(canonical_frame((source, rid, data, None) for rid, _, data in records))
        model = None if source == "drivers" else self.model_settings()
        scorer = self.scorer_factory(model, None) if model else None
        table = decide_chunk(source, query, self.registry(), self.bands, model, scorer=scorer)
        if source == "drivers":
            decided = found_drivers(table, query, {rid: pk for rid, pk, _ in records})
        else:
            decided = rows(table)
        self._last_query = query
        return decided

    def model_settings(self) -> dict[str, Any] | None:
        """The stored model (trained first when there is none); None when the tier is off."""
        if not self.use_model or self.model_skipped:
            return None
        if self.model is None:
            self.model = current_model(self.engine)
            if self.model is None:
                try:
                    self.model = train_model(self.engine, now=self.now,
                                             min_records=self.min_records,
                                             accept=self.bands.accept)  # fmt: skip
                except TooLittleData as exc:
                    self.model_skipped = str(exc)
                    return None
                self.model_trained = True
        return self.model.settings

    def reset_registry(self) -> None:
        self._registry = None

    def grow(self, new_links: dict[int, str]) -> None:
        """Add records just linked (rid -> person_key, from the last ``decide``) to the registry."""
        if new_links and self._registry is not None and self._last_query is not None:
            self._registry = _grow(self._registry, self._last_query, new_links)


def load_registry(engine: Engine) -> pa.Table:
    """Every linked record of the identity sources, normalised, with its person_key."""
    with transaction(engine) as session:
        linked = resolution.registry(session, IDENTITY_SOURCES)
    return prepare(canonical_frame((s, rid, data, key) for rid, s, key, data in linked))


def _write(
    engine: Engine,
    result: MatchResult,
    source: str,
    parts: Iterable[list[Decision]],
    total: int,
    *,
    run_id: int,
    now: dt.datetime,
    progress: ProgressFn | None,
    beat: Callable[[], None],
    settle_by: str | None = None,
) -> dict[int, str]:
    """Write decisions part by part, one transaction each; return rid -> person_key linked.

    Records another path linked since they were read are left out (``meanwhile``); if one is
    linked between that recheck and the insert (PostgreSQL), the part is retried once."""
    counts: Counter[str] = Counter()
    new_links: dict[int, str] = {}
    done = 0
    for decided in parts:
        merged = result.merged
        for attempt in (1, 2):
            try:
                with transaction(engine) as session:
                    part, skipped = meanwhile.drop_linked(session, decided)
                    if source == "drivers":  # a driver whose document two persons share
                        part = _merge_persons(session, result, part, run_id=run_id, now=now)
                    linked = write_decisions(session, part, run_id=run_id, now=now,
                                             window_days=result.window_days,
                                             settle_by=settle_by)  # fmt: skip
                break
            except IntegrityError:
                result.merged = merged  # the merges rolled back with the part
                if attempt == 2:
                    raise
        new_links.update(linked)
        if skipped:
            result.linked_meanwhile += len(skipped)
            counts["linked_meanwhile"] += len(skipped)
        for d in part:
            if d["decision"] in ("link", "found"):
                counts["linked"] += 1
                result.by_rule[given(d, "rule")] += 1
                result.new_persons += d["decision"] == "found"
            else:
                reason = given(d, "reason")
                result.unmatched[reason] += 1
                counts[reason] += 1
                result.review += d["band"] == "review"
        done += len(part)
        beat()
        if progress:
            progress(f"match {source}", done, total)
    result.processed += done
    result.linked += counts["linked"]
    result.by_source[source] = {"processed": done, **dict(counts)}
    return new_links


def _merge_persons(
    session: Session,
    result: MatchResult,
    part: list[Decision],
    *,
    run_id: int,
    now: dt.datetime,
) -> list[Decision]:
    """Merge the persons a driver's document proves to be one; decisions follow the survivor."""
    pairs = merge.merges_from_decisions(part)
    if not pairs:
        return part
    retired = merge.apply(session, pairs, run_id=run_id, now=now)
    result.merged += len(retired)
    return merge.redirect(part, retired, margin=result.margin)


def _grow(registry: pa.Table, query: pa.Table, new_links: dict[int, str]) -> pa.Table:
    rids = query.column("rid").to_pylist()
    mask = pa.array([rid in new_links for rid in rids])
    added = query.filter(mask)
    keys = pa.array([new_links[rid] for rid in added.column("rid").to_pylist()], pa.string())
    added = added.set_column(added.schema.get_field_index("person_key"), "person_key", keys)
    return pa.concat_tables([registry, added.cast(registry.schema)])
