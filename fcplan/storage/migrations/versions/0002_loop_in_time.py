"""The loop in time (issue 13): registry, alert lifecycle, the simulated clock, indexes.

Revision ID: 0002
Revises: 0001

New tables ``model_decisions`` (every champion/challenger decision and its evidence),
``model_artifacts`` (a run's fitted ensemble) and ``clock_state`` (the loop's
simulated now); new nullable columns on ``forecast_runs`` (``data_start``, ``version``,
``status``) and ``forecast_alerts`` (the hourly monitor's lifecycle and evidence;
rows of the daily rules keep nulls there); indexes on ``forecasts.ds`` and the
``created_at`` columns the dashboard and retention sort by.

Like 0001 it adds only what is missing, so a database that already has some of it
(made with ``create_all`` from this schema, or by the issue-13 branch's own
migrations before Alembic, whose ``schema_migrations`` table it drops) is upgraded
in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def new_columns() -> dict[str, list[sa.Column]]:
    """Table -> the columns this revision adds to it (all nullable: old rows keep nulls);
    new objects each call, since adding a column binds it to its table."""
    return {
        "forecast_alerts": [
            sa.Column("status", sa.String(length=16), nullable=True),
            sa.Column("statistic", sa.Float(), nullable=True),
            sa.Column("threshold", sa.Float(), nullable=True),
            sa.Column("window_start", sa.DateTime(), nullable=True),
            sa.Column("window_end", sa.DateTime(), nullable=True),
            sa.Column("model_version", sa.String(length=128), nullable=True),
            sa.Column("evidence", sa.JSON(), nullable=True),
            sa.Column("cleared_at", sa.DateTime(), nullable=True),
        ],
        "forecast_runs": [
            sa.Column("data_start", sa.Date(), nullable=True),
            sa.Column("version", sa.String(length=64), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=True),
        ],
    }


#: (index, table, columns)
INDEXES = [
    ("ix_model_decisions_created_at", "model_decisions", ["created_at"]),
    ("ix_forecast_alerts_created_at", "forecast_alerts", ["created_at"]),
    ("ix_forecast_runs_created_at", "forecast_runs", ["created_at"]),
    ("ix_forecasts_ds", "forecasts", ["ds"]),
    ("ix_plan_runs_created_at", "plan_runs", ["created_at"]),
]


def upgrade() -> None:
    op.create_table(
        "clock_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("now", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_table(
        "model_artifacts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
        if_not_exists=True,
    )
    op.create_table(
        "model_decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("challenger_run_id", sa.String(length=64), nullable=False),
        sa.Column("champion_run_id", sa.String(length=64), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
        if_not_exists=True,
    )
    inspector = sa.inspect(op.get_bind())
    for table, columns in new_columns().items():
        have = {c["name"] for c in inspector.get_columns(table)}
        missing = [c for c in columns if c.name not in have]
        if missing:
            with op.batch_alter_table(table) as batch_op:
                for column in missing:
                    batch_op.add_column(column)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False, if_not_exists=True)
    op.drop_table("schema_migrations", if_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
    for table, columns in new_columns().items():
        with op.batch_alter_table(table) as batch_op:
            for column in reversed(columns):
                batch_op.drop_column(column.name)
    op.drop_table("model_decisions", if_exists=True)
    op.drop_table("model_artifacts", if_exists=True)
    op.drop_table("clock_state", if_exists=True)
