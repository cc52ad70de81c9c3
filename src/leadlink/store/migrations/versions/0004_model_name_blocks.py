"""name blocks: the model no longer blocks on names alone, the rules' name block takes the whole
given name; rekey every record

Revision ID: 0004_model_name_blocks
Revises: 0003_blocking_keys
"""

from __future__ import annotations

from alembic import op

revision = "0004_model_name_blocks"
down_revision = "0003_blocking_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # record_key and record_term are derived from source_record.data (store/keys.py). The keys
    # of the model's blocks (matching/model.py PREDICT_BLOCKS) and the rules' name block
    # (normalise.first_family_block: FAMILY1|GIVEN, not FAMILY1|G) changed: a record keyed
    # before would not be found by the new keys. Emptying both makes `match` key every record
    # again (a linked record with no record_term row is rekeyed first; a pending one when it is
    # staged), so nothing is decided against stale keys.
    op.execute("DELETE FROM record_key")
    op.execute("DELETE FROM record_term")


def downgrade() -> None:
    # The keys of the older blocks are derived the same way: empty again, `match` refills them.
    op.execute("DELETE FROM record_key")
    op.execute("DELETE FROM record_term")
