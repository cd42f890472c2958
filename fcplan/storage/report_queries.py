"""Reads across runs for reports (the dashboard's network, accuracy, model and alert views).

:mod:`fcplan.storage.queries` reads one run at a time; these read the history of
runs, plans and decisions, each bounded by a center, a date or a row limit so a
year of daily runs stays cheap (they read through the tables' primary keys and
existing indexes; see benchmarks/dashboard_load.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, String, select, type_coerce

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_name
from fcplan.storage.queries import _damaged, _first, _frame, _of_clock
from fcplan.storage.schema import center_hourly, forecast_runs, forecasts, leaderboard, plan_runs

#: Columns of :func:`runs_frame`.
RUN_COLUMNS = ["run_id", "created_at", "data_end", "status", "model_version", "fit_seconds", "weights"]


def center_ids(engine: Engine) -> list[str]:
    """Every center with stored hourly orders, sorted (the primary key's index answers it)."""
    stmt = select(center_hourly.c.center_id).distinct().order_by(center_hourly.c.center_id)
    with engine.connect() as conn:
        return [str(c) for c in conn.execute(stmt).scalars()]


def hourly_counts(engine: Engine, since: datetime, centers: Sequence[str] | None = None) -> pd.DataFrame:
    """``unique_id, hour_utc (naive UTC), y`` (orders) from ``since`` on, for ``centers`` (None: all).

    Naming the centers lets the primary key ``(center_id, hour)`` find the rows; the hour
    comes back as the driver gives it and is parsed once for the whole column (SQLite's
    per-row datetime parsing was most of the time of a 35,000-row read)."""
    hour = type_coerce(center_hourly.c.hour, String).label("hour")
    stmt = select(center_hourly.c.center_id, hour, center_hourly.c.orders).where(center_hourly.c.hour >= since)
    if centers is not None:
        stmt = stmt.where(center_hourly.c.center_id.in_(list(centers)))
    frame = _frame(engine, stmt).set_axis([UNIQUE_ID, "hour_utc", Y], axis=1)  # leaves out text in ``orders``
    hours = pd.to_datetime(frame["hour_utc"], format="ISO8601", errors="coerce")
    if hours.isna().any():  # text that is not a time (SQLite stores any value in any column)
        bad = hours.isna()
        _damaged(frame, list(np.flatnonzero(bad)), "hour", frame["hour_utc"][bad].iloc[0])
        frame, hours = frame[~bad].reset_index(drop=True), hours[~bad].reset_index(drop=True)
    frame["hour_utc"] = hours.astype("datetime64[ns]")
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[Y] = frame[Y].astype(float)
    return frame


def plan_center_configs(engine: Engine) -> dict[str, dict]:
    """Each center's configuration as the newest plan stored it (``params["centers"]``:
    ``timezone``, ``holiday_country``, ``shifts``...); empty before the first plan."""
    stmt = select(plan_runs.c.params).order_by(plan_runs.c.created_at.desc()).limit(1)
    row = _first(engine, stmt)  # a plan whose params do not parse is passed over
    params = row["params"] if row else None
    centers = (params or {}).get("centers") or {}
    return {str(c): dict(conf) for c, conf in centers.items() if isinstance(conf, dict)}


def runs_frame(engine: Engine, limit: int = 400, now: datetime | None = None) -> pd.DataFrame:
    """The newest ``limit`` forecast runs, newest first: :data:`RUN_COLUMNS`; with ``now`` (the
    simulated clock's), that clock's runs, newest data first (see :func:`~fcplan.storage.queries._of_clock`)."""
    cols = [forecast_runs.c[name] for name in RUN_COLUMNS]
    stmt = _of_clock(select(*cols), now).limit(limit)  # type: ignore[attr-defined]
    frame = _frame(engine, stmt)
    return frame if not frame.empty else pd.DataFrame(columns=RUN_COLUMNS)


def leaderboard_history(engine: Engine, run_ids: Sequence[str]) -> pd.DataFrame:
    """Every leaderboard row (all windows) of ``run_ids``: ``run_id, model, window, wql, wape,
    mase, coverage, weight, fit_seconds``."""
    if not run_ids:
        return pd.DataFrame(columns=[c.name for c in leaderboard.c])
    return _frame(engine, select(leaderboard).where(leaderboard.c.run_id.in_(list(run_ids))))


def issued_forecasts(engine: Engine, center: str, since: date, until: date, levels: Sequence[float]) -> pd.DataFrame:
    """The forecast issued for each of ``center``'s days in ``[since, until)``: that of the
    newest run whose data ended before the day (the day-ahead forecast, as the drift
    monitor judges it): ``unique_id, ds, run_id, data_end`` + one column per level in ``levels``."""
    stmt = (
        select(forecasts.c.run_id, forecasts.c.ds, forecasts.c.quantile, forecasts.c.value, forecast_runs.c.data_end,
               forecast_runs.c.created_at)
        .join(forecast_runs, forecast_runs.c.run_id == forecasts.c.run_id)
        .where(
            forecasts.c.unique_id == center,
            forecasts.c.ds >= since,
            forecasts.c.ds < until,
            forecasts.c.quantile.in_([float(q) for q in levels]),
        )
    )
    long = _frame(engine, stmt)
    names = [quantile_name(q) for q in levels]
    if long.empty:
        return pd.DataFrame(columns=[UNIQUE_ID, DS, "run_id", "data_end", *names])
    long[DS] = pd.to_datetime(long[DS]).astype("datetime64[ns]")
    long["data_end"] = pd.to_datetime(long["data_end"]).astype("datetime64[ns]")
    long = long[long["data_end"] < long[DS]].sort_values(["data_end", "created_at"])
    # The newest data, and of two runs on the same data (a triggered retrain) the later one.
    issued = long.drop_duplicates(DS, keep="last").set_index(DS)["run_id"]
    long = long[long["run_id"].to_numpy() == issued.reindex(long[DS]).to_numpy()]
    long["quantile"] = long["quantile"].map(quantile_name)
    wide = long.pivot_table(index=[DS, "run_id", "data_end"], columns="quantile", values="value").reset_index()
    wide.columns.name = None
    wide.insert(0, UNIQUE_ID, center)
    return wide[[UNIQUE_ID, DS, "run_id", "data_end", *[n for n in names if n in wide.columns]]].reset_index(drop=True)
