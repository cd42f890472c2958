"""The schema of fcplan 0.1: orders as epoch microseconds, hourly counts, forecasts, plans.

Revision ID: 0001
Revises: (none; the first revision)

Every table is created only if missing, so a database that fcplan made with
``create_all`` before it had migrations is upgraded in place by recording this
revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "center_hourly",
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("center_id", "hour"),
        if_not_exists=True,
    )
    op.create_table(
        "center_watermarks",
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("watermark", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("center_id"),
        if_not_exists=True,
    )
    op.create_table(
        "demand_truth",
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("expected_orders", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("center_id", "hour"),
        if_not_exists=True,
    )
    op.create_table(
        "forecast_alerts",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id"),
        if_not_exists=True,
    )
    op.create_table(
        "forecast_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("quantiles", sa.JSON(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("data_end", sa.Date(), nullable=True),
        sa.Column("fit_seconds", sa.Float(), nullable=False),
        sa.Column("fallbacks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
        if_not_exists=True,
    )
    op.create_table(
        "forecasts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("ds", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("quantile", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "unique_id", "ds", "model", "quantile"),
        if_not_exists=True,
    )
    op.create_table(
        "leaderboard",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("wql", sa.Float(), nullable=True),
        sa.Column("wape", sa.Float(), nullable=True),
        sa.Column("mase", sa.Float(), nullable=True),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("fit_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "model", "window"),
        if_not_exists=True,
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
        sqlite_with_rowid=False,
        if_not_exists=True,
    )
    op.create_table(
        "plan_runs",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("forecast_run_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("service_quantile", sa.Float(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id"),
        if_not_exists=True,
    )
    op.create_table(
        "promo_effects",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("effect_per_pct", sa.Float(), nullable=False),
        sa.Column("promo_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "unique_id"),
        if_not_exists=True,
    )
    op.create_table(
        "promotions",
        sa.Column("promo_id", sa.String(length=128), nullable=False),
        sa.Column("center_ids", sa.JSON(), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("discount_pct", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("promo_id"),
        if_not_exists=True,
    )
    op.create_table(
        "staffing_plans",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shift", sa.String(length=32), nullable=False),
        sa.Column("orders_median", sa.Float(), nullable=False),
        sa.Column("orders_planned", sa.Float(), nullable=False),
        sa.Column("packer_hours", sa.Float(), nullable=False),
        sa.Column("packers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "center_id", "day", "shift"),
        if_not_exists=True,
    )
    op.create_table(
        "stream_metrics",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", "reason"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("stream_metrics", if_exists=True)
    op.drop_table("staffing_plans", if_exists=True)
    op.drop_table("promotions", if_exists=True)
    op.drop_table("promo_effects", if_exists=True)
    op.drop_table("plan_runs", if_exists=True)
    op.drop_table("orders", if_exists=True)
    op.drop_table("leaderboard", if_exists=True)
    op.drop_table("forecasts", if_exists=True)
    op.drop_table("forecast_runs", if_exists=True)
    op.drop_table("forecast_alerts", if_exists=True)
    op.drop_table("demand_truth", if_exists=True)
    op.drop_table("center_watermarks", if_exists=True)
    op.drop_table("center_hourly", if_exists=True)
