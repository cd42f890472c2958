"""Database tables (SQLAlchemy Core). All timestamps are naive UTC; days are the
centers' local calendar days."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: Every accepted order, once: the primary key is what makes replays harmless.
#: ``ts_us`` is the order's own time in UTC epoch microseconds (exact, compact,
#: and cheap to write at stream rates); its hour is ``ts_us - ts_us % 3.6e9``.
#: One B-tree on SQLite (no rowid), and no secondary index on the hot path.
orders = Table(
    "orders",
    metadata,
    Column("order_id", String(128), primary_key=True),
    Column("center_id", String(64), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("units", Integer, nullable=False),
    sqlite_with_rowid=False,
)

#: Orders per center per hour, recounted from ``orders`` (idempotent by construction).
center_hourly = Table(
    "center_hourly",
    metadata,
    Column("center_id", String(64), primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("units", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # the planning loop asks for the newest updated_at every cycle (storage.queries)
    Index("ix_center_hourly_updated_at", "updated_at"),
)

#: The promotion calendar: the newest version of each promotion wins.
promotions = Table(
    "promotions",
    metadata,
    Column("promo_id", String(128), primary_key=True),
    Column("center_ids", JSON, nullable=True),  # null: every center
    Column("start", DateTime, nullable=False),
    Column("end", DateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("discount_pct", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

#: The simulator's true expected demand, for oracle forecasts and evaluation.
demand_truth = Table(
    "demand_truth",
    metadata,
    Column("center_id", String(64), primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("expected_orders", Float, nullable=False),
)

forecast_runs = Table(
    "forecast_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("model_version", String(128), nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("quantiles", JSON, nullable=False),
    Column("weights", JSON, nullable=False),
    Column("data_end", Date, nullable=True),
    Column("fit_seconds", Float, nullable=False),
    Column("fallbacks", JSON, nullable=False),
    # The registry (revision 0002): version = hash of config and data window; status
    # champion, challenger or retired; the data window's start.
    Column("data_start", Date, nullable=True),
    Column("version", String(64), nullable=True),
    Column("status", String(16), nullable=True),
    # Error correlation of the top-weighted ensemble members on the backtest (revision 0004).
    Column("error_correlation", JSON, nullable=True),
    # The backtest windows' cutoffs (ISO dates, window 0 first) the leaderboard's windows
    # were scored after (revision 0006); NULL for runs stored before it.
    Column("backtest_cutoffs", JSON, nullable=True),
    Index("ix_forecast_runs_created_at", "created_at"),
)

#: Forecast quantiles in long form: adding a quantile or a model changes no schema.
forecasts = Table(
    "forecasts",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("unique_id", String(64), primary_key=True),
    Column("ds", Date, primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("quantile", Float, primary_key=True),
    Column("value", Float, nullable=False),
    Index("ix_forecasts_ds", "ds"),
)

leaderboard = Table(
    "leaderboard",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("window", Integer, primary_key=True),  # -1: mean over windows
    Column("wql", Float),
    Column("wape", Float),
    Column("mase", Float),
    Column("coverage", Float),
    Column("weight", Float),
    Column("fit_seconds", Float),
)

#: Estimated demand uplift per discount percentage point, per forecast run and center.
promo_effects = Table(
    "promo_effects",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("unique_id", String(64), primary_key=True),
    Column("effect_per_pct", Float, nullable=False),
    Column("promo_days", Integer, nullable=False),
)

#: Promotion effect per center and kind (partially pooled across centers) of a forecast run.
promo_kind_effects = Table(
    "promo_kind_effects",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("unique_id", String(64), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("effect_per_pct", Float, nullable=False),
    Column("pooled_effect_per_pct", Float, nullable=False),
    Column("promo_days", Integer, nullable=False),
)

plan_runs = Table(
    "plan_runs",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("forecast_run_id", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("service_quantile", Float, nullable=False),
    Column("params", JSON, nullable=False),
    Index("ix_plan_runs_created_at", "created_at"),
)

staffing_plans = Table(
    "staffing_plans",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("center_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("shift", String(32), primary_key=True),
    Column("orders_median", Float, nullable=False),
    Column("orders_planned", Float, nullable=False),
    Column("packer_hours", Float, nullable=False),
    Column("packers", Integer, nullable=False),
    # The crew plan's detail (nullable: plans stored before revision 0004 lack it).
    Column("starts_at", DateTime),  # the shift's start, the center's local wall clock
    Column("packers_needed", Integer),  # before max_packers capped it
    Column("next_day_forecast", Boolean),  # an overnight shift's morning from the next day's forecast
    Column("shift_status", String(16)),  # at planning time: not started, running, over
    Column("packers_before", Integer),  # in the plan in force before this one (None: none)
    Column("packers_change", Integer),  # packers - packers_before
    Column("action", String(64)),  # "call in 3", "release 2", "no change", "kept (running)"
)

#: Counters the stream worker keeps (accepted, duplicates, dead letters by reason).
stream_metrics = Table(
    "stream_metrics",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("reason", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

#: Each log's (``<topic>/<partition>``) highest offset whose record the worker's counters
#: (``stream_metrics``) include, and a fingerprint of that record's value: a record read
#: again (commit-after-write re-delivers what was written but not committed) is not counted
#: again; another record at that offset means the log was replaced (:mod:`fcplan.streams.counted`).
counted_offsets = Table(
    "counted_offsets",
    metadata,
    Column("log", String(255), primary_key=True),
    Column("counted_to", BigInteger, nullable=False),
    Column("fingerprint", BigInteger, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # the first record counted since the log was first seen or found replaced (0009; NULL: rows made before)
    Column("base_offset", BigInteger, nullable=True),
    Column("base_fingerprint", BigInteger, nullable=True),
)

forecast_alerts = Table(
    "forecast_alerts",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("center_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    # The hourly monitor's lifecycle and evidence (revision 0002; null for the daily rules).
    Column("status", String(16), nullable=True),
    Column("statistic", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("window_start", DateTime, nullable=True),
    Column("window_end", DateTime, nullable=True),
    Column("model_version", String(128), nullable=True),
    Column("evidence", JSON, nullable=True),
    Column("cleared_at", DateTime, nullable=True),
    Index("ix_forecast_alerts_created_at", "created_at"),
)

#: Per-center stream time (the newest event time accepted): lateness is judged against it.
center_watermarks = Table(
    "center_watermarks",
    metadata,
    Column("center_id", String(64), primary_key=True),
    Column("watermark", DateTime, nullable=False),
)

#: Every champion/challenger decision with its evidence (revision 0002).
model_decisions = Table(
    "model_decisions",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("challenger_run_id", String(64), nullable=False),
    Column("champion_run_id", String(64), nullable=True),
    Column("promoted", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Index("ix_model_decisions_created_at", "created_at"),
)

#: The fitted ensemble of a run (pickled), reused without refitting.
model_artifacts = Table(
    "model_artifacts",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    Column("bytes", Integer, nullable=False),
)

#: The loop's simulated clock (``fcplan demo --simulate-days``), for the dashboard's "today".
clock_state = Table(
    "clock_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("now", DateTime, nullable=False),  # simulated now, naive UTC
    Column("updated_at", DateTime, nullable=False),
)
