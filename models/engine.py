"""The forecasting engine: backtest the model pool, pick ensemble weights, forecast.

:func:`run_engine` is the API the rest of the product calls (the nightly
retrainer, the ``fcplan forecast``/``backtest`` commands).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fcplan.core.calendar import HOLIDAY_COLUMNS, holiday_features
from fcplan.core.frequency import infer_freq
from fcplan.core.panel import (
    DS,
    KEYS,
    UNIQUE_ID,
    PanelError,
    covariate_columns,
    future_index,
    validate_future,
    validate_panel,
)
from fcplan.core.quantiles import check_levels, median_index, quantile_columns
from fcplan.models.backtest import (
    Split,
    WindowResult,
    make_splits,
    run_window,
    score,
    stack_predictions,
    usable_windows,
)
from fcplan.models.base import Forecaster
from fcplan.models.ensemble import EnsembleForecaster, apply_spread, calibrate_spread, combine, select_weights
from fcplan.models.registry import BASELINES, MODELS, get_model, hyperparameters

log = logging.getLogger(__name__)

LEADERBOARD_COLUMNS = ["model", "window", "wql", "wape", "mase", "coverage", "weight", "fit_seconds"]
ALL_WINDOWS = "all"
#: Series sampled to estimate a model's fit time against ``time_limit_s``.
PILOT_SERIES = 8
#: Default time budget (``time_limit_s=None``): this many seconds, plus
#: :data:`BUDGET_PER_SERIES_S` per series, at most :data:`MAX_DEFAULT_BUDGET_S`.
BASE_BUDGET_S = 20.0
BUDGET_PER_SERIES_S = 0.3
MAX_DEFAULT_BUDGET_S = 900.0
#: Order in which the pool is tried under a budget: cheap and usually strong first,
#: so that a tight budget drops the costly models (unlisted names go last).
COST_ORDER = (
    "seasonal_naive", "moving_average", "glm", "lightgbm", "theta", "ets", "mlp", "sarimax", "deepar"
)


def default_time_limit(n_series: int) -> float:
    """Seconds the engine allows itself when the caller gives no ``time_limit_s``:
    a few seconds on small panels, growing with the number of series."""
    return min(MAX_DEFAULT_BUDGET_S, BASE_BUDGET_S + BUDGET_PER_SERIES_S * n_series)


def _by_cost(names: Sequence[str]) -> list[str]:
    rank = {n: i for i, n in enumerate(COST_ORDER)}
    return sorted(names, key=lambda n: rank.get(n, len(COST_ORDER)))


def _is_local(name: str) -> bool:
    from fcplan.models.baselines import LocalForecaster

    return issubclass(MODELS[name], LocalForecaster)


def _accepts(name: str, param: str) -> bool:
    return param in hyperparameters(MODELS[name])


@dataclass(frozen=True)
class EngineResult:
    """``forecast``: ``unique_id, ds, model ("ensemble")`` + one column per level ("0.05", ...).
    ``leaderboard``: ``model, window, wql, wape, mase, coverage, weight, fit_seconds``
    (window is the backtest window number as text, or "all" for the mean over windows).
    ``error_correlation``: correlation of the models' median errors on the backtest.
    ``fallbacks``: unique_id -> why (some of) its models fell back to a baseline.
    ``model``: the fitted ensemble (the run's artifact: it forecasts again without refitting)."""

    forecast: pd.DataFrame
    leaderboard: pd.DataFrame
    weights: dict[str, float]
    error_correlation: pd.DataFrame
    fallbacks: dict[str, str]
    model: Any = None


def normalize_freq(freq: str | None) -> str | None:
    """Accept old aliases (``H``, ``T``) on any pandas version."""
    if freq is None:
        return None
    aliases = {"H": "h", "T": "min", "S": "s"}
    text = aliases.get(freq, freq)
    try:
        pd.tseries.frequencies.to_offset(text)
    except ValueError as exc:
        raise PanelError(f"unknown frequency {freq!r}; use a pandas alias such as D, W-WED or h") from exc
    return text


def prepare_inputs(
    history: pd.DataFrame,
    horizon: int,
    future: pd.DataFrame | None,
    freq: str | None,
    holiday_country: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Validate; keep only known-future covariates (those ``future`` has), add holiday
    flags for daily/weekly data. Returns (panel, future with covariates, freq)."""
    if horizon < 1:
        raise PanelError(f"horizon must be a positive number of steps, got {horizon}")
    panel = validate_panel(history)
    freq = normalize_freq(freq) or infer_freq(panel)
    fut = (
        validate_future(future, panel, horizon, freq)
        if future is not None
        else future_index(panel, horizon, freq)
    )
    known = [c for c in covariate_columns(panel) if c in fut.columns]
    past_only = [c for c in covariate_columns(panel) if c not in known]
    if past_only:
        log.info("covariates %s are not in future (past-only); models do not use them", past_only)
    panel = panel[[*KEYS, "y", *known]]
    fut = fut[[*KEYS, *known]]
    name = pd.tseries.frequencies.to_offset(freq).name.upper()
    if holiday_country and (name == "D" or name.startswith("W")):
        for frame in (panel, fut):
            frame[HOLIDAY_COLUMNS] = holiday_features(frame[DS], holiday_country).to_numpy()
    return panel, fut.reset_index(drop=True), freq


def _factory(name: str, params: dict[str, Any]) -> Callable[[], Forecaster]:
    return lambda: get_model(name, **params)


def _pilot_seconds(make: Callable[[], Forecaster], split: Split, freq: str) -> float:
    """Seconds to fit a model on ``PILOT_SERIES`` series of the split, per series."""
    ids = split.train[UNIQUE_ID].drop_duplicates().head(PILOT_SERIES)
    start = time.perf_counter()
    make().fit(split.train[split.train[UNIQUE_ID].isin(ids)], freq=freq)
    return (time.perf_counter() - start) / len(ids)


def _run_pool(
    names: Sequence[str],
    params: dict[str, dict[str, Any]],
    time_limits: dict[str, float],
    panel: pd.DataFrame,
    splits: list[Split],
    horizon: int,
    quantiles: list[float],
    freq: str,
    time_limit_s: float | None,
    start: float,
) -> list[WindowResult]:
    """Backtest each model on every split; skip models the time budget cannot afford.

    ``time_limits`` (name -> seconds) is filled with the training-time limit given to each
    global model's ``fit``, so that its final fit keeps to the same budget."""
    n_series = panel[UNIQUE_ID].nunique()
    results: list[WindowResult] = []
    for name in names:
        given = params.setdefault(name, {})
        budgeted = time_limit_s is not None and name not in BASELINES
        limit = None
        if budgeted and not _is_local(name):
            # a global model's cost does not scale with the series: limit its training time
            # so that its backtest windows and final fit take at most half the budget left
            left_s = time_limit_s - (time.perf_counter() - start)  # type: ignore[operator]
            limit = time_limits[name] = max(1.0, 0.5 * left_s / (len(splits) + 1))
        make = _factory(name, given)
        if budgeted and _is_local(name) and n_series > 2 * PILOT_SERIES:
            try:
                jobs = max(1, min(int(given.get("n_jobs", 1)), os.cpu_count() or 1))
                estimate = _pilot_seconds(make, splits[0], freq) * n_series * (len(splits) + 1) / jobs
            except Exception as exc:
                log.warning("model %s failed its pilot fit (%s); skipped", name, exc)
                continue
            if time.perf_counter() - start + estimate > time_limit_s:
                log.warning(
                    "model %s skipped: about %.0f s needed, %.0f s of the %.0f s budget left",
                    name,
                    estimate,
                    time_limit_s - (time.perf_counter() - start),
                    time_limit_s,
                )
                continue
        mine = []
        for i, split in enumerate(splits):
            t0 = time.perf_counter()
            mine.append(run_window(make, split, panel, horizon, quantiles, freq, name, time_limit=limit))
            took = time.perf_counter() - t0
            left = len(splits) - i  # remaining windows + the final fit
            if budgeted and time.perf_counter() - start + took * left > time_limit_s:  # type: ignore[operator]
                log.warning("model %s skipped: it would exceed the %.0f s time budget", name, time_limit_s)
                mine = []
                break
        if any(r.forecast is None for r in mine):
            log.warning("model %s failed on a backtest window; left out of the ensemble", name)
            continue
        results.extend(mine)
    return results


def fit_combination(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble weights ``(n_models,)`` and spread factors ``(n_q,)`` from backtest
    predictions ``(n_models, n_points, n_q)`` and ``actuals`` ``(n_points,)``."""
    w = select_weights(preds, actuals, levels, groups=groups, seed=seed)
    pred = np.sort(combine(list(preds), w), axis=-1)
    return w, calibrate_spread(pred, actuals, levels, groups)


def nested_ensemble(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int = 0
) -> np.ndarray:
    """``(n_points, n_q)`` ensemble forecasts of the backtest points, each window's with
    weights and spread chosen on the *other* windows (leave one window out), so the
    score is not flattered by choosing on the data it is scored on. With one window
    there is nothing else to choose on: in-sample."""
    groups = np.asarray(groups)
    windows = np.unique(groups)
    out = np.empty(preds.shape[1:])
    for g in windows:
        test = groups == g
        fit = ~test if len(windows) > 1 else test
        w, factors = fit_combination(preds[:, fit], actuals[fit], levels, groups[fit], seed)
        combined = np.sort(combine(list(preds[:, test]), w), axis=-1)
        out[test] = np.sort(apply_spread(combined, levels, dict(zip(levels, factors, strict=True))), axis=-1)
    return out


def _leaderboard(
    results: list[WindowResult],
    names: list[str],
    preds: np.ndarray,
    keys: pd.DataFrame,
    weights: dict[str, float],
    quantiles: list[float],
    seed: int = 0,
) -> pd.DataFrame:
    """Per model and window, and the mean over windows ("all"). The ensemble's rows are
    honest: each window is scored with weights and spread chosen on the other windows
    (see :func:`nested_ensemble`)."""
    rows = []
    for r in results:
        rows.append(
            {
                "model": r.model,
                "window": str(r.window),
                **score(r.forecast, quantiles),
                "weight": weights.get(r.model, 0.0),
                "fit_seconds": r.fit_seconds,
            }
        )
    if names:
        frame = keys.copy()
        frame[quantile_columns(quantiles)] = nested_ensemble(
            preds, keys["y"].to_numpy("float64"), quantiles, keys["window"].to_numpy(), seed
        )
        fit = {str(r.window): 0.0 for r in results}
        for r in results:
            fit[str(r.window)] += r.fit_seconds if weights.get(r.model, 0.0) > 0 else 0.0
        for window, part in frame.groupby("window", sort=True):
            rows.append(
                {
                    "model": "ensemble",
                    "window": str(window),
                    **score(part, quantiles),
                    "weight": 1.0,
                    "fit_seconds": fit[str(window)],
                }
            )
    board = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    if board.empty:
        return board
    mean = (
        board.groupby("model", sort=False)
        .agg(
            wql=("wql", "mean"),
            wape=("wape", "mean"),
            mase=("mase", "mean"),
            coverage=("coverage", "mean"),
            weight=("weight", "first"),
            fit_seconds=("fit_seconds", "sum"),
        )
        .reset_index()
    )
    mean.insert(1, "window", ALL_WINDOWS)
    return pd.concat([mean.sort_values("wql", kind="stable"), board], ignore_index=True)


def _error_correlation(names: list[str], preds: np.ndarray, keys: pd.DataFrame, median: int) -> pd.DataFrame:
    y = keys["y"].to_numpy("float64")
    ok = np.isfinite(y)
    if len(names) < 2 or ok.sum() < 3:
        return pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    errors = y[ok][None, :] - preds[:, ok, median]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(errors)
    return pd.DataFrame(corr, index=names, columns=names)


def _fallbacks(ensemble: EnsembleForecaster) -> dict[str, str]:
    by_series: dict[str, dict[str, list[str]]] = {}
    for model, reasons in ensemble.fallbacks_.items():
        for uid, reason in reasons.items():
            by_series.setdefault(uid, {}).setdefault(reason, []).append(model)
    return {
        uid: "; ".join(
            f"{reason} ({', '.join(models)} used seasonal naive)" for reason, models in reasons.items()
        )
        for uid, reasons in by_series.items()
    }


@dataclass(frozen=True)
class BacktestResult:
    """What the backtest of the pool gives: see :class:`EngineResult` for the frames."""

    leaderboard: pd.DataFrame
    weights: dict[str, float]
    error_correlation: pd.DataFrame
    members: list[str]
    #: constructor params of each member as backtested
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the training-time limit (s) each budgeted global member's ``fit`` was given
    time_limits: dict[str, float] = field(default_factory=dict)
    #: level -> factor on the ensemble's distance from the median (see ``calibrate_spread``)
    spread: dict[float, float] = field(default_factory=dict)


def _check_request(quantiles: Sequence[float], models: Sequence[str] | None) -> tuple[list[float], list[str]]:
    levels = check_levels(quantiles)
    names = list(models) if models is not None else list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise PanelError(f"unknown model(s) {unknown}; known models: {sorted(MODELS)}")
    return levels, [n for n in BASELINES if n not in names] + names  # the fallback is always there


def _evaluate(
    panel: pd.DataFrame,
    horizon: int,
    levels: list[float],
    freq: str,
    names: list[str],
    windows: int,
    time_limit_s: float | None,
    seed: int,
    params: dict[str, dict[str, Any]],
    start: float,
) -> BacktestResult:
    usable = usable_windows(panel, horizon, windows, freq)
    if 0 < usable < windows:
        log.warning("the history leaves room for %d of the %d backtest windows asked for (each needs %d steps "
                    "after at least %d of training); backtesting on %d", usable, windows, horizon, horizon, usable)
        windows = usable
    splits = make_splits(panel, horizon, windows, freq)
    if time_limit_s is None:
        time_limit_s = default_time_limit(panel[UNIQUE_ID].nunique())
        log.info("time budget %.0f s (the default for %d series; pass time_limit_s to change it)",
                 time_limit_s, panel[UNIQUE_ID].nunique())
    if not np.isfinite(time_limit_s):
        time_limit_s = None
    params = {n: dict(params.get(n, {})) for n in names}
    for name in names:  # global models learn the steps asked for, no more
        for key in ("max_horizon", "prediction_length"):
            if _accepts(name, key):
                params[name].setdefault(key, horizon)
    time_limits: dict[str, float] = {}
    results = _run_pool(
        _by_cost(names), params, time_limits, panel, splits, horizon, levels, freq, time_limit_s, start
    )
    member_names, preds, keys = stack_predictions(results, quantile_columns(levels))
    if not member_names:
        raise RuntimeError("every model failed on the backtest; see the log for the errors")
    w, factors = fit_combination(
        preds, keys["y"].to_numpy("float64"), levels, keys["window"].to_numpy(), seed
    )
    weights = {n: float(x) for n, x in zip(member_names, w, strict=True)}
    spread = {q: float(f) for q, f in zip(levels, factors, strict=True)}
    if any(f != 1.0 for f in factors):
        log.info("interval spread calibrated on the backtest: %s", {q: round(f, 2) for q, f in spread.items()})
    median = median_index(levels)
    return BacktestResult(
        leaderboard=_leaderboard(results, member_names, preds, keys, weights, levels, seed),
        weights=weights,
        error_correlation=_error_correlation(member_names, preds, keys, median),
        members=member_names,
        params={n: params.get(n, {}) for n in member_names},
        time_limits={n: time_limits[n] for n in member_names if n in time_limits},
        spread=spread,
    )


def run_backtest(
    history: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    freq: str | None = None,
    models: Sequence[str] | None = None,
    windows: int = 2,
    time_limit_s: float | None = None,
    holiday_country: str | None = None,
    seed: int = 0,
    model_params: dict[str, dict[str, Any]] | None = None,
) -> BacktestResult:
    """Backtest the pool and weight the ensemble, without a final forecast.

    ``history``: ``unique_id, ds, y`` + numeric covariates, all treated as known in
    advance (their values in the backtest windows come from the history).
    """
    start = time.perf_counter()
    levels, names = _check_request(quantiles, models)
    panel = validate_panel(history)
    future = future_index(panel, horizon, normalize_freq(freq) or infer_freq(panel))
    covs = covariate_columns(panel)
    future[covs] = 0.0  # placeholder values: only the backtest runs
    panel, _, freq = prepare_inputs(panel, horizon, future, freq, holiday_country)
    return _evaluate(
        panel, horizon, levels, freq, names, windows, time_limit_s, seed, model_params or {}, start
    )


def run_engine(
    history: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    future: pd.DataFrame | None = None,
    freq: str | None = None,
    models: Sequence[str] | None = None,
    windows: int = 2,
    time_limit_s: float | None = None,
    holiday_country: str | None = None,
    seed: int = 0,
    model_params: dict[str, dict[str, Any]] | None = None,
) -> EngineResult:
    """Backtest the pool on ``windows`` rolling windows, weight an ensemble, forecast.

    ``history``: ``unique_id, ds, y`` + numeric covariates; ``future``: ``unique_id, ds``
    + the covariates known in advance, one row per series and step of the horizon
    (a history covariate missing from ``future`` is past-only and not used).
    ``models``: registry names (default: all registered). ``time_limit_s`` skips
    models whose estimated fit time would exceed the budget (baselines always run);
    None means :func:`default_time_limit` (seconds on small panels), ``math.inf`` no limit.
    ``model_params``: name -> constructor params (e.g. ``{"ets": {"n_jobs": 2}}``).
    """
    start = time.perf_counter()
    levels, names = _check_request(quantiles, models)
    params = model_params or {}
    panel, fut, freq = prepare_inputs(history, horizon, future, freq, holiday_country)
    backtest = _evaluate(panel, horizon, levels, freq, names, windows, time_limit_s, seed, params, start)
    members = {n: get_model(n, **backtest.params.get(n, params.get(n, {}))) for n in backtest.members}
    ensemble = EnsembleForecaster(
        members, backtest.weights, spread=backtest.spread, time_limits=backtest.time_limits
    ).fit(panel, freq=freq)
    forecast = ensemble.predict_quantiles(horizon, future=fut, quantiles=levels)
    cols = quantile_columns(levels)
    forecast[cols] = np.sort(np.nan_to_num(forecast[cols].to_numpy("float64")), axis=1)
    log.info(
        "engine finished in %.1f s; weights %s",
        time.perf_counter() - start,
        {k: round(v, 3) for k, v in backtest.weights.items() if v > 0},
    )
    return EngineResult(
        forecast=forecast,
        leaderboard=backtest.leaderboard,
        weights=backtest.weights,
        error_correlation=backtest.error_correlation,
        fallbacks=_fallbacks(ensemble),
        model=ensemble,
    )
