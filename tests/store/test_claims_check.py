"""`check claims` in SQL finds each kind of broken claim, with its message, and nothing on a
sound store, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.store.claims_store_world import WINDOW, build

from leadlink.pipeline.money.claim_facts import STATUSES
from leadlink.store import claims as claims_store
from leadlink.store.db import transaction


def first(claims: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return next(c for c in claims if c["status"] == status)


def day(c: dict[str, Any], days: int) -> dt.date:
    return c["lead_date"] + dt.timedelta(days=days)  # type: ignore[no-any-return]


# (case, status of the claim broken, SQL, its parameters from the claim, the message's tail;
# None: still sound). {lead}/{reached} in a message are the claim's dates after the change.
BREAKS = [
    ("unknown status", "generated", "UPDATE claim SET status = 'billed' WHERE id = :id",
     lambda c: {}, "unknown status 'billed'"),
    ("never reached", "expected", "UPDATE claim SET reached_on = NULL WHERE id = :id",
     lambda c: {}, "reached_on None outside [{lead}, +14d)"),
    ("reached before the lead", "generated", "UPDATE claim SET reached_on = :d WHERE id = :id",
     lambda c: {"d": day(c, -1)}, "reached_on {reached} outside [{lead}, +14d)"),
    ("reached the day the window closes", "expired",
     "UPDATE claim SET reached_on = :d WHERE id = :id",
     lambda c: {"d": day(c, WINDOW)}, "reached_on {reached} outside [{lead}, +14d)"),
    ("reached on the window's last day", "expired",
     "UPDATE claim SET reached_on = :d WHERE id = :id", lambda c: {"d": day(c, WINDOW - 1)}, None),
    ("reached on the lead day", "generated",
     "UPDATE claim SET reached_on = lead_date WHERE id = :id", lambda c: {}, None),
    ("paid with no payment", "paid", "UPDATE claim SET payment_id = NULL WHERE id = :id",
     lambda c: {}, "paid without a payment reconciled to it"),
    ("paid by an unreconciled payment", "paid",
     "UPDATE payment SET status = 'unreconciled' WHERE claim_id = :id",
     lambda c: {}, "paid without a payment reconciled to it"),
    ("rejected by a payment of another claim", "rejected",
     "UPDATE payment SET claim_id = (SELECT MIN(id) FROM claim) WHERE claim_id = :id",
     lambda c: {}, "rejected without a payment reconciled to it"),
    ("paid by a payment that is gone", "paid", "UPDATE claim SET payment_id = 99999 WHERE id = :id",
     lambda c: {}, "paid without a payment reconciled to it"),
    ("generated holding a payment", "generated", "UPDATE claim SET payment_id = 7 WHERE id = :id",
     lambda c: {}, "generated but holds payment 7"),
    ("expected holding a payment", "expected", "UPDATE claim SET payment_id = 3 WHERE id = :id",
     lambda c: {}, "expected but holds payment 3"),
]  # fmt: skip


def check(engine: Engine) -> tuple[int, list[str]]:
    with transaction(engine) as session:
        return claims_store.bad_claims(session, STATUSES, WINDOW)


def test_a_sound_store_has_no_broken_claim(engine: Engine) -> None:
    assert len(build(engine)) > 50
    assert check(engine) == (0, [])


@pytest.mark.parametrize(("case", "status", "sql", "params", "message"), BREAKS,
                         ids=[b[0] for b in BREAKS])  # fmt: skip
def test_check_claims_finds_each_kind_of_broken_claim(
    engine: Engine, case: str, status: str, sql: str, params: Any, message: str | None
) -> None:
    claim = first(build(engine), status)
    with engine.begin() as conn:
        conn.execute(text(sql), {"id": claim["id"], **params(claim)})
    n, examples = check(engine)
    if message is None:
        assert (n, examples) == (0, [])
        return
    changed = {**claim, **{k: v for k, v in params(claim).items()}}
    tail = message.format(lead=claim["lead_date"], reached=changed.get("d"))
    assert (n, examples) == (1, [f"claim {claim['milestone']} of {claim['person_key']}: {tail}"])


def test_every_rule_a_claim_breaks_is_named_and_examples_are_bounded(engine: Engine) -> None:
    claims = build(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE claim SET status = 'billed', payment_id = 5, reached_on = NULL "
                          "WHERE id = :id"), {"id": claims[0]["id"]})  # fmt: skip
        conn.execute(text("UPDATE claim SET payment_id = NULL WHERE status = 'paid'"))
    paid = [c for c in claims if c["status"] == "paid"]
    n, examples = check(engine)
    assert n == 1 + len(paid) and len(examples) == min(n, claims_store.LIMIT)
    assert examples[0] == (
        f"claim {claims[0]['milestone']} of {claims[0]['person_key']}: unknown status 'billed'; "
        f"reached_on None outside [{claims[0]['lead_date']}, +14d); billed but holds payment 5"
    )
    assert all(e.endswith("paid without a payment reconciled to it") for e in examples[1:])
