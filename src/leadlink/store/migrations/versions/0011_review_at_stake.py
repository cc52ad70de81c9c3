"""review_item.at_stake: the money an open item's lead could still claim if linked, stored so
the queue is ordered by it with one index range (docs/review.md "Money at stake")

The figure is computed set-based from its one definition (``store.review_stake``) by the jobs
and decisions that change its inputs, and recorded in ``money_refresh`` as the view
``review``. Rows before this revision hold 0 and no ``review`` refresh is recorded, so the
first reader of the queue computes every open item's figure before it reads one.

Revision ID: 0011_review_at_stake
Revises: 0010_alert_acknowledgement
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_review_at_stake"
down_revision = "0010_alert_acknowledgement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("at_stake", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
    # The queue's order: open items by money at stake, then deadline, then id.
    op.create_index("ix_review_item_stake", "review_item",
                    ["status", sa.text("at_stake DESC"), "deadline", "id"])  # fmt: skip
    op.execute("DELETE FROM money_refresh WHERE \"view\" = 'review'")


def downgrade() -> None:
    op.drop_index("ix_review_item_stake", table_name="review_item")
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_column("at_stake")
    op.execute("DELETE FROM money_refresh WHERE \"view\" = 'review'")
