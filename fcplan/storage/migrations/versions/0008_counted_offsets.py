"""``counted_offsets``: each log's highest offset already in the worker's counters, so a
record read again after a crash or a rebalance is not counted twice.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counted_offsets",
        sa.Column("log", sa.String(length=255), nullable=False),
        sa.Column("counted_to", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("log"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("counted_offsets", if_exists=True)
