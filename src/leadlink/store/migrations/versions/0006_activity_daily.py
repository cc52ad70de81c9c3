"""activity_daily: the daily snapshot of unlinked activity (docs/activity.md)

Revision ID: 0006_activity_daily
Revises: 0005_sessions_and_job_owner
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_activity_daily"
down_revision = "0005_sessions_and_job_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("drivers", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("would_claim", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_activity_daily")),
    )


def downgrade() -> None:
    op.drop_table("activity_daily")
