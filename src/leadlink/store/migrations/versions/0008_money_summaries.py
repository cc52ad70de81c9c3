"""backlog_lead, backlog_day, activity_driver, activity_trip_day, money_refresh: the money
views' summary tables,
written by the jobs and decisions that change their inputs (docs/summaries.md)

Revision ID: 0008_money_summaries
Revises: 0007_source_key_bytewise_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_money_summaries"
down_revision = "0007_source_key_bytewise_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backlog_lead",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lead_id", sa.String(200), nullable=False),
        sa.Column("lead_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("candidate", sa.String(36), nullable=True),
        sa.Column("has_candidate", sa.Boolean(), nullable=False),
        sa.Column("candidate_trips", sa.Integer(), nullable=False),
        sa.Column("candidate_amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_backlog_lead")),
    )
    work: list[str | sa.TextClause] = ["has_candidate", "lead_date",
                                       sa.text("candidate_amount DESC"), "lead_id"]
    op.create_index("ix_backlog_lead_work", "backlog_lead", work)
    op.create_index("ix_backlog_lead_day", "backlog_lead", [sa.text("lead_date DESC"), "lead_id"])
    op.create_index("ix_backlog_lead_candidate", "backlog_lead", ["candidate"])
    op.create_table(
        "backlog_day",
        sa.Column("lead_date", sa.Date(), nullable=False),
        sa.Column("has_candidate", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("lead_date", "has_candidate", "reason",
                                name=op.f("pk_backlog_day")),  # fmt: skip
    )
    op.create_table(
        "activity_driver",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("driver_id", sa.String(200), nullable=False),
        sa.Column("person_key", sa.String(36), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=True),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("first_trip", sa.Date(), nullable=True),
        sa.Column("last_trip", sa.Date(), nullable=True),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("window_from", sa.Date(), nullable=True),
        sa.Column("window_to", sa.Date(), nullable=True),
        sa.Column("anchor", sa.String(20), nullable=False),
        sa.Column("trips_in_window", sa.Integer(), nullable=False),
        sa.Column("trips_outside_window", sa.Integer(), nullable=False),
        sa.Column("would_claim", sa.Float(), nullable=False),
        sa.Column("has_candidate", sa.Boolean(), nullable=False),
        sa.Column("best_lead", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_activity_driver")),
    )
    op.create_index("ix_activity_driver_order", "activity_driver",
                    [sa.text("would_claim DESC"), "first_trip", "driver_id"])  # fmt: skip
    op.create_index("ix_activity_driver_person", "activity_driver", ["person_key"])
    op.create_index("ix_activity_driver_best_lead", "activity_driver", ["best_lead"])
    op.create_table(
        "activity_trip_day",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "day", name=op.f("pk_activity_trip_day")),
    )
    op.create_index("ix_activity_trip_day_day", "activity_trip_day", ["day"])
    op.create_table(
        "money_refresh",
        sa.Column("view", sa.String(20), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("settings", sa.String(200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("view", name=op.f("pk_money_refresh")),
    )


def downgrade() -> None:
    for table in ("money_refresh", "activity_trip_day", "activity_driver", "backlog_day",
                  "backlog_lead"):  # fmt: skip
        op.drop_table(table)
