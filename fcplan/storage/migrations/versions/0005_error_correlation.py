"""The error correlation of a run's top-weighted ensemble members (the dashboard reads it).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("forecast_runs")}
    if "error_correlation" not in have:  # a database made by create_all with this schema has it
        with op.batch_alter_table("forecast_runs") as batch_op:
            batch_op.add_column(sa.Column("error_correlation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs") as batch_op:
        batch_op.drop_column("error_correlation")
