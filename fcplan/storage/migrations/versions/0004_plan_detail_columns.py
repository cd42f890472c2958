"""The crew plan's detail in ``staffing_plans``: when a shift starts, the uncapped need,
where its morning came from, its status and the change from the plan in force (the
dashboard shows them; before, only the offline CSV had them).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("starts_at", sa.DateTime()),
    ("packers_needed", sa.Integer()),
    ("next_day_forecast", sa.Boolean()),
    ("shift_status", sa.String(length=16)),
    ("packers_before", sa.Integer()),
    ("packers_change", sa.Integer()),
    ("action", sa.String(length=64)),
)


def _existing() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("staffing_plans")}


def upgrade() -> None:
    have = _existing()
    with op.batch_alter_table("staffing_plans") as batch:
        for name, kind in COLUMNS:
            if name not in have:
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    have = _existing()
    with op.batch_alter_table("staffing_plans") as batch:
        for name, _ in reversed(COLUMNS):
            if name in have:
                batch.drop_column(name)
