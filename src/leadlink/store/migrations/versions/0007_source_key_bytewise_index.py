"""source_record (source, source_pk COLLATE "C") on PostgreSQL: a driver's trips by key range in
byte order, whatever the database's collation (store/collation.py)

Revision ID: 0007_source_key_bytewise_index
Revises: 0006_activity_daily
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_source_key_bytewise_index"
down_revision = "0006_activity_daily"
branch_labels = None
depends_on = None

INDEX = "ix_source_record_source_key_bytes"


def upgrade() -> None:
    # SQLite compares text byte by byte already: its unique (source, source_pk) index serves.
    if op.get_context().dialect.name == "postgresql":
        op.create_index(INDEX, "source_record", ["source", sa.text('(source_pk COLLATE "C")')])


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="source_record")
