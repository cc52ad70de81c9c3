"""alert.acknowledged_at, acknowledged_by, ack_note: an operator saw an open alert and says so
(docs/operations.md "Acknowledging an alert")

Columns on the alert row, not a table of their own: an alert row is one raising (a rule that
clears and fires again raises a new row), and that raising is acknowledged at most once, so
the acknowledgement belongs to the row and ends with it. Rows before this revision are
unacknowledged (the three columns NULL).

Revision ID: 0010_alert_acknowledgement
Revises: 0009_candidate_pairs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_alert_acknowledgement"
down_revision = "0009_candidate_pairs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ack_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("ack_note")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
