"""An index on ``center_hourly.updated_at``: the planning loop reads the newest
``updated_at`` every cycle and the hours changed since it, which scanned the table.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_center_hourly_updated_at", "center_hourly", ["updated_at"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_center_hourly_updated_at", table_name="center_hourly", if_exists=True)
