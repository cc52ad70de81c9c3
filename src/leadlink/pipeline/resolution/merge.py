"""Merges: when new evidence shows two persons are one, one key survives the other.

Where the evidence comes from: a new `drivers` record whose document agrees with two known
persons is decided MULTIPLE_CANDIDATES by the engine, both candidates by `document_exact`.
A DNI/licence number names one human, so those persons are one (``merges_from_decisions``).
``apply`` merges such pairs in the caller's transaction (``match`` wires it in), and
``redirect`` turns that driver's decision into a plain link to the survivor. Operators merge by
hand with ``merge_persons`` (`leadlink persons merge`: the key they keep survives, a dry run
shows what would move and what conflicts) and undo a merge with ``unmerge_persons``. The SQL
lives in ``store.merges`` and ``store.unmerge``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink.errors import NotFoundError, UsageError
from leadlink.matching import Reason, normalise
from leadlink.matching.decision import Decision
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult
from leadlink.settings import Settings
from leadlink.store import jobs, merges, person_keys, persons, unmerge
from leadlink.store.db import rehearsal, transaction

# The one rule whose agreement on two persons proves they are one human.
MERGE_RULE = "document_exact"


def merges_from_decisions(decided: Iterable[Decision]) -> list[tuple[str, str]]:
    """Pairs of person keys that a MULTIPLE_CANDIDATES decision shows to be one person.

    Pure. Pass the decisions of the `drivers` source: the record's document agrees with its
    best two candidates (both `document_exact`); a third document candidate joins them too.
    Pairs are (first candidate, other), deduplicated, in a stable order.
    """
    pairs: set[tuple[str, str]] = set()
    for d in decided:
        if d.get("reason") != Reason.MULTIPLE_CANDIDATES.value:
            continue
        keys = _document_candidates(d)
        if len(keys) >= 2:
            pairs.update((keys[0], other) for other in keys[1:])
    return sorted(pairs)


def _document_candidates(decision: Decision) -> list[str]:
    """Person keys of the leading run of document_exact candidates (best first)."""
    raw = decision.get("candidates") or "[]"
    candidates = json.loads(raw) if isinstance(raw, str) else list(raw)
    keys: list[str] = []
    for c in candidates:
        if c.get("rule") != MERGE_RULE or not c.get("person_key"):
            break
        if c["person_key"] not in keys:
            keys.append(c["person_key"])
    return keys


def apply(
    session: Session,
    pairs: Sequence[tuple[str, str]],
    *,
    run_id: int | None,
    now: dt.datetime,
    actor: str = "match",
    reason: str = "a driver's document agrees with both persons",
) -> dict[str, str]:
    """Merge each pair in the caller's transaction; return retired key -> survivor.

    Each pair is resolved to its live ends first (a key merged earlier, even in this same
    call, stands for its survivor) and the older of the two survives. Pairs already one
    person change nothing, so applying the same pairs twice is a no-op.
    """
    retired: dict[str, str] = {}
    for a, b in pairs:
        live = person_keys.live_keys(session, [a, b])
        if a not in live or b not in live or live[a] == live[b]:
            continue
        rows = merges.persons(session, [live[a], live[b]])
        keep, gone = merges.older_first(rows[live[a]], rows[live[b]])
        merges.merge(session, keep.person_key, gone.person_key, run_id=run_id, now=now,
                     actor=actor, reason=reason)  # fmt: skip
        retired[gone.person_key] = keep.person_key
    # A key retired early in the loop may have been retired again later: point to the end.
    return person_keys.live_keys(session, retired) if retired else {}


def redirect(
    decided: Sequence[Decision], retired: dict[str, str], *, margin: float
) -> list[Decision]:
    """Decisions rewritten for persons merged meanwhile (pure).

    A link to a retired key links to its survivor instead. A MULTIPLE_CANDIDATES decision
    whose document candidates are now one person becomes a `document_exact` link to it,
    unless another person still scores within the margin (then it stays ambiguous).
    """
    if not retired:
        return list(decided)
    out = []
    for d in decided:
        key = d.get("person_key")
        if d.get("decision") in ("link", "found") and key is not None and key in retired:
            d = {**d, "person_key": retired[key]}
        elif d.get("reason") == Reason.MULTIPLE_CANDIDATES.value:
            d = _settled(d, retired, margin) or d
        out.append(d)
    return out


def _settled(d: Decision, retired: dict[str, str], margin: float) -> Decision | None:
    raw = d.get("candidates") or "[]"
    candidates = json.loads(raw) if isinstance(raw, str) else list(raw)
    if not candidates or candidates[0].get("rule") != MERGE_RULE:
        return None
    best = candidates[0]
    key = retired.get(best["person_key"], best["person_key"])
    others = [c for c in candidates[1:] if retired.get(c["person_key"], c["person_key"]) != key]
    if others and float(best["score"]) - float(others[0]["score"]) < margin:
        return None
    evidence = {"rule": MERGE_RULE, "score": best["score"], "candidate": best.get("cid"),
                "merged": sorted(k for k in retired if retired[k] == key),
                "candidates": candidates}  # fmt: skip
    return {**d, "decision": "link", "person_key": key, "rule": MERGE_RULE,
            "score": float(best["score"]), "confidence": "high", "reason": None,
            "band": "accept", "cid": best.get("cid"), "evidence": json.dumps(evidence)}  # fmt: skip


def merge_persons(
    engine: Engine,
    keep: str,
    retire: str,
    *,
    now: dt.datetime,
    actor: str,
    reason: str,
    dry_run: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Merge two persons by hand (`leadlink persons merge`): ``keep`` survives, as asked.

    Keys may be given by their start (8 characters or more); retired keys stand for their
    survivors. Two persons whose records carry different
    identity numbers (DNI, licence) look like two people: the merge is refused unless
    ``force``, and the conflicts are in the answer either way. ``dry_run`` does the whole merge
    in a transaction that is rolled back, and answers what it would have done. A pair that is
    already one person changes nothing and starts no job run; a real merge is a job run
    (kind `merge`) and is undone with ``unmerge_persons``.
    """
    with transaction(engine) as session:
        # A key or its start (8 characters or more, as lists print keys).
        keep, retire = person_keys.full_key(session, keep), person_keys.full_key(session, retire)
        if keep == retire:
            raise UsageError("cannot merge person {key} into itself", code="merge_into_itself",
                             key=keep)
        live = person_keys.live_keys(session, [keep, retire])
        for key in (keep, retire):
            if key not in live:
                raise NotFoundError("no person {key}", code="person_unknown", key=key)
        conflicts = merge_conflicts(persons.identity_values(session, [live[keep], live[retire]]),
                                    live[keep], live[retire])  # fmt: skip
    requested = {"keep": keep, "retire": retire, "keep_live": live[keep],
                 "retire_live": live[retire]}  # fmt: skip
    base = {"requested": requested, "conflicts": conflicts, "dry_run": dry_run}
    if live[keep] == live[retire]:
        return {**base, "status": "already_merged", "survivor": live[keep], "retired": None,
                "run_id": None}  # fmt: skip
    blocking = [c for c in conflicts if c["blocks"]]
    if blocking and not (force or dry_run):
        # Only identity numbers block (merge_conflicts): the message names them as such.
        ids = next(c for c in blocking if c["field"] == "identity_number")
        raise UsageError("{keep} and {retire} look like two people (identity numbers "
                         "{keep_ids} / {retire_ids}): see `persons merge --dry-run`, or merge "
                         "anyway with --force", code="merge_two_people", keep=live[keep],
                         retire=live[retire], keep_ids=", ".join(ids["keep"]),
                         retire_ids=", ".join(ids["retire"]))  # fmt: skip
    if dry_run:
        with rehearsal(engine) as session:
            result = merges.merge(session, live[keep], live[retire], run_id=None, now=now,
                                  actor=actor, reason=reason)  # fmt: skip
        return {**base, **result, "status": "would_merge", "audit_id": None, "run_id": None}
    with jobs.recorded(engine, "merge", now) as run:
        with transaction(engine) as session:
            result = merges.merge(session, live[keep], live[retire], run_id=run.id, now=now,
                                  actor=actor, reason=f"{reason} (forced)" if blocking else reason)
            summaries.invalidate(session)
        run.counts = lambda: _counts(result)
    return {**base, **result, "forced": bool(blocking), "run_id": run.id}


def merge_conflicts(
    values: Sequence[tuple[str, str, str, str]], keep: str, retire: str
) -> list[dict[str, Any]]:
    """What says two persons are different people, from ``persons.identity_values``: identity
    numbers (a DNI, a licence's DNI) that both carry and none in common block the merge;
    family names with none in common are a warning (names change, and carry typos)."""
    ids: dict[str, set[str]] = {keep: set(), retire: set()}
    families: dict[str, set[str]] = {keep: set(), retire: set()}
    for person, source, field, raw in values:
        if (source, field) in persons.IDENTITY_FIELDS:
            number = normalise.id_key(raw)
            if number:
                ids[person].add(number)
        else:
            tokens = normalise.name_tokens(raw)
            # A full name (scouting, migrations) is "FAMILY1 FAMILY2 GIVEN…"; a last name
            # column holds the family names only: either way the family names come first.
            families[person].update(tokens[:2])
    out = []
    for field, found, blocks in (("identity_number", ids, True), ("family_name", families, False)):
        if found[keep] and found[retire] and not found[keep] & found[retire]:
            out.append({"field": field, "keep": sorted(found[keep]),
                        "retire": sorted(found[retire]), "blocks": blocks})  # fmt: skip
    return out


def unmerge_persons(
    engine: Engine, retired: str, *, now: dt.datetime, actor: str, reason: str,
    dry_run: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Undo the merge of ``retired`` (`leadlink persons unmerge`): the key is live again with
    the links, origins, review items, claims, payments and quarantine rows the merge moved
    (those changed since keep their present state). A job run of kind `unmerge`; claims are
    recomputed by the next `leadlink claims`."""
    with transaction(engine) as session:
        key = person_keys.full_key(session, retired)
        unmerge.undoable(session, key)  # a refusal starts no job run
    if dry_run:
        with rehearsal(engine) as session:
            result = unmerge.unmerge(session, key, run_id=None, now=now, actor=actor,
                                     reason=reason)  # fmt: skip
        return {**result, "status": "would_unmerge", "audit_id": None, "run_id": None,
                "dry_run": True}  # fmt: skip
    with jobs.recorded(engine, "unmerge", now) as run:
        with transaction(engine) as session:
            result = unmerge.unmerge(session, key, run_id=run.id, now=now, actor=actor,
                                     reason=reason)  # fmt: skip
            summaries.invalidate(session)
        run.counts = lambda: _counts(result)
    return {**result, "run_id": run.id, "dry_run": False}


def _counts(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if isinstance(v, int)}


def show_person(engine: Engine, key: str) -> dict[str, Any]:
    """A person with every record, link (active or not), origin and retired key. ``key`` may
    be the start of one key (8 characters or more: what lists print)."""
    with transaction(engine) as session:
        key = person_keys.full_key(session, key)
        live = person_keys.live_key(session, key)
        person = merges.persons(session, [live])[live]
        retired = person_keys.retired_into_person(session, live)
        keys = [live, *retired]
        links = persons.person_links(session, keys)
        origins = persons.person_origins(session, keys)
    records = [
        {k: link[k] for k in ("source", "source_pk", "rule", "score", "confidence", "link_id",
                              "merged_from")}
        for link in links if link["active"]
    ]  # fmt: skip
    return {
        "requested": key,
        "person_key": live,
        "was_retired": key != live,
        "created_at": person.created_at.isoformat(),
        "retired_keys": retired,
        "records": sorted(records, key=lambda r: (r["source"], r["source_pk"])),
        "links": links,
        "origins": origins,
    }


def check_persons(engine: Engine, _: Settings) -> CheckResult:
    """No row in force points at a retired key; retired chains end in a live person."""

    with transaction(engine) as session:
        parts = persons.pointers_to_retired(session)
        edges = persons.retired_edges(session)
        exist = person_keys.existing_keys(session, edges.values())
    bad_chains = chain_problems(edges, exist)
    total = sum(n for n, _ in parts) + len(bad_chains)
    examples = ([e for _, ex in parts for e in ex] + bad_chains)[: merges.LIMIT]
    detail = f"{len(edges)} retired keys resolve to live persons; nothing in force names them"
    return CheckResult("persons", total == 0, detail, total, examples)


def chain_problems(edges: dict[str, str], existing: set[str]) -> list[str]:
    """Retired chains that loop or end in a missing person (pure; edges: retired -> into)."""
    problems: list[str] = []
    for start in sorted(edges):
        seen = {start}
        key = edges[start]
        while key in edges:
            if key in seen:
                problems.append(f"retired chain from {start} loops back to {key}")
                break
            seen.add(key)
            key = edges[key]
        else:
            if key not in existing:
                problems.append(f"retired chain from {start} ends in missing person {key}")
    return problems
