"""The online path: one new lead decided against the registry in milliseconds, no batch rerun.

``OnlineMatcher`` holds no registry. At load it reads the stored model and the registry's
term frequencies, counted in SQL (``keys.term_counts``, as `match` counts them), and compiles
the model with them to one DuckDB query (``matching.compiled``). Per lead it does what `match`
does per chunk (``streaming``), for one record: the lead's blocking keys
(``blocking.few_record_keys``, equal to the keys `match` stores) -> the linked records
sharing one, read in one indexed statement (``keys.registry_rows``) -> only those
normalised -> the decision `match` makes
(``matching.single``, tested equal to the batch engine): rules first, the model for what they
leave open, the same bands, margin and guard. So whatever linked a record (`match`,
`recover`, a review accept, another server process) is seen by the next lead, with nothing
to reload, and a process holds the model and a few term tables, not the registry.

Records can only be found through their keys: a linked record without any (its content was
changed by an ingest after it was linked, or it was linked before keys existed) would be
invisible. ``key_unkeyed`` keys them in one set-based pass; ``LeadPoster`` runs it whenever
it loads a matcher (process start, a new model), and `match` does the same first
(``Streamer.backfill``). ``decide`` itself never writes.

Term frequencies are those of the load (start, or the last new model): a record linked since
moves a term's frequency by 1/N of the registry, far under what changes a band, and a
retrained model reloads them. The batch decides a source against the registry as it was
before the source, with the same kind of staleness.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadlink.matching import RULES, Bands, prepare
from leadlink.matching.blocking import few_record_keys, record_terms
from leadlink.matching.compiled import CompiledModel
from leadlink.matching.decision import Decision
from leadlink.matching.engine import term_frequencies
from leadlink.matching.single import resolve_one
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.model import current as current_model
from leadlink.pipeline.resolution.staging import prepare_page
from leadlink.settings import Settings
from leadlink.sources import IDENTITY_SOURCES
from leadlink.store import keys
from leadlink.store.db import transaction

# The record id a lead that is not in the store yet is decided under.
NEW_LEAD_RID = -1
# Unkeyed linked records read, normalised and keyed per transaction by ``key_unkeyed``.
KEY_PAGE = 5_000
# Tries of a page another process keyed at the same time (its keys collide with ours).
KEY_TRIES = 3


class OnlineMatcher:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
        # The last lead decided: its prepared frame and keys, for ``key_parts`` after a post.
        self._last: tuple[dict[str, Any], pa.Table, pa.Table] | None = None
        self.candidates_read = 0  # registry rows read for the leads decided (tests, benchmarks)
        self.refresh()

    def refresh(self) -> None:
        """Load the model and the registry's term frequencies (at start, or a new model)."""
        stored = current_model(self.engine) if self.settings.probabilistic else None
        self.model_id = stored.id if stored else None
        self.model: dict[str, Any] | None = stored.settings if stored else None
        self.compiled: CompiledModel | None = None
        if self.model is not None:
            with transaction(self.engine) as session:
                tf = term_frequencies(keys.term_counts(session))
            self.compiled = CompiledModel(self.model, tf=tf)

    def decide(self, lead: dict[str, Any]) -> dict[str, Any]:
        """``lead`` has the `leads` columns; the answer has DESIGN.md's POST /api/leads shape."""
        return self.answer(lead, self.decide_record(lead))

    def decide_record(self, lead: dict[str, Any], rid: int = NEW_LEAD_RID) -> Decision:
        """The engine's decision for ``lead`` as record ``rid``: the decision ``match`` makes
        and ``persist.write_decisions`` persists (evidence and candidates as JSON text)."""
        query = prepare(canonical_frame([("leads", rid, lead, None)]))
        qkeys = few_record_keys(query)
        self._last = (lead, query, qkeys)  # key_parts() after the post reuses them
        candidates = self.candidates(qkeys)
        compiled = self.compiled
        scorer = None
        if compiled is not None and candidates.num_rows:  # no candidate: nothing to score
            scorer = lambda q, r: compiled.score(q, r)  # noqa: E731
        return resolve_one(query, candidates, self.bands, RULES,
                           self.model if scorer else None, scorer)  # fmt: skip

    def candidates(self, qkeys: pa.Table) -> pa.Table:
        """The linked records sharing a key with the query, read and prepared (a superset of
        its candidate pairs, as in `match`: ``resolve_one`` blocks exactly)."""
        with transaction(self.engine) as session:
            rows = keys.registry_rows(session, qkeys.column("key").to_pylist())
        self.candidates_read += len(rows)
        return prepare(canonical_frame((s, rid, data, person) for rid, s, person, data, _ in rows))

    def key_parts(self, lead: dict[str, Any], rid: int) -> list[tuple[str, pa.Table]]:
        """The blocking keys and model terms of ``lead`` stored as record ``rid``, as
        ``keys.write_parts`` takes them: the next lead finds it by them once it is linked."""
        if self._last is not None and self._last[0] is lead:
            _, query, qkeys = self._last
        else:
            query = prepare(canonical_frame([("leads", rid, lead, None)]))
            qkeys = few_record_keys(query)
        terms = record_terms(query)
        return [
            ("key", _with_rid(qkeys, rid).sort_by("key")),
            ("term", _with_rid(terms, rid)),
        ]

    def answer(self, lead: dict[str, Any], d: Decision) -> dict[str, Any]:
        """A ``decide_record`` decision in DESIGN.md's POST /api/leads shape."""
        evidence = d["evidence"]
        return {
            "lead_id": lead.get("lead_id"),
            "person_key": d["person_key"] if d["decision"] == "link" else None,
            "decision": d["decision"],
            "band": d["band"],
            "rule": d["rule"],
            "score": d["score"],
            "reason": d["reason"],
            "candidates": json.loads(d["candidates"] or "[]"),
            "evidence": json.loads(evidence or "{}") if isinstance(evidence, str) else evidence,
            "model_id": self.model_id,
        }


def _with_rid(table: pa.Table, rid: int) -> pa.Table:
    at = table.schema.get_field_index("rid")
    return table.set_column(at, "rid", pa.array([rid] * table.num_rows, pa.int64()))


def key_unkeyed(engine: Engine, *, page: int = KEY_PAGE) -> int:
    """Store the keys and terms of every linked identity record that has none, a page per
    transaction (keyset on id); return how many were keyed. A record whose content changed
    while its page was normalised is left for the next pass (its keys would be the old
    content's). Two processes keying at once collide on the keys' primary key: the loser's
    page is rolled back and read again, now without what the other keyed."""
    keyed, after, tries = 0, 0, 0
    while True:
        with transaction(engine) as session:
            rows = keys.unkeyed_linked(session, IDENTITY_SOURCES, after=after, limit=page)
        if not rows:
            return keyed
        _, found, terms = prepare_page([(source, rid, data) for rid, source, data, _ in rows])
        hashes = pa.table({"rid": pa.array([r[0] for r in rows], pa.int64()),
                           "content_hash": pa.array([r[3] for r in rows], pa.string())})
        try:
            with transaction(engine) as session:
                stale = pa.array(keys.changed(session, hashes), pa.int64())
                fresh_keys = found.filter(pc.invert(pc.is_in(found["rid"], stale)))
                fresh_terms = terms.filter(pc.invert(pc.is_in(terms["rid"], stale)))
                keyed += keys.write_parts(session, [("key", fresh_keys.sort_by("key")),
                                                    ("term", fresh_terms)])  # fmt: skip
        except IntegrityError:
            tries += 1
            if tries >= KEY_TRIES:
                raise
            continue
        tries = 0
        after = rows[-1][0]
