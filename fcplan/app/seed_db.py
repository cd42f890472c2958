"""A database filled directly with what the loop writes, fast: hourly orders, a year (or a
few days) of daily forecast runs with their leaderboards, the champion and a challenger,
a plan, promotions, stream counters, drift alerts and the champion/challenger decisions.

For the dashboard's tests, its browser test and its load benchmark; no model is fitted.
Older runs keep only the day-ahead forecast they issued, as retention
(:mod:`fcplan.models.retention`) leaves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
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
    model_decisions,
    plan_runs,
    promo_effects,
    promotions,
    staffing_plans,
    stream_metrics,
)

SHIFTS = ("day:6-14", "swing:14-22", "night:22-6")
MODELS = ("ets", "lgbm", "seasonal_naive", "moving_average")
WEIGHTS = {"ets": 0.55, "lgbm": 0.3, "seasonal_naive": 0.15}
CHAMPION, CHALLENGER = "run-1", "run-2"
# Orders per hour of the local day, relative: busy late morning and evening.
_HOUR_PROFILE = np.array([2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 8, 7, 7, 7, 7, 8, 9, 10, 10, 8, 6, 4, 3], dtype=float)
_Z = {0.05: -1.645, 0.1: -1.2816, 0.2: -0.8416, 0.3: -0.5244, 0.4: -0.2533, 0.5: 0.0, 0.6: 0.2533,
      0.7: 0.5244, 0.8: 0.8416, 0.9: 1.2816, 0.95: 1.645}


@dataclass(frozen=True)
class SeedSpec:
    """What to write: ``centers`` with ``days`` of hourly orders in ``tz`` (or their own zone in
    ``zones``), ``past_runs`` daily runs before today's champion, a challenger whose forecast
    is ``challenger_lift`` times the champion's for the first center."""

    centers: Sequence[str] = ("FC-ICN", "FC-PUS")
    days: int = 60
    tz: str = "Asia/Seoul"
    zones: Mapping[str, str] = field(default_factory=dict)
    horizon: int = 14
    past_runs: int = 0
    challenger_lift: float | None = None
    effect_per_pct: float | None = 0.012
    promo_days: int = 24
    #: Past runs this recent keep their whole horizon; older ones only their day-ahead forecast.
    keep_days: int = 14
    seed: int = 0

    def zone(self, center: str) -> str:
        return self.zones.get(center, self.tz)


def _utc(local: pd.Series | pd.DatetimeIndex, tz: str) -> pd.Series:
    return pd.Series(local).dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC").dt.tz_localize(
        None
    )


def _now_utc() -> pd.Timestamp:
    return pd.Timestamp.now("UTC").tz_localize(None)


def _today(tz: str) -> pd.Timestamp:
    return pd.Timestamp.now(tz=tz).tz_localize(None).normalize()


def seed_hourly(engine: Engine, spec: SeedSpec) -> pd.DataFrame:
    """Orders per hour for ``spec.days`` local days up to the current hour; returns the local panel."""
    rng = np.random.default_rng(spec.seed)
    frames = []
    for i, center in enumerate(spec.centers):
        now = pd.Timestamp.now(tz=spec.zone(center)).tz_localize(None).floor("h")
        hours = pd.date_range(now.normalize() - pd.Timedelta(days=spec.days), now, freq="h")
        weekly = np.where(hours.dayofweek >= 5, 0.8, 1.0)
        mean = (40 + 25 * (i % 7)) * _HOUR_PROFILE[hours.hour] / _HOUR_PROFILE.mean() * weekly
        frame = pd.DataFrame({"unique_id": center, "ds": hours, "y": rng.poisson(mean).astype(float)})
        frames.append(frame.assign(hour=_utc(frame["ds"], spec.zone(center)).to_numpy()))
    panel = pd.concat(frames, ignore_index=True).dropna(subset=["hour"])
    panel = panel.drop_duplicates(["unique_id", "hour"])
    orders = panel["y"].astype(int)
    rows = pd.DataFrame({"center_id": panel["unique_id"], "hour": panel["hour"], "orders": orders,
                         "lines": orders * 2, "units": orders * 3, "updated_at": panel["hour"]})
    _insert(engine, center_hourly, rows)
    return panel.drop(columns="hour").reset_index(drop=True)


def _insert(engine: Engine, table: object, rows: pd.DataFrame, chunk: int = 50_000) -> None:
    records = rows.to_dict("records")
    for col in rows.columns:  # pandas timestamps -> datetime for the driver
        if pd.api.types.is_datetime64_any_dtype(rows[col]):
            values = rows[col].array.to_pydatetime()  # an ndarray on pandas 2 and 3 alike
            for rec, v in zip(records, values, strict=True):
                rec[col] = v
    with engine.begin() as conn:
        for start in range(0, len(records), chunk):
            conn.execute(insert(table), records[start : start + chunk])  # type: ignore[arg-type]


def _quantiles(level: np.ndarray, spread: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{q:g}": np.maximum(0.0, level + _Z[q] * spread) for q in DEFAULT_QUANTILES}


def forecast_rows(daily: pd.DataFrame, run_id: str, first: pd.Timestamp, horizon: int,
                  lift: Mapping[str, float] | None = None) -> pd.DataFrame:
    """A forecast frame from ``first`` on: quantiles around each center's mean of the 28 days before it."""
    days = pd.date_range(first, periods=horizon, freq="D")
    wide = []
    for center, grp in daily[daily["ds"] < first].groupby("unique_id"):
        level = grp.tail(28)["y"].mean() * (lift or {}).get(center, 1.0)
        steps = np.arange(horizon)
        weekly = np.where(days.dayofweek >= 5, 0.8, 1.0) / (5 + 2 * 0.8) * 7  # as the orders: quieter weekends
        values = _quantiles(level * weekly, 0.06 * level * weekly * np.sqrt(1 + steps / 3))
        wide.append(pd.DataFrame({"unique_id": center, "ds": days, "model": "ensemble", **values}))
    return pd.concat(wide, ignore_index=True) if wide else pd.DataFrame()


def store_run(engine: Engine, wide: pd.DataFrame, run_id: str, created_at: pd.Timestamp, data_end: pd.Timestamp,
              status: str | None, horizon: int, windows: int = 3, skill: float = 0.0) -> None:
    """One ``forecast_runs`` row, its forecasts (long) and a leaderboard with ``windows`` windows."""
    levels = [f"{q:g}" for q in DEFAULT_QUANTILES]
    long = wide.melt(["unique_id", "ds", "model"], levels, var_name="quantile", value_name="value")
    long = long.assign(run_id=run_id, quantile=long["quantile"].astype(float), ds=long["ds"].dt.date)
    with engine.begin() as conn:
        conn.execute(insert(forecast_runs), [{
            "run_id": run_id, "created_at": created_at.to_pydatetime(),
            "model_version": "ensemble:ets=0.55+lgbm=0.30+seasonal_naive=0.15", "horizon": horizon,
            "quantiles": list(DEFAULT_QUANTILES), "weights": WEIGHTS, "data_end": data_end.date(),
            "fit_seconds": 12.5, "fallbacks": {}, "status": status, "version": run_id,
        }])
        conn.execute(insert(leaderboard), [
            {"run_id": run_id, "model": m, "window": w,
             "wql": 0.05 + 0.02 * i + 0.001 * w + skill * ((i * 7 + w * 3) % 5 - 2) / 100,
             "wape": 0.08 + 0.02 * i, "mase": 0.7 + 0.1 * i, "coverage": 0.8 - 0.05 * i,
             "weight": WEIGHTS.get(m, 0.0) if w == -1 else None, "fit_seconds": 1.0 + i}
            for i, m in enumerate(MODELS) for w in (-1, *range(windows))
        ])
    _insert(engine, forecasts, long[["run_id", "unique_id", "ds", "model", "quantile", "value"]])


def seed_past_runs(engine: Engine, daily: pd.DataFrame, spec: SeedSpec) -> int:
    """``spec.past_runs`` daily runs before today, retired; those older than ``spec.keep_days``
    keep only their day-ahead forecast."""
    rng = np.random.default_rng(spec.seed + 1)
    today = _today(spec.tz)
    for k in range(spec.past_runs, 0, -1):
        first = today - pd.Timedelta(days=k)
        wide = forecast_rows(daily, f"run-past-{k}", first, spec.horizon if k <= spec.keep_days else 1)
        if wide.empty:
            continue
        created = (first - pd.Timedelta(hours=20)).tz_localize(spec.tz).tz_convert("UTC").tz_localize(None)
        store_run(engine, wide, f"run-past-{k}", created, first - pd.Timedelta(days=1), "retired", spec.horizon,
                  skill=float(rng.uniform(0.5, 1.5)))
    return spec.past_runs


def seed_plan(engine: Engine, hourly: pd.DataFrame, forecast: pd.DataFrame, spec: SeedSpec) -> pd.DataFrame:
    """The plan the planner makes from the champion, stored as the runner would (zones in its params)."""
    params = CenterParams()
    shifts = parse_shifts(SHIFTS)
    shares = shift_shares(hourly, shifts)
    # each shift's real length on a daylight-saving day, as the planner counts it
    zones = {c: spec.zone(c) for c in forecast["unique_id"].astype(str).unique()}
    plan = plan_staffing(forecast, shares, params, shifts=shifts, zones=zones)
    plan_id = f"{CHAMPION}-plan"
    centers = {c: {"timezone": spec.zone(c), "holiday_country": "KR"} for c in spec.centers}
    with engine.begin() as conn:
        conn.execute(insert(plan_runs), [{
            "plan_id": plan_id, "forecast_run_id": CHAMPION, "created_at": _now_utc().to_pydatetime(),
            "service_quantile": params.service_quantile,
            "params": {"minutes_per_order": 2.0, "shift_hours": 8.0, "shrinkage": 0.15, "cost_short": 3.0,
                       "cost_idle": 1.0, "min_packers": 1, "shifts": list(SHIFTS), "centers": centers},
        }])
    rows = pd.DataFrame({"plan_id": plan_id, "center_id": plan["unique_id"], "day": plan["ds"].dt.date,
                         "shift": plan["shift"], "orders_median": plan["orders_median"],
                         "orders_planned": plan["orders_planned"], "packer_hours": plan["packer_hours"],
                         "packers": plan["packers"].astype(int)})
    _insert(engine, staffing_plans, rows)
    return plan


def seed_stream(engine: Engine, centers: Sequence[str], tz: str) -> None:
    """Worker counters, promotions (one coming, one past), drift alerts (open, cleared, daily)
    and the decisions of the retrains after them."""
    now = _now_utc()
    counters = [("orders", "accepted", 51234), ("orders", "duplicate", 312),
                ("orders_dead_letters", "late", 41), ("orders_dead_letters", "invalid_json", 7),
                ("promotions", "accepted", 6)]
    today_utc = _utc(pd.DatetimeIndex([_today(tz)]), tz).iloc[0]
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
        hour = (now - pd.Timedelta(hours=3)).floor("h")
        conn.execute(insert(forecast_alerts), [_alert(a) for a in _alerts(centers, now, hour)])
        conn.execute(insert(model_decisions), [
            {"decision_id": "d-cleared", "created_at": (now - pd.Timedelta(days=6) + pd.Timedelta(minutes=20))
             .to_pydatetime(), "challenger_run_id": "run-past-6", "champion_run_id": "run-past-6",
             "promoted": True, "evidence": {"champion": "run-past-7", "champion_age_days": 1},
             "reason": f"champion's forecasts drifted (open alerts for ['{centers[-1]}'])"},
        ])


#: The hourly monitor's fields, null for the daily rules.
_HOURLY_FIELDS = ("status", "statistic", "threshold", "window_start", "window_end", "model_version", "evidence",
                  "cleared_at")


def _alert(fields: dict) -> dict:
    """A ``forecast_alerts`` row: the hourly fields not given are null (a daily rule's alert)."""
    return {**dict.fromkeys(_HOURLY_FIELDS), **{k: v.to_pydatetime() if isinstance(v, pd.Timestamp) else v
                                                for k, v in fields.items()}}


def _alerts(centers: Sequence[str], now: pd.Timestamp, hour: pd.Timestamp) -> list[dict]:
    """One alert of every kind the drift checks write: the hourly monitor's ``cusum_up`` (open),
    ``cusum_down`` and ``weekday_pattern`` (cleared), the daily ``outside_band`` and ``coverage_drift``."""
    first, last = centers[0], centers[-1]
    model = "ensemble:ets=0.55+lgbm=0.30+seasonal_naive=0.15"
    cleared = now - pd.Timedelta(days=4)
    return [
        {"alert_id": "daily-band", "created_at": now, "center_id": first, "day": (now - pd.Timedelta(days=1)).date(),
         "kind": "outside_band",
         "message": f"{now - pd.Timedelta(days=1):%a %d %b}: 3410 orders, above the forecast 5%-95% range 2380-3200"},
        {"alert_id": "daily-coverage", "created_at": now - pd.Timedelta(days=2), "center_id": last,
         "day": (now - pd.Timedelta(days=2)).date(), "kind": "coverage_drift",
         "message": "only 3 of the last 7 days inside the 10%-90% band (expected about 6); actuals mostly below it: "
                    "demand has shifted, check promotions or retrain"},
        {"alert_id": "drift-open", "created_at": now - pd.Timedelta(hours=2), "center_id": first,
         "day": hour.date(), "kind": "cusum_up", "status": "open",
         "message": f"{first}: orders above the forecast since {hour - pd.Timedelta(hours=6):%a %d %b %H:00} "
                    "(today so far 131% of forecast); cusum_up log statistic 8.4 > 7.0: retrain triggered",
         "statistic": 8.4, "threshold": 7.0, "window_start": hour - pd.Timedelta(hours=6), "window_end": hour,
         "model_version": model,
         "evidence": {"orders_today": 1480, "expected_today": 1130.0, "ratio_today": 1.31, "pit_today": 0.993,
                      "rolling_days": 7, "rolling_coverage": 0.71}},
        {"alert_id": "drift-cleared", "created_at": now - pd.Timedelta(days=6), "center_id": last,
         "day": (now - pd.Timedelta(days=6)).date(), "kind": "cusum_down", "status": "cleared",
         "message": f"{last}: orders back in line with model ensemble:v0; alert cleared",
         "statistic": 7.6, "threshold": 7.0, "window_start": now - pd.Timedelta(days=9),
         "window_end": now - pd.Timedelta(days=6), "model_version": "ensemble:v0",
         "evidence": {"ratio_today": 0.74, "rolling_coverage": 0.46}, "cleared_at": cleared},
        {"alert_id": "drift-weekday", "created_at": now - pd.Timedelta(days=12), "center_id": first,
         "day": (now - pd.Timedelta(days=12)).date(), "kind": "weekday_pattern", "status": "cleared",
         "message": f"{first}: orders off the weekday pattern since "
                    f"{now - pd.Timedelta(days=19):%a %d %b %H:00}; weekday_pattern log statistic 7.3 > 7.0",
         "statistic": 7.3, "threshold": 7.0, "window_start": now - pd.Timedelta(days=19),
         "window_end": now - pd.Timedelta(days=12), "model_version": "ensemble:v0",
         "evidence": {"ratio_today": 1.12}, "cleared_at": now - pd.Timedelta(days=10)},
    ]


def seed_database(url: str, spec: SeedSpec | None = None) -> dict[str, pd.DataFrame]:
    """Fill an (empty) database with everything the dashboard shows; returns what was written."""
    spec = spec or SeedSpec()
    engine = make_engine(url)
    hourly = seed_hourly(engine, spec)
    days_of = hourly.assign(ds=hourly["ds"].dt.normalize())
    daily = days_of.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    seed_past_runs(engine, daily, spec)
    today = _today(spec.tz)
    forecast = forecast_rows(daily, CHAMPION, today, spec.horizon)
    store_run(engine, forecast, CHAMPION, _now_utc() - pd.Timedelta(minutes=5), today - pd.Timedelta(days=1),
              "champion", spec.horizon)
    written = {"hourly": hourly, "daily": daily, "forecast": forecast}
    if spec.challenger_lift is not None:
        lifted = forecast_rows(daily, CHALLENGER, today, spec.horizon, {spec.centers[0]: spec.challenger_lift})
        store_run(engine, lifted, CHALLENGER, _now_utc(), today - pd.Timedelta(days=1), "challenger", spec.horizon)
        written["challenger"] = lifted
    written["plan"] = seed_plan(engine, hourly, forecast, spec)
    seed_stream(engine, spec.centers, spec.tz)
    if spec.effect_per_pct is not None:
        rows = pd.DataFrame({"run_id": CHAMPION, "unique_id": list(spec.centers),
                             "effect_per_pct": spec.effect_per_pct, "promo_days": spec.promo_days})
        _insert(engine, promo_effects, rows)
        written["promo_effects"] = rows
    engine.dispose()
    return written
