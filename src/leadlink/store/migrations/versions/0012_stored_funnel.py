"""funnel_person, funnel_stage: the lead funnel stored as the summaries view ``funnel``
(docs/summaries.md)

The funnel classified every lead and person on each request (seconds at 100 k leads). It is
now computed from its one definition (``store.claim_windows.funnel_rows``) by the writers of
the other summaries, the claims job and a decision's touch, and read as five rows. No
``funnel`` refresh is recorded here, so the first reader computes it.

Revision ID: 0012_stored_funnel
Revises: 0011_review_at_stake
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012_stored_funnel"
down_revision = "0011_review_at_stake"
branch_labels = None
depends_on = None

_STATUSES = ("expected", "generated", "expired", "paid", "rejected")


def _figures() -> list[sa.Column[Any]]:
    return [
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        *(sa.Column(s, sa.Float(), nullable=False) for s in _STATUSES),
    ]


def upgrade() -> None:
    op.create_table(
        "funnel_person",
        sa.Column("key", sa.String(length=48), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table("funnel_stage", *_figures(), sa.PrimaryKeyConstraint("stage"))
    op.execute("DELETE FROM money_refresh WHERE \"view\" = 'funnel'")


def downgrade() -> None:
    op.drop_table("funnel_stage")
    op.drop_table("funnel_person")
    op.execute("DELETE FROM money_refresh WHERE \"view\" = 'funnel'")
