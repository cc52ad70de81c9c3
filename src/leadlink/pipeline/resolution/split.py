"""Splitting a person (`leadlink persons split`): records linked to one person that belong to
another human leave it, with what hangs on them, for a new person.

The operator names the records (``SOURCE:PK``); each must be actively linked to the person and
at least one record must stay (moving every record is not a split). The new person's key is
made as a founding record makes one (``founding.person_key_for`` of the first moved record),
unless that key is taken (the record founded a person that was merged away): then it is
derived from the split itself. ``dry_run`` does the whole split in a transaction that is
rolled back and answers its counts; a real split is a job run (kind ``split``) audited with a
journal of every row moved (``store.splits``). Undo: `leadlink persons merge KEY NEW`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import Phrase, Phrases, UsageError
from leadlink.pipeline import summaries
from leadlink.pipeline.resolution.founding import PERSON_NAMESPACE, person_key_for
from leadlink.store import jobs, person_keys, splits
from leadlink.store.db import rehearsal, transaction

MAX_KEY_TRIES = 100


def parse_record(spec: str) -> tuple[str, str]:
    """``SOURCE:PK`` -> (source, pk); the key may itself hold colons (only the first splits)."""
    source, sep, pk = spec.strip().partition(":")
    if not sep or not source.strip() or not pk.strip():
        raise UsageError("a record is SOURCE:PK (e.g. drivers:D1), not {spec!r}",
                         code="record_spec_bad", spec=spec)
    return source.strip(), pk.strip()


def split_person(
    engine: Engine,
    key: str,
    records: Sequence[str],
    *,
    now: dt.datetime,
    actor: str,
    reason: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Move ``records`` (``SOURCE:PK``) of the person ``key`` (or the start of its key, or a
    key retired into it) to a new person; return the counts. Refusals (no record, a record not
    actively linked to the person, every record) are UsageErrors and write nothing."""
    wanted = list(dict.fromkeys(parse_record(r) for r in records))
    if not wanted:
        raise UsageError("name the records to split off: --record SOURCE:PK (one or more)",
                         code="split_no_records")
    with transaction(engine) as session:
        requested = person_keys.full_key(session, key)
        live = person_keys.live_key(session, requested)
        moving = _moving(session, live, wanted)
        new_key = _new_key(session, live, moving)
    base = {"requested": requested, "dry_run": dry_run}
    if dry_run:
        with rehearsal(engine) as session:
            result = splits.split(session, live, new_key, moving, run_id=None, now=now,
                                  actor=actor, reason=reason)  # fmt: skip
        return {**base, **result, "status": "would_split", "audit_id": None, "run_id": None}
    with jobs.recorded(engine, splits.SPLIT, now) as run:
        with transaction(engine) as session:
            result = splits.split(session, live, new_key, moving, run_id=run.id, now=now,
                                  actor=actor, reason=reason)  # fmt: skip
            summaries.invalidate(session)  # the money views count per person: computed anew
        run.counts = lambda: {k: v for k, v in result.items() if isinstance(v, int)}
    return {**base, **result, "run_id": run.id}


def _moving(session: Session, live: str, wanted: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The person's active records named by ``wanted``, or a UsageError naming the first one
    that is not actively linked to it (and to whom it is, if anyone)."""
    active = splits.active_records(session, live)
    by_pk = {(r["source"], r["source_pk"]): r for r in active}
    missing = [w for w in wanted if w not in by_pk]
    if missing:
        found = splits.linked_elsewhere(session, missing)
        said = []
        for source, pk in missing:
            record = f"{source}:{pk}"
            if (source, pk) not in found:
                said.append(Phrase("{record} (no such record)", code="split_record_unknown",
                                   record=record))  # fmt: skip
            elif found[(source, pk)] is None:
                said.append(Phrase("{record} (not linked to anyone)",
                                   code="split_record_unlinked", record=record))  # fmt: skip
            else:
                said.append(Phrase("{record} (linked to person {other})",
                                   code="split_record_elsewhere", record=record,
                                   other=found[(source, pk)]))  # fmt: skip
        raise UsageError("not an active record of person {key}: {said}",
                         code="split_not_active", key=live, said=Phrases(said))
    if len(wanted) == len(active):
        raise UsageError("{n} of {n} records of person {key} named: a split leaves at least "
                         "one record with the person", code="split_all", n=len(active),
                         key=live)  # fmt: skip
    return [by_pk[w] for w in wanted]


def _new_key(session: Session, live: str, moving: list[dict[str, Any]]) -> str:
    """The key the first moved record would found a person with, else one derived from the
    split (stable for the same split of the same person, unique among persons)."""
    first = min(moving, key=lambda r: (r["source"], r["source_pk"]))
    names = ",".join(sorted(f"{r['source']}:{r['source_pk']}" for r in moving))
    tries = [person_key_for(first["source"], first["source_pk"])] + [
        str(uuid.uuid5(PERSON_NAMESPACE, f"split:{live}:{names}:{n}")) for n in range(MAX_KEY_TRIES)
    ]
    taken = person_keys.existing_keys(session, tries)
    return next(k for k in tries if k not in taken)
