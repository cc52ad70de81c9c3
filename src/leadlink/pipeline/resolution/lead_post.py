"""POST /api/leads: one lead ingested and decided at once through the online path.

The lead is validated exactly as a row of a `leads` CSV (``readers.validate``: required
values, dates in any accepted format rewritten to ISO, key length), stored as a `leads`
record with the content hash ingest gives it, decided by ``OnlineMatcher`` (the decision
`match` makes, tested equal), and written by ``persist.write_decisions`` (link + origin, or
unmatched + review items) with a ``lead_post`` audit row naming the token: all in one
transaction, so a lead is never stored without its decision.

One ``LeadPoster`` per process (the app keeps it): the matcher is loaded on the first post,
not at start, and is not thread-safe, so posts are decided one at a time under a lock. The
matcher holds no registry: each lead's candidates are looked up in the store's key tables
(``online``), so links written by anyone (match, recover, a review accept, another server
process) are seen by the next post with nothing to reload. Before each post one cheap
statement reads the newest model id: when a model was trained since, the matcher reloads the
model and the term frequencies (milliseconds to seconds, never the registry). Each load first
keys the linked records that have no keys (``online.key_unkeyed``), so none is invisible.
The post stores the lead's blocking keys and model terms with its record, in its transaction:
the next lead (in this process or another) finds it once it is linked.

The lead's record is inserted without a look first (the common case is a new lead); the
unique key refuses an existing lead id, and that rolled-back post then reads what is stored.
A lead id that exists already: the same body again (same content hash) answers the stored
decision with ``created: false`` (a client may retry a post whose answer it lost); a
different body, or a lead `match` has not decided yet, is refused (``LeadExists``, 409).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadlink.errors import BadInputError, UsageError
from leadlink.matching import normalise
from leadlink.pipeline import summaries
from leadlink.pipeline.ingest.files import content_hash
from leadlink.pipeline.ingest.readers import MAX_FIELD_CHARS, RawTable, ValidRow, validate
from leadlink.pipeline.resolution.online import OnlineMatcher, key_unkeyed
from leadlink.pipeline.resolution.persist import write_decisions
from leadlink.settings import Settings
from leadlink.sources import SOURCES
from leadlink.store import audit, keys, queries
from leadlink.store import lead_post as lead_post_store
from leadlink.store.db import transaction
from leadlink.store.models import SourceRecord

SOURCE = "leads"
SPEC = SOURCES[SOURCE]
BODY = "request body"  # what a validation error names instead of a file
log = logging.getLogger(__name__)


class LeadExists(UsageError):
    """The lead id is taken by a different lead, or by one `match` has not decided yet."""


def validate_lead(fields: Mapping[str, Any]) -> ValidRow:
    """The body as a `leads` CSV row: every column (absent ones empty, extra ones kept),
    values stripped, then the CSV validation. A problem is a BadInputError naming the field."""
    values: dict[str, str] = dict.fromkeys(SPEC.columns, "")
    for name, value in fields.items():
        values[name] = _text(name, value)
    table = RawTable(file=BODY, columns=tuple(values), rows=[(1, list(values.values()))])
    try:
        (row,) = validate(table, SPEC)
    except BadInputError as exc:  # a body has fields, not lines
        raise BadInputError(BODY, exc.detail, column=exc.column) from None
    return row


def plausible(row: ValidRow, now: dt.datetime) -> None:
    """What a post must be beyond a file's row: a lead that came in (not dated after
    tomorrow: a day of slack for the client's time zone) and, if it has a phone, one the
    matcher can read (a file's unreadable phone is only a missing one; a client can fix it)."""
    latest = now.date() + dt.timedelta(days=1)
    if row.event_date is not None and row.event_date > latest:
        raise BadInputError(BODY, f"{row.event_date} is in the future (today is {now.date()})",
                            column="created_at")  # fmt: skip
    given = row.data.get("phone", "")
    if given and normalise.phone(given) is None:
        raise BadInputError(BODY, f"{given!r} is not a phone number (e.g. 987654321 or "
                            "+51 987 654 321)", column="phone")  # fmt: skip


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadInputError(BODY, f"must be text, not {type(value).__name__}", column=name)
    text = str(value).strip()
    if "\x00" in text:
        raise BadInputError(BODY, "contains a NUL character", column=name)
    if len(text) > MAX_FIELD_CHARS:
        raise BadInputError(BODY, f"longer than {MAX_FIELD_CHARS} characters", column=name)
    return text


@dataclass
class Posted:
    """The answer: ``decision`` in DESIGN.md's POST /api/leads shape; ``created`` False when
    it is the stored decision of an identical earlier post."""

    created: bool
    decision: dict[str, Any]


class LeadPoster:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._matcher: OnlineMatcher | None = None
        self._model_seen: int | None = None  # the newest model id when the matcher loaded
        # How many times the matcher (model, term frequencies) was loaded, the last load's
        # time, and the linked records it found without keys and keyed (all loads).
        self.loads = 0
        self.last_load_s: float | None = None
        self.keyed_at_load = 0

    def post(self, fields: Mapping[str, Any], *, actor: str, now: dt.datetime) -> Posted:
        row = validate_lead(fields)
        plausible(row, now)
        digest = content_hash(row.data)
        with self._lock:
            matcher = self._fresh_matcher()
            d = matcher.decide_record(row.data)
            try:
                with transaction(self.engine) as session:
                    # The record's unique key refuses a lead id that exists: see below.
                    rid = lead_post_store.insert_record(
                        session, source=SOURCE, source_pk=row.source_pk, data=row.data,
                        content_hash=digest, event_date=row.event_date, now=now,
                    )  # fmt: skip
                    d["rid"] = rid
                    keys.write_parts(session, matcher.key_parts(row.data, rid))
                    linked = write_decisions(session, [d], run_id=None, now=now,
                                             window_days=self.settings.claim_window_days)
                    answer = matcher.answer(row.data, d)
                    items = _open_items(session, rid) if d["band"] == "review" else []
                    answer.update(record_id=rid, review_items=items)
                    summaries.touch(session, self.settings, now, leads={rid},
                                    persons=_persons_of(d, linked.get(rid)))  # fmt: skip
                    audit.record(session, actor=actor, action="lead_post",
                                 target=f"{SOURCE}/{row.source_pk}",
                                 detail={k: answer[k] for k in AUDITED}, now=now)  # fmt: skip
            except IntegrityError:  # rolled back: nothing was written
                with transaction(self.engine) as session:
                    existing = queries.record(session, SOURCE, row.source_pk)
                    if existing is None:  # not the lead's key: a real failure
                        raise
                    return Posted(False, _stored(session, existing, digest))
        return Posted(True, answer)

    def _fresh_matcher(self) -> OnlineMatcher:
        """The loaded matcher, its model and term frequencies reloaded when a newer model
        was trained (links need nothing: candidates are read from the store per lead)."""
        with transaction(self.engine) as session:
            newest = lead_post_store.newest_model(session)
        matcher = self._matcher
        # The newest id seen, not the matcher's model: a newest model of an older format is
        # not applied (``model.current``), and must not reload at every post.
        if matcher is not None and newest == self._model_seen:
            return matcher
        if matcher is not None and not self.settings.probabilistic:
            return matcher  # the rules alone decide: a new model changes nothing
        self._model_seen = newest  # read before loading: a model trained meanwhile reloads
        began = time.perf_counter()
        keyed = key_unkeyed(self.engine)
        if matcher is None:
            matcher = self._matcher = OnlineMatcher(self.engine, self.settings)
        else:
            matcher.refresh()
        self.loads += 1
        self.keyed_at_load += keyed
        self.last_load_s = round(time.perf_counter() - began, 3)
        if keyed:
            log.warning("online matcher: %d linked records had no blocking keys; keyed now",
                        keyed)  # fmt: skip
        log.info("online matcher loaded in %.3f s (load %d)", self.last_load_s, self.loads)
        return matcher


AUDITED = ("record_id", "decision", "person_key", "band", "rule", "score", "reason",
           "review_items", "model_id")  # fmt: skip


def _persons_of(d: Mapping[str, Any], linked: str | None) -> set[str]:
    """The persons a posted lead's decision involves: the one it was linked to and those it
    was scored against (their unlinked-activity rows may now name it as a candidate)."""
    found = {linked} if linked else set()
    for c in json.loads(d.get("candidates") or "[]"):
        if isinstance(c, dict) and c.get("person_key"):
            found.add(str(c["person_key"]))
    return found


def _open_items(session: Session, record_id: int) -> list[int]:
    return [i["id"] for i in queries.review_items(session, record_id) if i["status"] == "open"]


def _stored(session: Session, record: SourceRecord, digest: str) -> dict[str, Any]:
    """The current decision of an existing lead, if the post repeats it exactly."""
    pk = record.source_pk
    if record.content_hash != digest:
        raise LeadExists(f"lead {pk!r} exists with different data: a post does not update a "
                         "lead (ingest a file to update it)")  # fmt: skip
    link = queries.active_link(session, record.id)
    unmatched = queries.unmatched(session, record.id)
    if link is None and unmatched is None:
        raise LeadExists(f"lead {pk!r} exists and is waiting for `leadlink match` to decide it")
    answer: dict[str, Any] = {"lead_id": pk, "record_id": record.id}
    if link is not None:
        evidence = dict(link.evidence)
        answer.update(person_key=link.person_key, decision="link", band="accept",
                      rule=link.rule, score=link.score, reason=None,
                      candidates=evidence.pop("candidates", []), evidence=evidence)  # fmt: skip
    else:
        assert unmatched is not None
        best = unmatched.candidates[0] if unmatched.candidates else {}
        answer.update(person_key=None, decision="unmatched", band=unmatched.band,
                      rule=best.get("rule"), score=best.get("score"), reason=unmatched.reason,
                      candidates=unmatched.candidates, evidence={})  # fmt: skip
    answer.update(review_items=_open_items(session, record.id))
    return answer
