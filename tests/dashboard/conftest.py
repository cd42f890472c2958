"""Factories for the dashboard tests: a SQLite database seeded through the schema tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine, insert

from fcplan.core.settings import DEFAULT_QUANTILES, CenterParams
from fcplan.planner import parse_shifts, plan_staffing, shift_shares
from fcplan.storage import make_engine
from fcplan.storage.schema import (
    center_hourly,
    forecast_alerts,
    forecast_runs,
    forecasts,
    leaderboard,
    plan_runs,
    promo_effects,
    promotions,
    staffing_plans,
    stream_metrics,
)

TZ = "Asia/Seoul"
CENTERS = ("FC-ICN", "FC-PUS")
SHIFTS = ("day:6-14", "swing:14-22", "night:22-6")
# Orders per hour of the local day, relative: busy late morning and evening.
_HOUR_PROFILE = np.array(
    [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 8, 7, 7, 7, 7, 8, 9, 10, 10, 8, 6, 4, 3], dtype=float
)


def _utc(local: pd.Series | pd.DatetimeIndex, tz: str) -> pd.Series:
    return pd.Series(local).dt.tz_localize(tz).dt.tz_convert("UTC").dt.tz_localize(None)


def seed_hourly(engine: Engine, centers: Sequence[str], days: int, tz: str, seed: int = 0) -> pd.DataFrame:
    """Orders per hour for ``days`` local days up to the current hour; returns the local panel."""
    rng = np.random.default_rng(seed)
    now = pd.Timestamp.now(tz=tz).tz_localize(None).floor("h")
    hours = pd.date_range(now.normalize() - pd.Timedelta(days=days), now, freq="h")
    frames = []
    for i, center in enumerate(centers):
        weekly = np.where(hours.dayofweek >= 5, 0.8, 1.0)
        mean = (40 + 25 * i) * _HOUR_PROFILE[hours.hour] / _HOUR_PROFILE.mean() * weekly
        frames.append(pd.DataFrame({"unique_id": center, "ds": hours, "y": rng.poisson(mean).astype(float)}))
    panel = pd.concat(frames, ignore_index=True)
    rows = [
        {"center_id": r.unique_id, "hour": h.to_pydatetime(), "orders": int(r.y), "lines": int(r.y) * 2,
         "units": int(r.y) * 3, "updated_at": h.to_pydatetime()}
        for r, h in zip(panel.itertuples(), _utc(panel["ds"], tz), strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(insert(center_hourly), rows)
    return panel


def seed_forecast(engine: Engine, daily: pd.DataFrame, run_id: str, horizon: int, tz: str) -> pd.DataFrame:
    """A forecast run from today on: quantiles around each center's mean of the last 28 days."""
    today = pd.Timestamp.now(tz=tz).tz_localize(None).normalize()
    days = pd.date_range(today, periods=horizon, freq="D")
    z = {0.05: -1.645, 0.1: -1.2816, 0.2: -0.8416, 0.3: -0.5244, 0.4: -0.2533, 0.5: 0.0, 0.6: 0.2533,
         0.7: 0.5244, 0.8: 0.8416, 0.9: 1.2816, 0.95: 1.645}
    rows, wide = [], []
    for center, grp in daily[daily["ds"] < today].groupby("unique_id"):
        level = grp.tail(28)["y"].mean()
        for step, ds in enumerate(days):
            spread = 0.06 * level * np.sqrt(1 + step / 3)
            values = {f"{q:g}": max(0.0, level + z[q] * spread) for q in DEFAULT_QUANTILES}
            wide.append({"unique_id": center, "ds": ds, "model": "ensemble", **values})
            rows += [{"run_id": run_id, "unique_id": center, "ds": ds.date(), "model": "ensemble",
                      "quantile": float(k), "value": v} for k, v in values.items()]
    weights = {"ets": 0.55, "lgbm": 0.3, "seasonal_naive": 0.15}
    with engine.begin() as conn:
        conn.execute(insert(forecast_runs), [{
            "run_id": run_id, "created_at": pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime(),
            "model_version": "ensemble:ets=0.55+lgbm=0.30+seasonal_naive=0.15", "horizon": horizon,
            "quantiles": list(DEFAULT_QUANTILES), "weights": weights,
            "data_end": (today - pd.Timedelta(days=1)).date(), "fit_seconds": 12.5, "fallbacks": {},
        }])
        conn.execute(insert(forecasts), rows)
        board = [
            {"run_id": run_id, "model": m, "window": w, "wql": 0.05 + 0.02 * i + 0.001 * w,
             "wape": 0.08 + 0.02 * i, "mase": 0.7 + 0.1 * i, "coverage": 0.8 - 0.05 * i,
             "weight": weights.get(m, 0.0) if w == -1 else None, "fit_seconds": 1.0 + i}
            for i, m in enumerate(["ets", "lgbm", "seasonal_naive", "moving_average"]) for w in (-1, 0, 1)
        ]
        conn.execute(insert(leaderboard), board)
    return pd.DataFrame(wide)


def seed_plan(engine: Engine, hourly: pd.DataFrame, forecast: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The plan the planner makes from this forecast, stored as the runner would."""
    params = CenterParams()
    shares = shift_shares(hourly, parse_shifts(SHIFTS))
    plan = plan_staffing(forecast, shares, params)
    plan_id = f"{run_id}-plan"
    with engine.begin() as conn:
        conn.execute(insert(plan_runs), [{
            "plan_id": plan_id, "forecast_run_id": run_id,
            "created_at": pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime(),
            "service_quantile": params.service_quantile,
            "params": {"minutes_per_order": 2.0, "shift_hours": 8.0, "shrinkage": 0.15, "cost_short": 3.0,
                       "cost_idle": 1.0, "min_packers": 1, "shifts": list(SHIFTS)},
        }])
        conn.execute(insert(staffing_plans), [
            {"plan_id": plan_id, "center_id": r["unique_id"], "day": r["ds"].date(), "shift": r["shift"],
             "orders_median": r["orders_median"], "orders_planned": r["orders_planned"],
             "packer_hours": r["packer_hours"], "packers": int(r["packers"])}
            for r in plan.to_dict("records")
        ])
    return plan


def seed_promo_effect(engine: Engine, centers: Sequence[str], run_id: str, effect_per_pct: float,
                      promo_days: int) -> pd.DataFrame:
    """The retrainer's promotion effect for the run: the same pooled effect for every center."""
    rows = [{"run_id": run_id, "unique_id": c, "effect_per_pct": effect_per_pct, "promo_days": promo_days}
            for c in centers]
    with engine.begin() as conn:
        conn.execute(insert(promo_effects), rows)
    return pd.DataFrame(rows)


def seed_stream(engine: Engine, centers: Sequence[str], tz: str) -> None:
    """Worker counters, an active promotion for the coming days, one alert."""
    now = pd.Timestamp.now("UTC").tz_localize(None)
    counters = [("orders", "accepted", 51234), ("orders", "duplicate", 312),
                ("orders_dead_letters", "late", 41), ("orders_dead_letters", "invalid_json", 7),
                ("promotions", "accepted", 6)]
    today_utc = _utc(pd.DatetimeIndex([pd.Timestamp.now(tz=tz).tz_localize(None).normalize()]), tz).iloc[0]
    with engine.begin() as conn:
        conn.execute(insert(stream_metrics), [
            {"name": n, "reason": r, "value": v, "updated_at": now.to_pydatetime()} for n, r, v in counters
        ])
        conn.execute(insert(promotions), [
            {"promo_id": "spring-sale", "center_ids": None, "kind": "sitewide_sale", "discount_pct": 20.0,
             "status": "active", "start": (today_utc + pd.Timedelta(days=3)).to_pydatetime(),
             "end": (today_utc + pd.Timedelta(days=6)).to_pydatetime(), "updated_at": now.to_pydatetime()},
            {"promo_id": "flash-icn", "center_ids": [centers[0]], "kind": "flash", "discount_pct": 35.0,
             "status": "active", "start": (today_utc - pd.Timedelta(days=20)).to_pydatetime(),
             "end": (today_utc - pd.Timedelta(days=18)).to_pydatetime(), "updated_at": now.to_pydatetime()},
        ])
        conn.execute(insert(forecast_alerts), [{
            "alert_id": "a1", "created_at": now.to_pydatetime(), "center_id": centers[0],
            "day": (now - pd.Timedelta(days=1)).date(), "kind": "above_p95",
            "message": f"{centers[0]}: yesterday's orders were above the forecast's 95% quantile",
        }])


def seed_database(url: str, centers: Sequence[str] = CENTERS, days: int = 60, tz: str = TZ,
                  horizon: int = 14, effect_per_pct: float | None = 0.012,
                  promo_days: int = 24) -> dict[str, pd.DataFrame]:
    """Fill an (empty) database with everything the dashboard shows; returns what was written.

    ``effect_per_pct`` None stores no promotion effect (a run from before the retrainer estimated one).
    """
    engine = make_engine(url)
    hourly = seed_hourly(engine, centers, days, tz)
    days_of = hourly.assign(ds=hourly["ds"].dt.normalize())
    daily = days_of.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    forecast = seed_forecast(engine, daily, "run-1", horizon, tz)
    plan = seed_plan(engine, hourly, forecast, "run-1")
    seed_stream(engine, centers, tz)
    written = {"hourly": hourly, "daily": daily, "forecast": forecast, "plan": plan}
    if effect_per_pct is not None:
        written["promo_effects"] = seed_promo_effect(engine, centers, "run-1", effect_per_pct, promo_days)
    engine.dispose()
    return written


@pytest.fixture
def make_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[str, dict]]:
    """Factory: a SQLite database in ``tmp_path`` (seeded unless ``empty``), set as the dashboard's URL."""

    def make(empty: bool = False, **kwargs: object) -> tuple[str, dict]:
        url = f"sqlite:///{tmp_path / ('empty.db' if empty else 'seeded.db')}"
        monkeypatch.setenv("FCPLAN_DATABASE_URL", url)
        monkeypatch.setenv("FCPLAN_TIMEZONE", TZ)
        written = {} if empty else seed_database(url, **kwargs)
        return url, written

    st.cache_data.clear()
    return make
