"""The online path: one new lead decided against the registry in milliseconds, no batch rerun.

``OnlineMatcher`` loads the registry (every linked record, normalised) and the stored model
once, indexes the registry's blocking keys in memory (``matching.index``), compiles the model
to one DuckDB query (``matching.compiled``), and then decides one lead at a time with the
decision `match` makes (``matching.single``, tested equal to the batch engine): rules first,
the model for what they leave open, the same bands, margin and guard. It reads nothing per
lead. The blocking indexes live in the matcher's memory, not in database tables: looking up a
dozen keys in hash maps takes microseconds, a database round trip per key would not. A process that
serves leads (the API) keeps one matcher and calls ``refresh`` after writes that change the
registry; ``decide`` itself never writes.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine

from leadlink.matching import RULES, Bands, prepare
from leadlink.matching.compiled import CompiledModel
from leadlink.matching.decision import Decision
from leadlink.matching.index import BlockIndex
from leadlink.matching.single import resolve_one
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.model import current as current_model
from leadlink.pipeline.resolution.resolve import load_registry
from leadlink.settings import Settings

# The record id a lead that is not in the store yet is decided under.
NEW_LEAD_RID = -1


class OnlineMatcher:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.bands = Bands(settings.accept_threshold, settings.review_threshold, settings.margin)
        self._last: tuple[dict[str, Any], pa.Table] | None = None  # the last lead decided
        self.refresh()

    def refresh(self) -> None:
        """Reload the registry and the model (after links were written, or a model trained)."""
        self.registry: pa.Table = load_registry(self.engine)
        stored = current_model(self.engine) if self.settings.probabilistic else None
        self.model_id = stored.id if stored else None
        self.model: dict[str, Any] | None = stored.settings if stored else None
        self.index = BlockIndex(self.registry)
        self.compiled = (  # reuses the index's model frame of the registry: built once
            CompiledModel(self.model, self.registry, frame=self.index.frame)
            if self.model is not None and self.registry.num_rows
            else None
        )

    def decide(self, lead: dict[str, Any]) -> dict[str, Any]:
        """``lead`` has the `leads` columns; the answer has DESIGN.md's POST /api/leads shape."""
        return self.answer(lead, self.decide_record(lead))

    def decide_record(self, lead: dict[str, Any], rid: int = NEW_LEAD_RID) -> Decision:
        """The engine's decision for ``lead`` as record ``rid``: the decision ``match`` makes
        and ``resolve.write_decisions`` persists (evidence and candidates as JSON text)."""
        query = prepare(canonical_frame([("leads", rid, lead, None)]))
        self._last = (lead, query)  # grow() after a link reuses it: same lead, same frame
        candidates, frame = self.index.candidates(query)
        compiled = self.compiled
        scorer = (lambda q, r: compiled.score(q, r, frame)) if compiled is not None else None
        return resolve_one(query, candidates, self.bands, RULES,
                           self.model if scorer else None, scorer)  # fmt: skip

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

    def grow(self, lead: dict[str, Any], rid: int, person_key: str) -> None:
        """Add a lead just linked (record ``rid``) to the registry without a reload, as
        ``match`` grows its registry between sources. Term frequencies stay those of the load:
        one record moves them by 1/N."""
        if self._last is not None and self._last[0] is lead:
            query = self._last[1]
        else:
            query = prepare(canonical_frame([("leads", rid, lead, None)]))
        for name, value in (("rid", rid), ("person_key", person_key)):
            at = query.schema.get_field_index(name)
            query = query.set_column(at, name, pa.array([value], query.schema.field(at).type))
        self.index.add(query)
        self.registry = self.index.registry
