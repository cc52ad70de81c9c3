"""blocking keys: per-record candidate keys and model terms, so `match` loads only blocks

Revision ID: 0003_blocking_keys
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_blocking_keys"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Derived from source_record.data by `match` (store/keys.py); no foreign key: the rows are
    # an index rebuilt from the records, written by the million, and every lookup joins link.
    op.create_table(
        "record_key",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "record_id", name=op.f("pk_record_key")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_record_key_record_id", "record_key", ["record_id"])
    op.create_table(
        "record_term",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("given", sa.String(), nullable=True),
        sa.Column("family1", sa.String(), nullable=True),
        sa.Column("family2", sa.String(), nullable=True),
        sa.Column("brand_model", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_term")),
    )


def downgrade() -> None:
    op.drop_table("record_term")
    op.drop_index("ix_record_key_record_id", table_name="record_key")
    op.drop_table("record_key")
