"""Promotion effects per center and kind (the what-if page applies them).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promo_kind_effects",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("effect_per_pct", sa.Float(), nullable=False),
        sa.Column("pooled_effect_per_pct", sa.Float(), nullable=False),
        sa.Column("promo_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "unique_id", "kind"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("promo_kind_effects", if_exists=True)
