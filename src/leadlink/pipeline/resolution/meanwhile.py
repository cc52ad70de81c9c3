"""Records linked by something else while `match` decided them.

`match` reads a source's pending records, decides them all, then writes. Meanwhile an online
path may link one of them: a lead posted to the API, a review accept. Writing `match`'s
decision on top would break the one-active-link index (an IntegrityError used to end the run
with a traceback), or leave the record linked and unmatched at once. So each write chunk is
rechecked in its own transaction: decisions of records that have an active link now are
dropped (the other path's link stands; the record is no longer pending), like keys of records
whose content changed while staged are (streaming.Streamer._store_fresh_keys).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from leadlink.matching.decision import Decision
from leadlink.store import resolution


def drop_linked(session: Session, part: Sequence[Decision]) -> tuple[list[Decision], list[int]]:
    """(the decisions still to write, ids of the records linked meanwhile).

    A driver that founds a person and was linked meanwhile founds nothing, so the records its
    decisions linked to that new person are held back too (they stay pending, the next run
    decides them against the registry as it is then)."""
    linked = {row[0] for row in resolution.linked_records(session, [d["rid"] for d in part])}
    if not linked:
        return list(part), []
    unfounded = {d["person_key"] for d in part if d["rid"] in linked and d["decision"] == "found"}

    def keep(d: Decision) -> bool:
        if d["rid"] in linked:
            return False
        return d["decision"] not in ("link", "found") or d["person_key"] not in unfounded

    return [d for d in part if keep(d)], sorted(linked)
