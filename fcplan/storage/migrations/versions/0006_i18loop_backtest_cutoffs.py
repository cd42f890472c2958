"""The backtest windows' cutoffs of a run, so the registry compares runs on the windows
they were really scored on (whatever grid or step made them).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("forecast_runs")}
    if "backtest_cutoffs" not in have:  # a database made by create_all with this schema has it
        with op.batch_alter_table("forecast_runs") as batch_op:
            batch_op.add_column(sa.Column("backtest_cutoffs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs") as batch_op:
        batch_op.drop_column("backtest_cutoffs")
