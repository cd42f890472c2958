"""``counted_offsets.base_offset``/``base_fingerprint``: the first record each log counted (since it
was first seen or found replaced), so a log written again from its start (an empty broker, the worker
restarted too) is told from the old one at its first offsets, not only once a fetch reaches the old
counted offset. Rows made before stay NULL there (checked at the counted offset only, as before).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("base_offset", "base_fingerprint")


def _existing() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("counted_offsets")}


def upgrade() -> None:
    have = _existing()
    with op.batch_alter_table("counted_offsets") as batch:
        for name in COLUMNS:
            if name not in have:
                batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    have = _existing()
    with op.batch_alter_table("counted_offsets") as batch:
        for name in reversed(COLUMNS):
            if name in have:
                batch.drop_column(name)
