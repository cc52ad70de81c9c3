"""Which person a key names: through the retired chain to the live person, from the start of
a key (lists print keys cut to 8 characters), and the keys retired into a person.

Merges (store.merges) retire a person into another; every reader that takes a key from a
person resolves it here, one query per hop for all keys together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadlink.errors import LeadlinkError, NotFoundError, UsageError
from leadlink.store.models import Person

# Bound on the length of a retired chain; merges compress chains, so real ones are 1 hop.
MAX_HOPS = 64
IN_CHUNK = 500


class RetiredChainError(LeadlinkError):
    """A retired_into chain loops or ends nowhere: `leadlink check persons` names it."""


def live_keys(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """key -> the live person it resolves to (itself if live); unknown keys are left out.

    One query per hop for all keys together, never one query per key.
    """
    wanted = sorted(set(keys))
    current = {k: k for k in wanted}
    unresolved = set(wanted)
    known: set[str] = set()
    for _ in range(MAX_HOPS):
        if not unresolved:
            return {k: v for k, v in current.items() if k in known}
        step = _retired_into(session, {current[k] for k in unresolved})
        known.update(k for k in unresolved if current[k] in step)
        still: set[str] = set()
        for k in unresolved:
            nxt = step.get(current[k])
            if nxt is not None:
                current[k] = nxt
                still.add(k)
        unresolved = still
    raise RetiredChainError(f"retired chain longer than {MAX_HOPS} hops (a cycle?) from "
                            f"{', '.join(sorted(unresolved)[:5])}")  # fmt: skip


def live_key(session: Session, key: str) -> str:
    found = live_keys(session, [key])
    if key not in found:
        raise NotFoundError("no person {key}", code="person_unknown", key=key)
    return found[key]


# The shortest start of a key that is taken for the key: lists print keys cut to 8 characters.
MIN_PREFIX = 8
_KEY_START = re.compile(r"[0-9a-f-]+")


def full_key(session: Session, key: str) -> str:
    """The person key that ``key`` is, or the one key it is the start of (at least 8
    characters, like a short git hash); an ambiguous start is a UsageError naming the keys."""
    key = key.strip().lower()
    if session.get(Person, key) is not None:
        return key
    if len(key) < MIN_PREFIX or not _KEY_START.fullmatch(key):
        raise NotFoundError("no person {key}", code="person_unknown", key=key)
    query = (select(Person.person_key).where(Person.person_key.startswith(key, autoescape=True))
             .order_by(Person.person_key).limit(3))  # fmt: skip
    found = list(session.scalars(query))
    if not found:
        raise NotFoundError("no person key starts with {key}", code="person_prefix_unknown",
                            key=key)
    if len(found) > 1:
        more = ", ".join(found[:2]) + (", …" if len(found) > 2 else "")
        raise UsageError("{key} is the start of more than one person key ({more}): "
                         "give more characters", code="person_prefix_ambiguous", key=key,
                         more=more)  # fmt: skip
    return found[0]


def _retired_into(session: Session, keys: set[str]) -> dict[str, str | None]:
    """key -> retired_into for the persons that exist."""
    out: dict[str, str | None] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), IN_CHUNK):
        part = ordered[start : start + IN_CHUNK]
        rows = session.execute(
            select(Person.person_key, Person.retired_into).where(Person.person_key.in_(part))
        )
        out.update({r[0]: r[1] for r in rows})
    return out


def retired_into_person(session: Session, key: str) -> list[str]:
    """Every key retired (directly or through a chain) into this person, sorted."""
    found: set[str] = set()
    frontier = {key}
    for _ in range(MAX_HOPS):
        rows = session.scalars(
            select(Person.person_key).where(Person.retired_into.in_(sorted(frontier)))
        )
        frontier = set(rows) - found - {key}
        if not frontier:
            break
        found |= frontier
    return sorted(found)


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    return set(_retired_into(session, set(keys)))
