"""After a retrain, `match --rematch` lets the new model settle the open review items it now
decides (docs/review.md "Settled by the model").

A rematch re-decides every unmatched record, the review band's included. For a record with
open items, the new verdict says, pair by pair:

- the model links the record to the item's person (rule ``model``: the match band, with the
  guard holding): the item is **accepted** by the model; the link is the model's own, written
  with the chunk;
- the record falls under the review band (band ``reject``): its open items are **rejected**
  by the model: nothing proposes those pairs any more;
- anything else (still in the review band, linked by a rule, an error) changes nothing here
  (queue_decisions supersedes what no longer applies, as always).

The items keep ``decided_by = "model:<id>"``, and each decision has its audit_log row (actor
the model) in the chunk's transaction. They are never the model's labels (store/review.py
``by_a_person``), and a person can undo them: ``review reject`` on an item the model
accepted takes the link back, ``review accept`` on one it rejected links the pair.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from leadlink.matching import Reason
from leadlink.matching.decision import Decision
from leadlink.store import audit, review_model
from leadlink.store.review import MODEL_ACTOR_PREFIX

LINKED = ("link", "found")


def model_actor(model_id: int) -> str:
    return f"{MODEL_ACTOR_PREFIX}{model_id}"


def settle(
    session: Session, decided: Sequence[Decision], *, actor: str, now: dt.datetime
) -> dict[str, int]:
    """Settle the open items of this chunk's records that the verdicts decide (module doc),
    in the caller's transaction; returns how many were accepted and rejected."""
    links = {(d["rid"], d["person_key"]) for d in decided
             if d["decision"] == "link" and d["rule"] == "model"}  # fmt: skip
    below = {d["rid"] for d in decided
             if d["decision"] not in LINKED and d.get("band") == "reject"
             and d.get("reason") != Reason.ERROR.value}  # fmt: skip
    items = review_model.open_items_of(session, {rid for rid, _ in links} | below)
    accepted = [i for i in items if (i[1], i[2]) in links]
    rejected = [i for i in items if i[1] in below]
    done = {"accepted": 0, "rejected": 0}
    for status, chosen, action, note in (
        ("accepted", accepted, "review_accept", "the retrained model links this pair"),
        ("rejected", rejected, "review_reject", "the retrained model scores it under review"),
    ):
        if not chosen:
            continue
        done[status] = review_model.settle(session, [i[0] for i in chosen], status=status,
                                           actor=actor, note=note, now=now)  # fmt: skip
        audit.record_many(session, [
            {"actor": actor, "action": action, "target": f"review_item:{item_id}",
             "detail": {"record_id": rid, "person_key": key, "rule": rule, "score": score,
                        "by_model": True, "note": note}}
            for item_id, rid, key, rule, score in chosen
        ], now=now)  # fmt: skip
    return done
