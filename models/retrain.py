"""The retrainer's runner (``fcplan retrain``): daily totals from the database ->
ensemble engine -> forecast run, quantiles and leaderboard stored and published.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine

from fcplan.core.calendar import HOLIDAY_COLUMNS, holiday_features
from fcplan.core.contracts import ForecastRecord
from fcplan.core.locales import Locales
from fcplan.core.panel import DS, MODEL, UNIQUE_ID, future_index
from fcplan.core.promotions import EFFECT_PER_PCT, PROMO_DAYS
from fcplan.core.quantiles import quantile_columns
from fcplan.core.settings import ForecastSettings
from fcplan.core.webhook import Webhook
from fcplan.models.drift_loop import Closed, DriftLoop, open_alert_centers
from fcplan.models.model_registry import promote, register_run
from fcplan.models.promo_effect import estimate_promo_effect
from fcplan.models.promo_kinds import store_kind_effects
from fcplan.models.promotions import PROMO_DISCOUNT, promotion_features
from fcplan.models.retention import compact
from fcplan.storage import queries as q
from fcplan.storage import upsert, utcnow
from fcplan.storage.outage import reason, retry_outage
from fcplan.storage.schema import forecast_runs, forecasts, leaderboard, promo_effects

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class RetrainResult:
    run_id: str | None
    rows: int
    series: int
    message: str
    alerts: tuple[dict, ...] = ()  # the drift check's alert records, for the forecast-alerts topic
    decision: str = ""  # what the registry's decision rested on (:attr:`fcplan.models.champion.Decision.kind`)


def training_frames(
    engine: Engine, locales: Locales, steps: int, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (each center's complete local days before its local today at ``now``) and
    the ``steps`` future days after each center's last complete day, both with promotion
    covariates from the stored calendar and, where a center has a holiday country, its
    holiday flags (:data:`fcplan.core.calendar.HOLIDAY_COLUMNS`).

    Days follow each center's own zone and holidays its own country (``locales``)."""
    daily = q.daily_orders(engine, locales.timezone, zones=dict(locales.zones))
    if daily.empty:
        return daily, daily
    today = daily[UNIQUE_ID].map({c: locales.today(c, now) for c in daily[UNIQUE_ID].unique()})
    daily = daily[daily[DS] < today].reset_index(drop=True)
    if daily.empty:
        return daily, daily
    yesterday = {c: locales.today(c, now) - pd.Timedelta(days=1) for c in daily[UNIQUE_ID].unique()}
    last = daily.groupby(UNIQUE_ID)[DS].max()
    stale = last[last < last.index.map(yesterday)]
    if not stale.empty:
        log.warning(
            "centers %s have no orders up to yesterday; their forecasts start after their last day",
            list(stale.index),
        )
    future = future_index(daily, steps, "D")
    days = pd.date_range(daily[DS].min(), future[DS].max(), freq="D")
    calendar = q.promotion_calendar(engine)
    covariates = pd.concat(
        [promotion_features(calendar, ids, days, zone) for zone, ids in locales.by_zone(daily[UNIQUE_ID]).items()],
        ignore_index=True,
    )
    history = daily.merge(covariates, on=[UNIQUE_ID, DS], how="left").fillna(0.0)
    future = future.merge(covariates, on=[UNIQUE_ID, DS], how="left").fillna(0.0)
    return with_holidays(history, locales), with_holidays(future, locales)


def with_holidays(frame: pd.DataFrame, locales: Locales) -> pd.DataFrame:
    """``frame`` (``unique_id, ds, ...`` daily) with each center's own holiday flags; 0 for a
    center without a holiday country; unchanged when no center has one."""
    groups = locales.by_country(frame[UNIQUE_ID])
    if not any(country for country in groups):
        return frame
    out = frame.reset_index(drop=True).copy()
    out[HOLIDAY_COLUMNS] = 0.0
    for country, ids in groups.items():
        rows = out[UNIQUE_ID].isin(ids)
        if country and rows.any():
            out.loc[rows, HOLIDAY_COLUMNS] = holiday_features(out.loc[rows, DS], country).to_numpy()
    return out


def retrain(
    engine: Engine,
    cfg: ForecastSettings,
    tz: str,
    now: datetime | None = None,
    alerted_centers: tuple[str, ...] = (),
    drift_hours: int = 48,
    locales: Locales | None = None,
    closed: Closed | None = None,
) -> RetrainResult:
    """Fit the ensemble on every center's daily orders, store the forecast run as a
    challenger and decide the champion.

    First the drift monitor judges the last ``drift_hours`` hours against the
    champion (0 skips it: a caller that runs :class:`fcplan.models.drift_loop.DriftLoop`
    every hour passes 0 and names the alerted centers in ``alerted_centers``);
    centers with open alerts count as drifted in the decision. The run covers
    today (D+0, still filling) and D+1..D+horizon.

    ``locales``: each center's zone and holiday country (the centers file); its days
    and holidays are its own. Default: every center in ``tz`` with ``cfg.holiday_country``.
    ``closed``: the centers' closed days, for the drift loop's silence watch (:data:`fcplan.models.drift_loop.Closed`).
    """
    from fcplan.models.engine import run_engine

    now = now or datetime.now(ZoneInfo(tz))
    today = pd.Timestamp(now.astimezone(ZoneInfo(tz)).date())
    alerts: tuple[dict, ...] = ()
    if drift_hours > 0:
        hook = Webhook(cfg.alert_webhook) if cfg.alert_webhook else None
        try:
            loop = DriftLoop(engine, locales or tz, webhook=hook.send if hook else None, backfill_hours=drift_hours,
                             closed=closed)
            loop.run_once(now)
            alerts = tuple(loop.payloads)
        except Exception:  # a failing drift check must not stop the forecasts and plans
            log.exception("drift check failed; retraining anyway")
        finally:
            if hook is not None:
                hook.close()
    alerted = (*alerted_centers, *open_alert_centers(engine))
    steps = cfg.horizon + 1
    locales = locales or Locales(tz, cfg.holiday_country or None)
    history, future = training_frames(engine, locales, steps, now)
    if history.empty:
        return RetrainResult(None, 0, 0, "no orders stored yet: start the worker and send orders first")
    lengths = history.groupby(UNIQUE_ID).size()
    if int(lengths.max()) < cfg.min_history_days:
        return RetrainResult(
            None,
            0,
            0,
            f"every center has fewer than {cfg.min_history_days} complete days of orders "
            f"(most: {int(lengths.max())}); wait for more history or lower FCPLAN_FORECAST_MIN_HISTORY_DAYS",
        )
    # Series too short to backtest still get a forecast: the engine falls back to baselines.
    started = time.perf_counter()
    result = run_engine(
        history,
        horizon=steps,
        quantiles=cfg.quantiles,
        future=future,
        freq="D",
        models=list(cfg.models),
        windows=grid_windows(cfg),
        time_limit_s=cfg.time_limit_s,
        holiday_country=None,  # each center's own holidays are in the frames already
        grid=True,  # champion and challenger are compared on the windows their runs share
        grid_step=cfg.backtest_step_days,
    )
    fit_seconds = time.perf_counter() - started
    run_id = f"{today:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    version = "ensemble:" + "+".join(f"{m}={w:.2f}" for m, w in sorted(result.weights.items()) if w > 0)
    # The fit is the expensive part: a short outage while storing it is waited out.
    retry_outage(
        lambda: store_run(engine, run_id, version, result, cfg, history[DS].max(), fit_seconds, now),
        on_retry=_storing_retry,
    )
    window = (history[DS].min().date(), history[DS].max().date())
    retry_outage(
        lambda: register_run(engine, run_id, cfg.model_dump(), *window, result.model), on_retry=_storing_retry
    )
    retry_outage(lambda: store_promo_effect(engine, run_id, history), on_retry=_storing_retry)
    retry_outage(lambda: store_kind_effects(engine, run_id, history, locales), on_retry=_storing_retry)
    decision = retry_outage(lambda: promote(engine, tz, today.date(), alerted, now=now), on_retry=_storing_retry)
    try:
        compact(engine, today.date())
    except Exception:  # retention is housekeeping: the run and its decision are stored
        log.exception("compacting superseded forecasts failed; will try again after the next retrain")
    rows = len(result.forecast)
    return RetrainResult(
        run_id,
        rows,
        int(lengths.size),
        f"forecast run {run_id}: {rows} rows in {fit_seconds:.1f}s; registry: {decision.reason}",
        alerts,
        decision.kind,
    )


def grid_windows(cfg: ForecastSettings) -> int:
    """The retrainer's backtest windows: ``backtest_windows``, and at least enough, one grid
    step apart, to span the forecast (15 days on a weekly grid: 3), so that runs up to a week
    apart share all but one of them (fewer are used while the history is short)."""
    return max(cfg.backtest_windows, math.ceil((cfg.horizon + 1) / cfg.backtest_step_days))


def _storing_retry(exc: BaseException, delay_s: float) -> None:
    log.warning("database unavailable while storing the forecast run (%s); retrying in %.0fs", reason(exc), delay_s)


def store_run(
    engine: Engine,
    run_id: str,
    version: str,
    result: object,
    cfg: ForecastSettings,
    data_end: pd.Timestamp,
    fit_seconds: float,
    now: datetime | None = None,
) -> None:
    """The run's forecasts and board; ``now`` (tz-aware; default the wall clock) is its ``created_at``."""
    fc = result.forecast  # type: ignore[attr-defined]
    levels = list(cfg.quantiles)
    cols = quantile_columns(levels)
    long = fc.melt(id_vars=[UNIQUE_ID, DS, MODEL], value_vars=cols, var_name="quantile", value_name="value")
    long["quantile"] = long["quantile"].astype(float)
    long[MODEL] = ENSEMBLE
    forecast_rows = [
        {
            "run_id": run_id,
            "unique_id": u,
            "ds": d.date(),
            "model": m,
            "quantile": float(qq),
            "value": float(v),
        }
        for u, d, m, qq, v in zip(
            long[UNIQUE_ID],
            pd.to_datetime(long[DS]),
            long[MODEL],
            long["quantile"],
            long["value"],
            strict=True,
        )
    ]
    board = result.leaderboard  # type: ignore[attr-defined]
    board_rows = [
        {
            "run_id": run_id,
            "model": str(r["model"]),
            "window": _window_number(r["window"]),
            **{
                k: (None if pd.isna(r.get(k)) else float(r[k]))
                for k in ("wql", "wape", "mase", "coverage", "weight", "fit_seconds")
            },
        }
        for r in board.to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(
            forecast_runs.insert(),
            {
                "run_id": run_id,
                "created_at": utcnow(now),
                "model_version": version[:128],
                "horizon": cfg.horizon,
                "quantiles": levels,
                "weights": {k: float(v) for k, v in result.weights.items()},  # type: ignore[attr-defined]
                "data_end": pd.Timestamp(data_end).date(),
                "fit_seconds": fit_seconds,
                "fallbacks": dict(result.fallbacks),  # type: ignore[attr-defined]
                "error_correlation": getattr(result, "member_correlation", None) or None,
                "backtest_cutoffs": [pd.Timestamp(c).isoformat() for c in getattr(result, "cutoffs", ())] or None,
            },
        )
        upsert(conn, forecasts, forecast_rows, ["run_id", "unique_id", "ds", "model", "quantile"])
        upsert(conn, leaderboard, board_rows, ["run_id", "model", "window"])


def store_promo_effect(engine: Engine, run_id: str, history: pd.DataFrame) -> pd.DataFrame:
    """Estimate the discount uplift from ``history`` (``unique_id, ds, y, promo_discount_frac``)
    and store it for ``run_id`` (the dashboard's what-if page reads it); returns it."""
    effects = estimate_promo_effect(history[[UNIQUE_ID, DS, "y", PROMO_DISCOUNT]])
    rows = [
        {
            "run_id": run_id,
            "unique_id": str(r[UNIQUE_ID]),
            "effect_per_pct": float(r[EFFECT_PER_PCT]),
            "promo_days": int(r[PROMO_DAYS]),
        }
        for r in effects.to_dict("records")
    ]
    if rows:
        with engine.begin() as conn:
            upsert(conn, promo_effects, rows, ["run_id", "unique_id"])
    return effects


def _window_number(window: object) -> int:
    """Backtest window index; -1 for the mean over windows (the engine says "all")."""
    try:
        return int(window)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def forecast_records(engine: Engine, run_id: str) -> list[tuple[str, ForecastRecord]]:
    """``(center, record)`` pairs of a run, for the ``forecasts`` topic."""
    run = q.forecast_run(engine, run_id)
    version = (run.get("version") or run["model_version"]) if run else ""
    frame = q.forecast_frame(engine, run_id)
    levels = [c for c in frame.columns if c not in (UNIQUE_ID, DS, MODEL)]
    return [
        (
            r[UNIQUE_ID],
            ForecastRecord(
                run_id=run_id,
                model_version=version,
                center_id=r[UNIQUE_ID],
                ds=pd.Timestamp(r[DS]).date(),
                quantiles={c: float(r[c]) for c in levels},
            ),
        )
        for r in frame.to_dict("records")
    ]
