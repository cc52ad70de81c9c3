"""candidate_pair: the engine's candidate lists of ``unmatched`` as rows, indexed by person,
kept by triggers on ``unmatched``; person.retired_into and review_item.person_key indexed;
activity_day, unlinked activity's trend per day; recovery_attempt_day, the attempts per day
(docs/summaries.md)

Unlinked activity asks "which unmatched leads name this person as a candidate?". Answered from
the JSON lists that meant expanding every ``unmatched`` row (350 k at 1 M leads) for each page.
The triggers write the pairs in the statement that writes ``unmatched``, whoever writes it (the
batch, the online path, review, ingest, recovery, a hand edit), so the index cannot fall behind
its source; ``check unmatched`` compares the two.

A later migration that rebuilds ``unmatched`` on SQLite (``batch_alter_table``) drops the
triggers with the old table: it must create them again (``create_triggers``).

Revision ID: 0009_candidate_pairs
Revises: 0008_money_summaries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_candidate_pairs"
down_revision = "0008_money_summaries"
branch_labels = None
depends_on = None

# Static DDL of ours (no values): the triggers' bodies.
_SQLITE_PAIRS = (
    "INSERT INTO candidate_pair (lead_record_id, position, person_key, rule, score) "
    "SELECT NEW.record_id, CAST(e.key AS INTEGER), json_extract(e.value, '$.person_key'), "
    "json_extract(e.value, '$.rule'), json_extract(e.value, '$.score') "
    "FROM json_each(NEW.candidates) AS e WHERE json_type(NEW.candidates) = 'array';"
)
_SQLITE = [
    f"CREATE TRIGGER unmatched_pairs_insert AFTER INSERT ON unmatched BEGIN {_SQLITE_PAIRS} END",
    "CREATE TRIGGER unmatched_pairs_delete AFTER DELETE ON unmatched BEGIN "
    "DELETE FROM candidate_pair WHERE lead_record_id = OLD.record_id; END",
    "CREATE TRIGGER unmatched_pairs_update AFTER UPDATE OF record_id, candidates ON unmatched "  # noqa: S608 (static DDL of ours)
    "BEGIN DELETE FROM candidate_pair WHERE lead_record_id = OLD.record_id; "
    f"{_SQLITE_PAIRS} END",
]
# PostgreSQL: statement triggers over transition tables (one set-based INSERT per statement,
# COPY included), the function's search_path pinned to the schema it was created in.
_PG_PAIRS = (
    "INSERT INTO candidate_pair (lead_record_id, position, person_key, rule, score) "
    "SELECT n.record_id, e.ordinality - 1, e.value ->> 'person_key', e.value ->> 'rule', "
    "(e.value ->> 'score')::double precision FROM new_rows AS n "
    "CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(n.candidates) = 'array' "
    "THEN n.candidates ELSE '[]'::json END) WITH ORDINALITY AS e(value, ordinality);"
)
_PG_FORGET = ("DELETE FROM candidate_pair AS p USING old_rows AS o "
              "WHERE p.lead_record_id = o.record_id;")
_PG_FUNCTIONS = {
    "unmatched_pairs_insert": _PG_PAIRS,
    "unmatched_pairs_delete": _PG_FORGET,
    "unmatched_pairs_update": _PG_FORGET + _PG_PAIRS,
}
_PG_EVENTS = {
    "unmatched_pairs_insert": ("INSERT", "NEW TABLE AS new_rows"),
    "unmatched_pairs_delete": ("DELETE", "OLD TABLE AS old_rows"),
    "unmatched_pairs_update": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
}


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, body in _PG_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                f"SET search_path FROM CURRENT AS $$ BEGIN {body} RETURN NULL; END $$"
            )
            event, tables = _PG_EVENTS[name]
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON unmatched REFERENCING {tables} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")  # fmt: skip
    else:
        for ddl in _SQLITE:
            op.execute(ddl)


def upgrade() -> None:
    op.create_table(
        "candidate_pair",
        sa.Column("lead_record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("person_key", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("lead_record_id", "position", name=op.f("pk_candidate_pair")),
    )
    op.create_index("ix_candidate_pair_person_key", "candidate_pair", ["person_key"])
    # One person's pairs also come from the keys merged into it and from its review items.
    op.create_index("ix_person_retired_into", "person", ["retired_into"])
    op.create_index("ix_review_item_person_key", "review_item", ["person_key"])
    create_triggers()
    op.create_table(
        "activity_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("drivers", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_activity_day")),
    )
    op.execute("INSERT INTO activity_day (day, drivers, trips) "
               "SELECT day, count(*), sum(trips) FROM activity_trip_day GROUP BY day")  # fmt: skip
    op.create_table(
        "recovery_attempt_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "outcome", "reason", name=op.f("pk_recovery_attempt_day")),
    )
    # date(x) is SQLite's function and PostgreSQL's function-style cast alike.
    op.execute("INSERT INTO recovery_attempt_day (day, outcome, reason, n) "
               "SELECT date(at), outcome, coalesce(reason, ''), count(*) FROM recovery_attempt "
               "GROUP BY date(at), outcome, coalesce(reason, '')")  # fmt: skip
    # The pairs of the rows already there: an UPDATE that changes nothing fires the triggers.
    op.execute("UPDATE unmatched SET candidates = candidates")


def downgrade() -> None:
    for name in _PG_FUNCTIONS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON unmatched")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("recovery_attempt_day")
    op.drop_table("activity_day")
    op.drop_index("ix_review_item_person_key", "review_item")
    op.drop_index("ix_person_retired_into", "person")
    op.drop_table("candidate_pair")
