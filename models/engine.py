"""The forecasting engine: backtest the model pool, pick ensemble weights, forecast.

:func:`run_engine` is the API the rest of the product calls (the nightly
retrainer, the ``fcplan forecast``/``backtest`` commands).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from fcplan.core.calendar import HOLIDAY_COLUMNS, holiday_features
from fcplan.core.frequency import (
    check_fills_grid,
    check_on_grid,
    check_series_steps,
    infer_freq,
    season_is_a_year,
    season_length,
    weekly_anchor,
)
from fcplan.core.panel import (
    DS,
    KEYS,
    UNIQUE_ID,
    PanelError,
    Y,
    check_observed,
    covariate_columns,
    future_index,
    validate_future,
    validate_panel,
)
from fcplan.core.quantiles import check_levels, median_index, quantile_columns
from fcplan.models.backtest import (
    SCALE,
    Split,
    WindowResult,
    make_splits,
    point_evidence,
    run_window,
    score,
    stack_predictions,
    usable_windows,
)
from fcplan.models.bagging import bagged, base_name
from fcplan.models.base import Forecaster
from fcplan.models.conformal import Calibration, fit_conformal
from fcplan.models.ensemble import (
    Calibrator,
    EnsembleForecaster,
    SpreadCalibration,
    calibrate_spread,
    choose_snap,
    combine,
    count_series,
    fit_members,
    select_weights,
    snap_counts,
)
from fcplan.models.feature_selection import FeatureSelection, empty_table, make_member, select_features
from fcplan.models.flag_widening import FlagPrior, Flags, find_flags, flag_prior
from fcplan.models.metrics import bands, window_wql
from fcplan.models.registry import BASELINES, MODELS, hyperparameters
from fcplan.models.workers import Shared, Submitted, leave_if_bootstrapping, usable, warm_up, worker

log = logging.getLogger(__name__)

LEADERBOARD_COLUMNS = ["model", "window", "wql", "wape", "mase", "coverage", "weight", "fit_seconds"]
ALL_WINDOWS = "all"
#: Series sampled to estimate a model's fit time against ``time_limit_s``.
PILOT_SERIES = 8
#: A panel of more cells (series x steps) than this is *large*: there the global neural
#: models train for a fixed number of gradient steps (:data:`LARGE_PANEL_PARAMS`, their
#: ``epochs x batches_per_epoch``: 500 batches of 256 windows) however many series
#: it has, instead of their ``passes`` over the data up to the same cap; and
#: DeepAR, whose recurrent steps cost most, is left out of the default pool. The caller's
#: ``model_params`` win.
LARGE_PANEL_CELLS = 50_000
#: Without ``time_limit_s`` the work is bounded by the data, never by seconds (so the
#: same input and seed give the same forecast on any machine load): global models
#: train for their epochs / boosting rounds, and a model (local, or DeepAR) is left out of the
#: *default* pool (logged) on panels of more than this many cells (series x the steps
#: it fits on, at most its ``max_length``), where its per-series fits would dominate.
MAX_DEFAULT_CELLS: dict[str, int] = {"sarimax": 40_000, "ets": 400_000, "deepar": LARGE_PANEL_CELLS}
#: The networks are not refit for the final forecast: their fit on the newest backtest
#: window's training data (``horizon`` steps shorter) forecasts from the whole history
#: (:meth:`Forecaster.with_history`, as AutoGluon-TS without ``refit_full``). They train for a
#: fixed step budget in this process (the critical path: the worker runs the others meanwhile),
#: and their final refit was a third of it. Measured on the speed panel (1,000 weekly series):
#: wQL -0.2 % (seed 0) and +0.6 % (seed 1), 4-5 s less CPU in this process; on the dev suite
#: (fcplan alone, 3 windows each): flights_sparse_daily 0.3204 -> 0.3192, cheese_weekly 0.1412 ->
#: 0.1415, tuna, flights_origin, elec, births and hyndsight unchanged, a third fewer network
#: fits where networks hold weight. LightGBM could be reused too (it is ``updatable``) but lost
#: 0.2-0.4 % wQL on both seeds of the speed panel, for a refit that runs beside the others: it is
#: refit; so is DeepAR (not updatable).
REUSE_NETWORK_FITS = True
LARGE_PANEL_PARAMS: dict[str, dict[str, int]] = {
    "mlp": {"epochs": 10, "batches_per_epoch": 50},
    "tide": {"epochs": 10, "batches_per_epoch": 50},
    "deepar": {"epochs": 10, "batches_per_epoch": 40},
}
#: How the ensemble's quantiles are calibrated on the backtest: conformal offsets
#: (:mod:`fcplan.models.conformal`, the default), the width factors used before them
#: (``"spread"``, see :func:`fcplan.models.ensemble.calibrate_spread`), or not at all.
CALIBRATIONS = ("conformal", "spread", "none")
#: Calibration evidence on panels of few series: the backtest windows are topped up with
#: older calibration windows (only the ensemble's members are refit there) up to about
#: this many series x windows, at most :data:`MAX_CALIBRATION_WINDOWS` windows in all.
CALIBRATION_SERIES_WINDOWS = 24
MAX_CALIBRATION_WINDOWS = 6
#: A member whose backtest weight is below this is dropped and the weights re-selected over
#: the others (fewer refits for calibration and the final fit). Off (0) by default: at 0.05
#: the dev suite's wQL was about 1 % worse on cheese_weekly and flights_origin_daily.
MIN_MEMBER_WEIGHT = 0.0
#: The ensemble members' final fits on the whole history (those of positive weight, less the reused
#: network fits) are placed with the calibration windows' fits, in the same two processes, instead
#: of after them: neither needs the other (the weights are known once the backtest is done). On
#: tuna_weekly the final LightGBM fit had run after the two calibration windows' LightGBM fits; now
#: the three share the two cores. The members and their forecasts are the same: only the order of
#: the fits and the process each runs in change. Without a worker process (a time budget, one core)
#: the ensemble fits them as before.
FINAL_WITH_CALIBRATION = True
#: Members with less weight than this are not refit on the calibration windows (the ensemble
#: there is the others', renormalised): a member of a few percent barely moves the ensemble's
#: errors, and its refits can cost most of the calibration (flights_origin_daily: sarimax
#: at 2 % of the weight, about a third of the run's time).
CALIBRATION_MIN_WEIGHT = 0.1
#: DeepAR trains on windows of ``context + horizon`` steps; it is left out of the default
#: pool where the median series has fewer than this many such windows of history: there it
#: has too few distinct windows to learn from (its backtest weight was ~0 on the dev suite's
#: one-year daily and short weekly panels) and it is the pool's costliest member.
MIN_DEEPAR_WINDOWS = 10
#: The global networks (:func:`_is_neural`: MLP, TiDE, DeepAR) learn one model across the
#: series; they are left out of the default pool on panels of fewer series than this. On one
#: to three series there is nothing to learn across, and a network of a few thousand weights
#: sees the few hundred windows of one history: trained for its ``passes`` budget (30 batches
#: there) it has not left its initialisation (each quantile increment starts at ``softplus(0)``
#: scales: on jfk_daily the 0.1 quantile was 0 and the 0.9 twice the level, training pinball
#: 0.44 scales); trained to a large panel's 500 batches it fits the history (pinball 0.005) and
#: still forecasts 5 x SeasonalNaive's wQL with too narrow a band. Session 18, fcplan alone, 3
#: windows: on the 11 panels of 1-3 series (dev suite and benchmarks/short_daily.py) MLP and
#: TiDE were 1.4-54 x the ensemble's backtest wQL, 3-54 x on 9 of them (births_daily, 20 years
#: of one series: 20-26 x), and DeepAR, where the series were long enough for it, 1.1-6 x; none
#: had weight on any window.
#: They first earn weight on cheese_weekly (88 series) and tuna_weekly (7). Leaving them out
#: changes no forecast there and saves their fits and torch's import. The vendors say as much:
#: DeepAR "outperforms the standard ARIMA and ETS methods" when the dataset "contains hundreds of
#: related time series" (SageMaker's DeepAR guide).
MIN_NETWORK_SERIES = 4
#: Racing (one round of successive halving): every model is backtested on the newest
#: window first; a model that got no ensemble weight there and whose wQL was more than
#: this many times the best model's is not backtested on the other windows (nor refit):
#: it cannot earn weight, and on small panels the global networks cost most of the time
#: (flights_origin_daily: mlp, tide and sarimax at 1.7-2.7x the best, no weight, 3/4 of the
#: time). Baselines always run on. A data rule, not a clock: the result does not depend on
#: the machine's load. 0 turns racing off; under ``time_limit_s`` the budget decides instead.
RACE_RATIO = 1.5
#: The race's ratio for the networks (:func:`_is_neural`: MLP, TiDE, DeepAR), the costliest
#: members on small panels: one that got no weight in the newest window's ensemble is stopped
#: unless its wQL there was at most this many times the best model's (1: only a tie runs on).
#: On flights_sparse_daily MLP and TiDE got no weight but were within 1.5x of the best, ran
#: every window and got no weight in the end (3/4 of the run's CPU in this process): there the
#: run's CPU fell 18 % (wQL 0.3167 -> 0.3163); see benchmarks/DEVSUITE.md for the other panels.
NETWORK_RACE_RATIO = 1.0
#: Registered models the default pool leaves out (pass ``models=...`` to use them): the
#: recursive LightGBM (:mod:`fcplan.models.recursive`) added to the default pool moved the
#: dev suite's wQL by -2.6 % (elec_hourly), -0.8 % (cheese_weekly), 0 (tuna_weekly), +1.9 %
#: (flights_origin_daily) and +4.1 % (hyndsight_daily): the backtest gave it weight it did not
#: keep on the test windows of the two small daily panels.
OPT_IN = ("lightgbm_recursive",)
#: Order in which the pool is tried under a budget: cheap and usually strong first,
#: so that a tight budget drops the costly models (unlisted names go last).
COST_ORDER = (
    "seasonal_naive", "moving_average", "tsb", "glm", "lightgbm", "lightgbm_recursive", "theta", "ets", "mlp",
    "sarimax", "deepar",
)


#: Backtest windows (where the ensemble's weights are chosen) when the caller names none.
DEFAULT_WINDOWS = 2
#: ... and where the season is a year (monthly, quarterly data: :func:`season_is_a_year`), as many as
#: the history leaves room for, up to this. A window there holds one horizon of a few series, and the
#: greedy weights chosen on two of them followed one lucky window: on AirPassengers (one series)
#: LightGBM, the best member of the two windows before the oldest test window, got 0.86 of the
#: weight and scored 0.084 there against 0.027-0.036 for ETS, SARIMAX and the seasonal naive
#: (the ensemble 0.041 against its best member's 0.026 over the 3 test windows). Greedy on 4
#: windows instead of 2 (benchmarks/weight_replay.py, uncalibrated, 3 test windows):
#: airpassengers_monthly 0.84, quarterly_mixed 0.96, visnights_quarterly 0.97, monthly_mixed
#: 1.01 x. On daily data (session 14, the short daily panels) it was 1.4 % worse (geo mean), so
#: daily, weekly and hourly data keep :data:`DEFAULT_WINDOWS`. The members' fits on these short
#: series take milliseconds to a second, and the calibration's older windows are the same
#: windows (:func:`calibration_windows` tops up to the same total), now fitted by every member.
YEARLY_WINDOWS = 4


#: The oldest of the :data:`YEARLY_WINDOWS` trains on at least this many seasons (+ 2 points), what
#: the seasonal local models need (``LocalForecaster.min_seasons``): a window where ETS, SARIMAX and
#: Theta fell back to the seasonal naive misjudges them. On monthly_mixed's oldest test window (66
#: months of history) the fourth window trained on 18 months and moved weight from LightGBM and
#: ETS to the seasonal naive and the moving average: wQL 0.0215 on 2 windows, 0.0229 on 4.
YEARLY_MIN_TRAIN_SEASONS = 2


def default_windows(panel: pd.DataFrame, horizon: int, freq: str, grid: bool = False,
                    grid_step: int | None = None) -> int:
    """The backtest windows of a run whose caller named none: where the season is a year, as many
    as the history leaves room for up to :data:`YEARLY_WINDOWS`, the oldest training on
    :data:`YEARLY_MIN_TRAIN_SEASONS` seasons (but never fewer than :data:`DEFAULT_WINDOWS`);
    else :data:`DEFAULT_WINDOWS`."""
    if not season_is_a_year(freq):
        return DEFAULT_WINDOWS
    need = max(horizon, YEARLY_MIN_TRAIN_SEASONS * season_length(freq) + 2)  # the oldest window's training
    return max(DEFAULT_WINDOWS, usable_windows(panel, horizon, YEARLY_WINDOWS, freq, grid, grid_step, need))


#: Candidate factors of the members' median spread added to the ensemble's quantiles
#: (:func:`fcplan.models.ensemble.combine`), chosen per run by :func:`choose_disagreement`.
DISAGREEMENT_GRID = (0.0, 0.5, 1.0)


def panel_cells(panel: pd.DataFrame) -> int:
    """Series x steps of ``panel`` (its rows)."""
    return len(panel)


def _deepar_window(freq: str, horizon: int) -> int:
    """Steps of one DeepAR training window at its default context (see ``DeepAR._setup``)."""
    return max(28, 2 * season_length(freq)) + horizon


def default_pool(
    names: Sequence[str], panel: pd.DataFrame, freq: str | None = None, horizon: int | None = None
) -> list[str]:
    """``names`` less the models the panel is too large for (see :data:`MAX_DEFAULT_CELLS`),
    the global networks on a panel of too few series (see :data:`MIN_NETWORK_SERIES`)
    and, given ``freq`` and ``horizon``, DeepAR where the series are too short for its
    training windows (see :data:`MIN_DEEPAR_WINDOWS`)."""
    lengths = panel.groupby(UNIQUE_ID, sort=False).size().to_numpy()
    keep = []
    for name in names:
        if base_name(name) in MODELS and _is_neural(name) and len(lengths) < MIN_NETWORK_SERIES:
            log.info("model %s left out of the default pool: %d series, fewer than the %d a global network "
                     "learns across (pass models=... to try it)", name, len(lengths), MIN_NETWORK_SERIES)
            continue
        if name == "tsb" and not any_intermittent(panel):
            log.info("model tsb left out of the default pool: no intermittent series (pass models=... to try it)")
            continue
        if name == "deepar" and freq is not None and horizon is not None:
            width = _deepar_window(freq, horizon)
            if np.median(lengths) < MIN_DEEPAR_WINDOWS * width:
                log.warning("model deepar left out of the default pool: median series length %d, under %d "
                            "windows of its %d steps (pass models=... to try it)",
                            int(np.median(lengths)), MIN_DEEPAR_WINDOWS, width)
                continue
        cap = MAX_DEFAULT_CELLS.get(name)
        if cap is None:
            keep.append(name)
            continue
        max_length = MODELS[name]().params.get("max_length") or int(lengths.max())
        cells = int(np.minimum(lengths, max_length).sum())
        if cells > cap:
            log.warning("model %s left out of the default pool: %d series x steps, more than its %d "
                        "(pass models=... or a time limit to try it)", name, cells, cap)
            continue
        keep.append(name)
    return keep


def any_intermittent(panel: pd.DataFrame) -> bool:
    """Whether a series of ``panel`` has demand in at most ``POOL_OCCURRENCE`` of its periods
    (:mod:`fcplan.models.intermittent`): only then is TSB in the default pool."""
    from fcplan.models.intermittent import POOL_OCCURRENCE

    share = (panel[Y] > 0).groupby(panel[UNIQUE_ID], sort=False).mean()
    return bool((share <= POOL_OCCURRENCE).any())


def calibration_windows(n_series: int, windows: int) -> int:
    """Older windows added for calibration evidence (see :data:`CALIBRATION_SERIES_WINDOWS`)."""
    want = min(MAX_CALIBRATION_WINDOWS, math.ceil(CALIBRATION_SERIES_WINDOWS / max(n_series, 1)))
    return max(0, want - windows)


def _by_cost(names: Sequence[str]) -> list[str]:
    rank = {n: i for i, n in enumerate(COST_ORDER)}
    return sorted(names, key=lambda n: rank.get(base_name(n), len(COST_ORDER)))


def _is_local(name: str) -> bool:
    from fcplan.models.baselines import LocalForecaster

    return issubclass(MODELS[base_name(name)], LocalForecaster)


def _is_neural(name: str) -> bool:
    return MODELS[base_name(name)].__module__.startswith("fcplan.models.neural")


def _accepts(name: str, param: str) -> bool:
    return param in hyperparameters(MODELS[base_name(name)])


@dataclass(frozen=True)
class EngineResult:
    """``forecast``: ``unique_id, ds, model ("ensemble")`` + one column per level ("0.05", ...).
    ``leaderboard``: ``model, window, wql, wape, mase, coverage, weight, fit_seconds``, then
    the coverage of every central band (``coverage_80``...) (window is the backtest window
    number as text, or "all" for the mean over windows).
    ``error_correlation``: correlation of the models' median errors on the backtest.
    ``fallbacks``: unique_id -> why (some of) its models fell back to a baseline.
    ``model``: the fitted ensemble (the run's artifact: it forecasts again without refitting)."""

    forecast: pd.DataFrame
    leaderboard: pd.DataFrame
    weights: dict[str, float]
    error_correlation: pd.DataFrame
    fallbacks: dict[str, str]
    model: Any = None
    #: :func:`member_correlation` of the run (stored with it, for the dashboard)
    member_correlation: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: the backtest windows' cutoffs, window 0 (the oldest) first: the leaderboard's window
    #: ``w`` was scored on the ``horizon`` steps after ``cutoffs[w]`` (stored with the run)
    cutoffs: tuple[pd.Timestamp, ...] = ()
    #: with ``select_features``: the score-contributor table of the covariate selection
    #: (:func:`fcplan.models.feature_selection.select_features`); empty otherwise
    feature_table: pd.DataFrame = field(default_factory=empty_table)


#: Old pandas aliases of calendar periods (``M``, ``Q``, ``Y``/``A``) and the prefix of their new names.
_RENAMED_PERIODS = {"M": "M", "BM": "BM", "Q": "Q", "BQ": "BQ", "Y": "Y", "A": "Y", "BY": "BY", "BA": "BY"}


def normalize_freq(freq: str | None) -> str | None:
    """Accept old aliases (``H``, ``T``) on any pandas version."""
    if freq is None:
        return None
    aliases = {"H": "h", "T": "min", "S": "s"}
    text = aliases.get(freq, freq)
    head, _, anchor = text.strip().upper().partition("-")
    period = _RENAMED_PERIODS.get(head.lstrip("0123456789"))
    if period:  # pandas 3 refuses the old month/quarter/year aliases ("unknown frequency 'M'"), pandas 2 warns
        n, tail = head[: len(head) - len(head.lstrip("0123456789"))], f"-{anchor}" if anchor else ""
        raise PanelError(
            f"--freq {freq!r} is no longer a pandas alias; use {n}{period}E{tail} for dates at the period's "
            f"end or {n}{period}S for dates at its start (or leave --freq out: it is inferred)"
        )
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
    if panel.empty:  # (with a freq given, nothing else said so: a TypeError comparing dates with a Timedelta)
        raise PanelError("the history has no rows; give it one row per series and timestamp (unique_id, ds, y)")
    check_observed(panel)
    given = normalize_freq(freq)
    if given:
        given = weekly_anchor(panel, given)
    freq = given or infer_freq(panel)
    check_on_grid(panel, freq)
    if given:
        check_fills_grid(panel, given)
    check_series_steps(panel, freq)
    panel = _from_first_observation(panel)
    fut = (
        validate_future(future, panel, horizon, freq)
        if future is not None
        else future_index(panel, horizon, freq)
    )
    if future is not None and Y in future.columns:
        _future_target(future)
    if future is not None and UNIQUE_ID in future.columns:  # their rows were dropped without a word
        unseen = sorted({str(i).strip() for i in pd.unique(future[UNIQUE_ID])} - set(pd.unique(panel[UNIQUE_ID])))
        if unseen:
            log.warning("future series %s (%d) are not in the history, so they get no forecast: add their past rows "
                        "to the history (ids must match as written)", unseen[:5], len(unseen))
    known = [c for c in covariate_columns(panel) if c in fut.columns]
    past_only = [c for c in covariate_columns(panel) if c not in known]
    if past_only:
        log.info("covariates %s are not in future (past-only); models do not use them", past_only)
    future_only = [c for c in covariate_columns(fut) if c not in known]
    if future_only:  # dropped without a word before
        log.warning("future covariate(s) %s are not in the history, so no model can learn their effect; they are "
                    "ignored (add them to the history with their past values to use them)", future_only)
    panel = panel[[*KEYS, "y", *known]]
    fut = fut[[*KEYS, *known]]
    if future is not None:
        _future_outside_history(panel, fut, known)
    _unseen_times(panel, fut, freq)
    _isolated_last_values(panel)
    _ended_early(panel, horizon, freq)
    name = pd.tseries.frequencies.to_offset(freq).name.upper()
    if holiday_country and (name in ("D", "B") or name.startswith("W")):
        for frame in (panel, fut):
            frame[HOLIDAY_COLUMNS] = holiday_features(frame[DS], holiday_country).to_numpy()
    return panel, fut.reset_index(drop=True), freq


def _future_outside_history(panel: pd.DataFrame, future: pd.DataFrame, covariates: Sequence[str]) -> None:
    """Log a warning naming each known-ahead covariate whose future values the history cannot speak
    for: one constant in the history (no model can learn its effect: a promotion flag 0 in every past
    row and 1 ahead was ignored without a word), or one whose future values lie beyond its history's
    range by more than that range's width (a 0/1 flag given as 1e6 ahead, a price in other units:
    the models extrapolated its effect without a word). The calendar's holiday flags
    (:data:`~fcplan.core.calendar.HOLIDAY_COLUMNS`, as the retrain adds them) never active in the
    history are only noted: every history shorter than a year meets holidays it has not seen, and
    the flag widening (:mod:`fcplan.models.flag_widening`) is there for them."""
    constant, far, calendar = [], [], []
    for col in covariates:
        past = panel[col].to_numpy("float64")
        past = past[np.isfinite(past)]
        ahead = future[col].to_numpy("float64")
        if past.size == 0 or ahead.size == 0:
            continue
        low, high = float(past.min()), float(past.max())
        width = high - low
        if width == 0:
            if (ahead != low).any():  # the calendar's own flags: a holiday the history does not reach yet
                (calendar if col in HOLIDAY_COLUMNS else constant).append(f"{col} ({low:g} in every past row)")
            continue
        outside = (ahead < low - width) | (ahead > high + width)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            far.append(f"{col} (history {low:g} to {high:g}; {ahead[i]:g} for series {future[UNIQUE_ID].iloc[i]!r} "
                       f"at {future[DS].iloc[i]})")
    if calendar:  # (a warning at every retrain of a history shorter than a year, which can do nothing about it)
        log.info("holiday flag(s) %s are active ahead but never in the history: no model learnt their effect; the "
                 "calibrated bands widen there as for an unseen event", calendar)
    if constant:
        log.warning("future covariate(s) %s never change in the history but do in the future, so no model can learn "
                    "their effect and the forecast does not show it; give history rows where they vary", constant)
    if far:
        log.warning("future covariate(s) %s lie far outside their history's range, so the models extrapolate their "
                    "effect; check that the future's values are in the history's units", far)


def _unseen_times(panel: pd.DataFrame, future: pd.DataFrame, freq: str) -> None:
    """Log a warning naming the series whose forecast steps fall at times of day (sub-daily data) or
    days of the week (daily data) at which their history, two cycles or longer, has no value: hourly
    orders of business hours only, or daily orders without the Sundays a center is closed, were
    forecast at 18:00-08:00 or on Sundays at the level of the open hours and days, without a word."""
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        step = pd.Timedelta(offset)
    except ValueError:  # months, quarters, weeks anchored on a day...: no time of day or weekday pattern
        return
    if step < pd.Timedelta(days=1):
        key, cycle, what = (lambda ds: ds.dt.hour * 60 + ds.dt.minute), pd.Timedelta(days=2), "times of day"
        show = lambda k: f"{k // 60:02d}:{k % 60:02d}"  # noqa: E731
    elif step == pd.Timedelta(days=1):
        key, cycle, what = (lambda ds: ds.dt.day_of_week), pd.Timedelta(days=14), "days of the week"
        show = lambda k: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[k]  # noqa: E731
    else:
        return
    seen = panel.loc[panel[Y].notna(), [UNIQUE_ID, DS]]
    by = seen.groupby(UNIQUE_ID)[DS]
    span = by.max() - by.min()  # (a lambda per series was half this check's time on 1,000 series)
    long = span.index[span >= cycle]
    if long.empty:
        return
    past = pd.DataFrame({UNIQUE_ID: seen[UNIQUE_ID], "k": key(seen[DS])}).drop_duplicates()
    ahead = future.loc[future[UNIQUE_ID].isin(long), [UNIQUE_ID, DS]]
    ahead = pd.DataFrame({UNIQUE_ID: ahead[UNIQUE_ID], "k": key(ahead[DS])}).drop_duplicates()
    new = ahead.merge(past, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    if new.empty:
        return
    ids = pd.unique(new[UNIQUE_ID]).tolist()
    first = new[new[UNIQUE_ID] == ids[0]]["k"].tolist()
    log.warning(
        "%d series (e.g. %s) are forecast at %s their history never has a value at (%r: %s): those steps are "
        "guessed from the others. If nothing happens then (closed hours or days), give those rows with y = 0; "
        "or forecast at a frequency the history fills", len(ids), ids[:3], what, ids[0],
        ", ".join(show(int(k)) for k in first[:6]),
    )


def _isolated_last_values(panel: pd.DataFrame) -> None:
    """Log a warning naming the series whose last value lies after a gap longer than all of their
    history before it (and ten of its usual steps): a year mistyped in the last row (2052 for 2025)
    moved the series' forecast to 2052 without a word."""
    seen = panel.loc[panel[Y].notna(), [UNIQUE_ID, DS]]  # sorted by series and time (validated)
    by = seen.groupby(UNIQUE_ID, sort=False)[DS]
    gaps = by.diff()
    rows = pd.DataFrame({
        "count": by.size(), "first": by.min(), "last": by.max(),
        "last_gap": gaps.groupby(seen[UNIQUE_ID], sort=False).last(),
        "usual": gaps.groupby(seen[UNIQUE_ID], sort=False).median(),
    })
    before = rows["last"] - rows["last_gap"]
    odd = (rows["count"] >= 4) & (rows["last_gap"] > before - rows["first"]) & (rows["last_gap"] > 10 * rows["usual"])
    if not odd.any():
        return
    ids = odd.index[odd].tolist()
    log.warning(
        "%d series (e.g. %s) have a last value far after the rest of their history (%r: %s, then %s): their forecast "
        "starts after it; check that row's date (a mistyped year?), or drop it", len(ids), ids[:3], ids[0],
        before[ids[0]], rows["last"][ids[0]])


def _ended_early(panel: pd.DataFrame, horizon: int, freq: str) -> None:
    """Log a warning naming the series whose history ends so long before the others' that their whole
    forecast (``horizon`` steps after their own last row) lies before the panel's last timestamp: a
    center that closed, or an export cut short, was forecast for dates months past without a word."""
    last = panel.groupby(UNIQUE_ID, sort=False)[DS].max()
    newest = last.max()
    offset = pd.tseries.frequencies.to_offset(freq)
    ends = {end: pd.Timestamp(end) + offset * horizon for end in pd.unique(last.to_numpy())}
    early = last[last.map(ends) < newest]
    if early.empty:
        return
    ids = early.sort_values().index.tolist()
    log.warning(
        "%d series (e.g. %s) end long before the others (%r: last row %s, the panel's %s): their forecast covers "
        "%s to %s only, dates already past for the rest; bring their history up to date, or drop them if they "
        "closed", len(ids), ids[:3], ids[0], early[ids[0]], newest, early[ids[0]] + offset, ends[early[ids[0]]])


def _from_first_observation(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` (validated: sorted by series and time) less each series' rows before its first value
    of ``y``: they hold nothing to learn from, but the backtest windows were cut on the panel's span,
    so a history that opened with empty rows (a center listed before it opened) left the windows
    nothing but empty rows to train on: every model failed and the command ended on a traceback
    ("RuntimeError: every model failed on the backtest")."""
    seen = panel[Y].notna().groupby(panel[UNIQUE_ID], sort=False).cummax().to_numpy(bool)
    if seen.all():
        return panel
    log.info("%d rows before their series' first value of y are left out (e.g. of %s)", int((~seen).sum()),
             pd.unique(panel.loc[~seen, UNIQUE_ID])[:3].tolist())
    return panel[seen].reset_index(drop=True)


def _future_target(future: pd.DataFrame) -> None:
    """Log a warning where ``future`` has ``y`` values: the forecast does not read them (they were
    dropped without a word; observed values given there are lost to the models). An empty ``y``
    column (a template's) is only noted."""
    column = future[Y]
    given = int((column.notna() & (column.astype(str).str.strip() != "")).sum())
    if given:
        log.warning(
            "future has a y column with %d value(s); they are ignored: future gives only the covariates known in "
            "advance for the steps to forecast. If they are observed values, add those rows to the history; "
            "otherwise drop the y column", given)
    else:
        log.info("future's y column is empty; ignored")


def _factory(name: str, params: dict[str, Any]) -> Callable[[], Forecaster]:
    return lambda: make_member(name, params)


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
    costs: dict[str, float] | None = None,
) -> list[WindowResult]:
    """Backtest each model on every split; skip models the time budget cannot afford.
    Without a budget, the models of :func:`_offloaded` are shared with a worker process, which
    takes them one at a time, usually costliest first, while this process trains the others (the
    networks) and then takes those left (:class:`fcplan.models.workers.Shared`); given their
    ``costs`` per window, those :func:`_placed_away` picks run in the worker meanwhile instead.
    The results, in the order of ``names``, are the same.

    ``time_limits`` (name -> seconds) is filled with the training-time limit given to each
    global model's ``fit``, so that its final fit keeps to the same budget."""
    n_series = panel[UNIQUE_ID].nunique()
    if costs is None:
        offload = _offloaded(names, panel, time_limit_s)
    else:
        away = _placed_away(names, [costs.get(n, 0.0) * len(splits) for n in names], time_limit_s)
        offload = [n for n, a in zip(names, away, strict=True) if a]
    pending, pool, shared = None, None, None
    if offload and costs is None:  # no fit times yet: the worker and this process share the offloaded models
        mine_params = {n: params.setdefault(n, {}) for n in offload}
        shared = Shared(_backtest_one, _costliest_first(offload), mine_params, panel, splits, horizon, quantiles,
                        freq)
    elif offload:  # the local models' backtest in a worker while this process runs the others
        pool = worker()
        mine_params = {n: params.setdefault(n, {}) for n in offload}
        pending = Submitted(pool, _backtest_models, offload, mine_params, panel, splits, horizon, quantiles, freq)
    by_name: dict[str, list[WindowResult]] = {}
    for name in names:
        if name in offload:
            continue
        given = params.setdefault(name, {})
        budgeted = time_limit_s is not None and base_name(name) not in BASELINES
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
            keep = i == len(splits) - 1 and _reused(name)  # the newest window's fit, for reuse
            mine.append(run_window(make, split, panel, horizon, quantiles, freq, name, time_limit=limit, keep=keep))
            took = time.perf_counter() - t0
            left = len(splits) - i  # remaining windows + the final fit
            if budgeted and time.perf_counter() - start + took * left > time_limit_s:  # type: ignore[operator]
                log.warning("model %s skipped: it would exceed the %.0f s time budget", name, time_limit_s)
                mine = []
                break
        by_name[name] = mine
    if pending is not None and pool is not None:
        with pool:
            by_name.update(pending.result())
    if shared is not None:  # this process's own share done, it takes the models the worker has not
        by_name.update(zip(_costliest_first(offload), shared.results(), strict=True))
    results: list[WindowResult] = []
    for name in names:
        mine = by_name.get(name, [])
        if any(r.forecast is None for r in mine):
            log.warning("model %s failed on a backtest window; left out of the ensemble", name)
            continue
        results.extend(mine)
    return results


def _reused(name: str) -> bool:
    """Whether the final forecast reuses ``name``'s newest backtest fit (see
    :data:`REUSE_NETWORK_FITS`)."""
    return REUSE_NETWORK_FITS and _is_neural(name) and MODELS[base_name(name)].updatable


def _finite(time_limit_s: float | None) -> float | None:
    """The time budget, None for none (``math.inf``)."""
    return None if time_limit_s is None or not np.isfinite(time_limit_s) else time_limit_s


#: Seconds of work a worker process must take off this one to be worth its start (a fork of
#: the fork server, pickling the panel and the fitted models back). 1 s before session 15; a
#: worker's first fit starts 35-50 ms after it is asked for (the fork server preloads and freezes
#: the imports), and LightGBM's boosters run in threads (:data:`fcplan.models.lgbm.PARALLEL_BOOSTERS`),
#: so that a LightGBM fit of 0.6 s in the worker beside this process's network fit keeps both cores
#: busy. tuna_weekly, 3 windows, three pairs on the same machine: wall 3.44 -> 3.26 s a window, CPU
#: the same; the other dev panels (window 1, three pairs) within their noise; forecasts identical.
WORKER_MIN_SECONDS = 0.25


def _parallel(time_limit_s: float | None) -> bool:
    """Whether the engine runs fits in a worker process beside this one: without a time
    budget (there the budget decides what runs, sequentially), with a second core, and
    not in a worker itself."""
    return time_limit_s is None and (os.cpu_count() or 1) >= 2 and usable()


def _offloaded(names: Sequence[str], panel: pd.DataFrame, time_limit_s: float | None) -> list[str]:
    """The models whose backtest runs in a worker process while this one trains the neural
    networks (see :func:`_parallel`): the local statistical models, GLM, LightGBM, and the
    baselines too where networks are in the pool (they cost this process most: the baselines
    would only lengthen its share). The results are the same, only the cores differ."""
    if not _parallel(time_limit_s):
        return []
    networks = any(_is_neural(n) for n in names)
    return [n for n in names if not _is_neural(n) and (networks or base_name(n) not in BASELINES)]


def _placed_away(names: Sequence[str], costs: Sequence[float], time_limit_s: float | None) -> list[bool]:
    """Which of the fits of ``names`` (with their estimated ``costs`` in seconds, e.g. their
    backtest fit times) go to the worker process: longest first to the less loaded process
    (LPT), the networks always here (torch is imported in this process only), and the
    worker only for more than :data:`WORKER_MIN_SECONDS` of work. Only where each fit runs
    depends on the costs, never what it computes."""
    away = [False] * len(names)
    if not _parallel(time_limit_s):
        return away
    movable = [i for i, n in enumerate(names) if not _is_neural(n)]
    here = sum(c for i, c in enumerate(costs) if _is_neural(names[i]))
    there = WORKER_MIN_SECONDS
    for i in sorted(movable, key=lambda i: -costs[i]):
        if there < here:
            away[i] = True
            there += costs[i]
        else:
            here += costs[i]
    return away


def _mean_fit_seconds(results: Sequence[WindowResult]) -> dict[str, float]:
    """Model -> its mean backtest fit time (to place its other fits, see :func:`_placed_away`)."""
    seconds: dict[str, list[float]] = {}
    for r in results:
        seconds.setdefault(r.model, []).append(r.fit_seconds)
    return {n: float(np.mean(v)) for n, v in seconds.items()}


def _backtest_models(
    names: Sequence[str], params: dict[str, dict[str, Any]], panel: pd.DataFrame, splits: list[Split],
    horizon: int, quantiles: list[float], freq: str,
) -> dict[str, list[WindowResult]]:
    """``name -> its results on every split``, without a time budget (module level, so that
    a worker process can run it)."""
    return {
        name: [run_window(_factory(name, params[name]), split, panel, horizon, quantiles, freq, name)
               for split in splits]
        for name in names
    }


def _backtest_one(
    name: str, params: dict[str, dict[str, Any]], panel: pd.DataFrame, splits: list[Split], horizon: int,
    quantiles: list[float], freq: str,
) -> list[WindowResult]:
    """``name``'s results on every split (module level, so that a worker process can run it)."""
    return _backtest_models([name], params, panel, splits, horizon, quantiles, freq)[name]


#: The order in which the worker process and this one take the models of the race's first window
#: (:class:`fcplan.models.workers.Shared`), usually costliest first so that the last ones taken are
#: short: SARIMAX (likelihood fits on few series, the costliest there; on many series it takes the
#: numpy path or is left out, and the worker moves on at once), the global boosters (thousands of
#: rows, three quantiles), the other per-series models, then the cheap ones (unlisted names
#: first). Only where each model runs depends on it. On flights_origin_daily (3 series, window 1)
#: the worker's share of that window was 3.0 s CPU against 0.7 s here (the networks), one after
#: the other; see benchmarks/DEVSUITE.md (session 14, i24-speed) for the shared figures.
SHARE_ORDER = ("sarimax", "lightgbm_recursive", "lightgbm", "ets", "theta", "glm", "tsb", "moving_average",
               "seasonal_naive")


def _costliest_first(names: Sequence[str]) -> list[str]:
    """``names`` in :data:`SHARE_ORDER`."""
    rank = {n: i for i, n in enumerate(SHARE_ORDER)}
    return sorted(names, key=lambda n: rank.get(base_name(n), -1))


def _run_jobs(
    jobs: Sequence[tuple[str, Split | None]], params: dict[str, dict[str, Any]], panel: pd.DataFrame, horizon: int,
    quantiles: list[float], freq: str, time_limits: dict[str, float],
) -> list[WindowResult | Forecaster | str]:
    """Each ``(model, split)`` of ``jobs`` backtested, and each ``(model, None)`` fitted on the whole
    ``panel`` (the member, or why it failed: :func:`fcplan.models.ensemble.fit_members`), in the
    order of ``jobs`` (module level, so that a worker process can run it)."""
    out: list[WindowResult | Forecaster | str] = []
    for name, split in jobs:
        if split is None:
            member = {name: make_member(name, params[name])}
            out.append(fit_members(member, panel, freq, time_limits)[name])
        else:
            out.append(run_window(_factory(name, params[name]), split, panel, horizon, quantiles, freq, name,
                                  time_limit=time_limits.get(name)))
    return out


@dataclass(frozen=True)
class Evidence:
    """Backtest points for calibration, all ``(n,)`` but ``pred`` ``(n, n_q)`` and ``flags``
    ``(n, k)``: the ensemble's uncalibrated quantiles, the actuals, each point's window,
    horizon step, series scale and where each known-ahead flag is active
    (:class:`fcplan.models.flag_widening.Flags`); ``series`` each point's series (None: not
    known, as in evidence recorded before it)."""

    pred: np.ndarray
    actuals: np.ndarray
    windows: np.ndarray
    steps: np.ndarray
    scales: np.ndarray
    flags: np.ndarray
    series: np.ndarray | None = None

    def _arrays(self) -> tuple[np.ndarray | None, ...]:
        return self.pred, self.actuals, self.windows, self.steps, self.scales, self.flags, self.series

    def where(self, mask: np.ndarray) -> Evidence:
        return Evidence(*(None if a is None else a[mask] for a in self._arrays()))

    def plus(self, other: Evidence | None) -> Evidence:
        if other is None:
            return self
        pairs = zip(self._arrays(), other._arrays(), strict=True)
        return Evidence(*(None if a is None or b is None else np.concatenate([a, b]) for a, b in pairs))


def point_flags(keys: pd.DataFrame, panel: pd.DataFrame, flags: Flags) -> np.ndarray:
    """``(len(keys), k)``: where each of ``flags`` is active at the ``unique_id, ds`` of
    each row of ``keys`` (the covariates of a backtest window come from the history)."""
    if not flags.columns:
        return np.zeros((len(keys), 0), dtype=bool)
    rows = keys[KEYS].merge(panel[[*KEYS, *flags.columns]], on=KEYS, how="left")
    return flags.active(rows)


def fit_calibration(
    method: str, evidence: Evidence, levels: Sequence[float], prior: FlagPrior | None = None
) -> Calibrator | None:
    """The calibrator of ``method`` (one of :data:`CALIBRATIONS`) fitted on ``evidence``;
    the conformal one widens steps with rarely seen flags, given the history's ``prior``."""
    if method == "none":
        return None
    if method == "spread":
        factors = calibrate_spread(evidence.pred, evidence.actuals, levels, evidence.windows)
        return SpreadCalibration({float(q): float(f) for q, f in zip(levels, factors, strict=True)})
    return fit_conformal(
        evidence.pred, evidence.actuals, levels, evidence.steps, evidence.scales,
        evidence.windows, flags=evidence.flags, prior=prior, series=evidence.series,
    )


def _calibrated(calibrator: Calibrator | None, evidence: Evidence, levels: Sequence[float]) -> np.ndarray:
    if calibrator is None:
        return evidence.pred
    return calibrator.apply(evidence.pred, evidence.steps, evidence.scales, levels, flags=evidence.flags)


def nested_weights(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int = 0
) -> dict[Any, np.ndarray]:
    """Backtest window -> the weights chosen on the *other* windows (leave one window out; with
    one window there is nothing else to choose on: in-sample)."""
    groups = np.asarray(groups)
    windows = np.unique(groups)
    out = {}
    for g in windows:
        fit = groups != g if len(windows) > 1 else groups == g
        out[g] = prune_weights(preds[:, fit], actuals[fit], levels, groups[fit], seed)
    return out


def nested_combination(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int = 0,
    disagreement: float = 0.0, weights: dict[Any, np.ndarray] | None = None,
) -> np.ndarray:
    """``(n_points, n_q)`` uncalibrated ensemble forecasts of the backtest points, each
    window's with weights chosen on the *other* windows (:func:`nested_weights`, or ``weights``
    given), so that neither its score nor the calibration fitted on it is flattered by choosing on
    the data it is scored on. With one window there is nothing else to choose on: in-sample."""
    groups = np.asarray(groups)
    chosen = weights if weights is not None else nested_weights(preds, actuals, levels, groups, seed)
    out = np.empty(preds.shape[1:])
    for g, w in chosen.items():
        test = groups == g
        out[test] = np.sort(combine(list(preds[:, test]), w, levels, disagreement), axis=-1)
    return out


def choose_disagreement(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int = 0,
    grid: Sequence[float] | None = None, weights: dict[Any, np.ndarray] | None = None,
) -> float:
    """The factor of the members' median spread (:func:`fcplan.models.ensemble.combine`) from
    ``grid`` whose honest combination (:func:`nested_combination`: each backtest window with the
    weights of the others) has the least mean wQL; ties go to the smaller factor. Where the
    weights chosen on other windows would have put the ensemble on a member that missed, the
    members' disagreement is what a band can learn of it."""
    grid = DISAGREEMENT_GRID if grid is None else tuple(grid)
    if len(grid) == 1 or not np.isfinite(actuals).any():
        return float(grid[0])
    weights = weights if weights is not None else nested_weights(preds, actuals, levels, groups, seed)
    loss = window_wql(actuals, levels, groups)
    scores = [loss(nested_combination(preds, actuals, levels, groups, disagreement=f, weights=weights))
              for f in grid]
    best = int(np.argmin(scores))
    return float(grid[best])


def nested_ensemble(
    evidence: Evidence, levels: Sequence[float], method: str, extra: Evidence | None = None,
    prior: FlagPrior | None = None,
) -> np.ndarray:
    """``(n_points, n_q)`` calibrated forecasts of the backtest points of ``evidence`` (from
    :func:`nested_combination`), each window's calibrated on the other windows and the
    calibration windows ``extra`` (in-sample with a single window and no extra)."""
    windows = np.unique(evidence.windows)
    out = np.empty(evidence.pred.shape)
    for g in windows:
        test = evidence.windows == g
        fit = evidence.where(~test if len(windows) > 1 else test).plus(extra)
        out[test] = _calibrated(fit_calibration(method, fit, levels, prior), evidence.where(test), levels)
    return out


def _leaderboard(
    results: list[WindowResult],
    keys: pd.DataFrame,
    calibrated: np.ndarray | None,
    weights: dict[str, float],
    quantiles: list[float],
) -> pd.DataFrame:
    """Per model and window, and the mean over windows ("all"), with the coverage of every
    central band. The ensemble's rows are honest: ``calibrated`` holds each window's
    forecasts with weights and calibration chosen on the other windows."""
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
    if calibrated is not None:
        frame = keys.copy()
        frame[quantile_columns(quantiles)] = calibrated
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
    band_columns = [name for _, _, name in bands(quantiles)]
    board = pd.DataFrame(rows, columns=[*LEADERBOARD_COLUMNS, *band_columns])
    if board.empty:
        return board
    means = {c: (c, "mean") for c in ("wql", "wape", "mase", "coverage", *band_columns)}
    mean = (
        board.groupby("model", sort=False)
        .agg(**means, weight=("weight", "first"), fit_seconds=("fit_seconds", "sum"))
        .reset_index()
    )
    mean.insert(1, "window", ALL_WINDOWS)
    mean = mean[board.columns]
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


#: Members in the stored error-correlation matrix of a run (the top-weighted ones).
TOP_CORRELATED = 8


def member_correlation(
    corr: pd.DataFrame, weights: dict[str, float], top: int = TOP_CORRELATED
) -> dict[str, dict[str, float | None]]:
    """The error correlation of the ``top`` members with the largest positive weights, as
    JSON (``{member: {member: r}}``, by weight; NaN, e.g. a constant error, as None)."""
    names = [n for n, w in sorted(weights.items(), key=lambda kv: -kv[1]) if w > 0 and n in corr.index][:top]
    sub = corr.loc[names, names]
    return {a: {b: (None if pd.isna(v) else round(float(v), 4)) for b, v in sub.loc[a].items()} for a in names}


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
    #: level -> factor on the ensemble's distance from the median (``calibration="spread"`` only)
    spread: dict[float, float] = field(default_factory=dict)
    #: the fitted calibrator of the ensemble's quantiles (None with ``calibration="none"``)
    calibration: Calibrator | None = None
    #: see :attr:`EngineResult.cutoffs`
    cutoffs: tuple[pd.Timestamp, ...] = ()
    #: see :attr:`EngineResult.feature_table`
    feature_table: pd.DataFrame = field(default_factory=empty_table)
    #: model -> its mean backtest fit time (s), to place its other fits (:func:`_placed_away`)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    #: member -> its fit on the newest backtest window, reused for the final forecast
    #: (:data:`REUSE_NETWORK_FITS`)
    prefit: dict[str, Forecaster] = field(default_factory=dict, repr=False)
    #: member -> its final fit on the whole panel (or why it failed), made beside the calibration
    #: windows' fits (:data:`FINAL_WITH_CALIBRATION`)
    fitted: dict[str, Forecaster | str] = field(default_factory=dict, repr=False)
    #: level -> whether the count series' quantiles at that level are rounded to counts
    #: (:func:`fcplan.models.ensemble.choose_snap` on the honest backtest forecasts)
    snap: dict[float, bool] = field(default_factory=dict)
    #: the factor of the members' median spread added to the ensemble's band (:func:`choose_disagreement`)
    disagreement: float = 0.0


def _check_request(
    quantiles: Sequence[float], models: Sequence[str] | None, calibration: str = "conformal"
) -> tuple[list[float], list[str]]:
    levels = check_levels(quantiles)
    if calibration not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {calibration!r}; use one of {list(CALIBRATIONS)}")
    names = list(models) if models is not None else [n for n in MODELS if n not in OPT_IN]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise PanelError(f"unknown model(s) {unknown}; known models: {sorted(MODELS)}")
    return levels, [n for n in BASELINES if n not in names] + names  # the fallback is always there


@dataclass(frozen=True)
class _Request:
    """What :func:`_evaluate` is asked (the arguments of :func:`run_engine`)."""

    horizon: int
    levels: list[float]
    freq: str
    names: list[str]
    windows: int | None  # None: :func:`default_windows`, resolved by :func:`_evaluate`
    time_limit_s: float | None
    seed: int
    params: dict[str, dict[str, Any]]
    calibration: str
    extra_windows: int | None
    default_models: bool
    bags: int = 1
    grid: bool = False
    grid_step: int | None = None
    select_features: bool = False


def _member_params(request: _Request, names: Sequence[str], cells: int = 0) -> dict[str, dict[str, Any]]:
    """``member -> constructor params``: the caller's for its model, its bag variant's, and
    the engine's (horizon, no wall-clock cap, the step budget of a panel of ``cells``
    series x steps, see :data:`LARGE_PANEL_CELLS`)."""
    variants = bagged(names, request.bags)
    large = LARGE_PANEL_PARAMS if cells > LARGE_PANEL_CELLS else {}
    params = {
        n: {**large.get(base_name(n), {}), **request.params.get(base_name(n), {}), **v}
        for n, v in variants.items()
    }
    names = list(params)
    for name in names:
        for key in ("max_horizon", "prediction_length"):  # global models learn the steps asked for
            if _accepts(name, key):
                params[name].setdefault(key, request.horizon)
        if _accepts(name, "max_train_s"):  # bounded by epochs / rounds, not by a clock
            params[name].setdefault("max_train_s", math.inf)
    return params


def _ensemble_evidence(
    results: list[WindowResult],
    weights: dict[str, float],
    splits: list[Split],
    request: _Request,
    panel: pd.DataFrame,
    flags: Flags,
    disagreement: float = 0.0,
) -> Evidence | None:
    """The ensemble's (``weights``) uncalibrated forecasts of the points of ``results``."""
    names, preds, keys = stack_predictions(results, quantile_columns(request.levels))
    w = np.array([weights.get(n, 0.0) for n in names])
    if not names or keys.empty or w.sum() <= 0:
        return None
    points = point_evidence(keys, splits, request.horizon, request.freq)
    return Evidence(
        np.sort(combine(list(preds), w, request.levels, disagreement), axis=-1),
        keys["y"].to_numpy("float64"),
        keys["window"].to_numpy(),
        points["step"].to_numpy(),
        points[SCALE].to_numpy("float64"),
        point_flags(keys, panel, flags),
        keys[UNIQUE_ID].to_numpy(),
    )


def _calibration_evidence(
    panel: pd.DataFrame, request: _Request, weights: dict[str, float], params: dict[str, dict[str, Any]],
    time_limits: dict[str, float], flags: Flags, costs: dict[str, float] | None = None,
    disagreement: float = 0.0, finals: Sequence[str] = (),
) -> tuple[Evidence | None, dict[str, Forecaster | str]]:
    """The ensemble's forecasts on the older calibration windows (see :func:`calibration_windows`):
    only the members of :func:`calibration_members` are refit there, some of the fits in a
    worker process (:func:`_placed_away`, given each member's fit ``costs`` in seconds). With
    ``finals`` (and :data:`FINAL_WITH_CALIBRATION`), those members' final fits on the whole panel
    are placed with them: ``(evidence, member -> its final fit or why it failed)``."""
    if request.calibration != "conformal":
        return None, {}
    n_series = panel[UNIQUE_ID].nunique()
    extra = request.extra_windows
    if extra is None:
        extra = calibration_windows(n_series, request.windows)
    usable = usable_windows(panel, request.horizon, request.windows + extra, request.freq, request.grid,
                            request.grid_step)
    extra = max(0, min(extra, usable - request.windows))
    if extra == 0:
        return None, {}
    splits = make_splits(
        panel, request.horizon, request.windows + extra, request.freq, request.grid, request.grid_step
    )[:extra]
    splits = [replace(split, window=split.window - extra) for split in splits]
    members = calibration_members(weights)
    limit = _finite(request.time_limit_s)
    finals = list(finals) if FINAL_WITH_CALIBRATION and _parallel(limit) else []
    jobs: list[tuple[str, Split | None]] = [(name, split) for name in members for split in splits]
    jobs += [(name, None) for name in finals]
    away = _placed_away([n for n, _ in jobs], [(costs or {}).get(n, 0.0) for n, _ in jobs], limit)
    args = (params, panel, request.horizon, request.levels, request.freq, time_limits)
    there = [job for job, a in zip(jobs, away, strict=True) if a]
    pool = worker() if there else None
    try:
        pending = Submitted(pool, _run_jobs, there, *args) if pool is not None else None
        here = iter(_run_jobs([job for job, a in zip(jobs, away, strict=True) if not a], *args))
        done = iter(pending.result()) if pending is not None else iter(())
    finally:
        if pool is not None:
            pool.shutdown()
    outcome = [next(done) if a else next(here) for a in away]  # in the order of ``jobs``
    results = [r for r, (_, split) in zip(outcome, jobs, strict=True) if split is not None]
    fitted = {name: r for r, (name, split) in zip(outcome, jobs, strict=True) if split is None}
    log.info("calibration on %d extra window(s) of %s", extra, members)
    evidence = _ensemble_evidence(results, {n: weights[n] for n in members}, splits, request, panel, flags,
                                  disagreement)
    return evidence, fitted


def calibration_members(weights: dict[str, float], min_weight: float | None = None) -> list[str]:
    """The members refit on the calibration windows: those with at least ``min_weight``
    (default :data:`CALIBRATION_MIN_WEIGHT`) of the ensemble's weight, at least the
    heaviest one; the ensemble there is theirs, its weights renormalised."""
    floor = CALIBRATION_MIN_WEIGHT if min_weight is None else min_weight
    members = [n for n, w in weights.items() if w > 0 and w >= floor]
    return members or [max(weights, key=weights.get)]


def prune_weights(
    preds: np.ndarray, actuals: np.ndarray, levels: Sequence[float], groups: np.ndarray, seed: int,
    min_weight: float = MIN_MEMBER_WEIGHT,
) -> np.ndarray:
    """:func:`select_weights`, then again over the members that got at least ``min_weight``
    (the others get 0): fewer members to refit for calibration and the final forecast."""
    w = select_weights(preds, actuals, levels, groups=groups, seed=seed)
    if min_weight <= 0:
        return w
    keep = np.flatnonzero(w >= min_weight)
    if len(keep) == 0 or len(keep) == np.count_nonzero(w):
        return w
    pruned = np.zeros_like(w)
    pruned[keep] = select_weights(preds[keep], actuals, levels, groups=groups, seed=seed)
    return pruned


def raced_out(results: list[WindowResult], levels: Sequence[float], seed: int,
              ratio: float = RACE_RATIO, network_ratio: float = NETWORK_RACE_RATIO) -> list[str]:
    """The models of one window's ``results`` that the race stops (see :data:`RACE_RATIO`):
    no weight in that window's ensemble and a wQL over ``ratio`` times the best model's
    (for a network, over the smaller of ``ratio`` and ``network_ratio``, see
    :data:`NETWORK_RACE_RATIO`)."""
    names, preds, keys = stack_predictions(results, quantile_columns(levels))
    if len(names) < 3 or ratio <= 0:
        return []
    actuals = keys["y"].to_numpy("float64")
    w = select_weights(preds, actuals, levels, groups=keys["window"].to_numpy(), seed=seed)
    scored = {r.model: score(r.forecast, levels)["wql"] for r in results if r.forecast is not None}
    finite = [v for v in scored.values() if np.isfinite(v)]
    if not finite:
        return []
    best = min(finite)

    def limit(name: str) -> float:
        return min(ratio, network_ratio) if base_name(name) in MODELS and _is_neural(name) else ratio

    return [
        n for n, x in zip(names, w, strict=True)
        if x <= 0 and base_name(n) not in BASELINES and not scored.get(n, np.inf) <= limit(n) * best
    ]


def _race(
    names: list[str], params: dict[str, dict[str, Any]], time_limits: dict[str, float], panel: pd.DataFrame,
    splits: list[Split], request: _Request, start: float,
) -> tuple[list[WindowResult], list[WindowResult]]:
    """Backtest ``names`` on ``splits``, racing them on the newest window first (see
    :data:`RACE_RATIO`). Returns the results of the models that ran every window, and the
    newest-window results of those the race stopped (for the leaderboard only)."""
    def run(models: list[str], part: list[Split], costs: dict[str, float] | None = None) -> list[WindowResult]:
        return _run_pool(models, params, time_limits, panel, part, request.horizon, request.levels, request.freq,
                         _finite(request.time_limit_s), start, costs)

    if RACE_RATIO <= 0 or len(splits) < 2 or _finite(request.time_limit_s) is not None:
        return run(names, splits), []  # under a time budget, the budget decides what runs
    first = run(names, splits[-1:])
    stopped = raced_out(first, request.levels, request.seed)
    if stopped:
        log.info("race: %s left out after the newest backtest window (no weight there, wQL over %.1fx the "
                 "best model's)", stopped, RACE_RATIO)
    survivors = [n for n in names if n not in stopped and any(r.model == n for r in first)]
    rest = run(survivors, splits[:-1], _mean_fit_seconds(first))
    finished = {r.model for r in rest}
    results = [*rest, *(r for r in first if r.model in finished)]
    return results, [r for r in first if r.model in stopped]


def _evaluate(panel: pd.DataFrame, request: _Request, start: float, final: bool = False) -> BacktestResult:
    """The backtest, the weights and the calibration of the ensemble; with ``final``, the members'
    final fits on the whole ``panel`` too (:data:`FINAL_WITH_CALIBRATION`)."""
    if request.windows is None:
        request = replace(request, windows=default_windows(panel, request.horizon, request.freq, request.grid,
                                                           request.grid_step))
    horizon, levels, freq, windows = request.horizon, request.levels, request.freq, request.windows
    if _parallel(_finite(request.time_limit_s)):
        warm_up()  # the worker processes' imports, on the other core meanwhile
    usable = usable_windows(panel, horizon, windows, freq, request.grid, request.grid_step)
    if 0 < usable < windows:
        log.warning("the history leaves room for %d of the %d backtest windows asked for (each needs %d steps "
                    "after at least %d of training); backtesting on %d", usable, windows, horizon, horizon, usable)
        windows = usable
        request = replace(request, windows=usable)
    elif usable == 0 and windows > 1 and (steps := _steps(panel, freq)) > horizon:
        # fewer than 2 x horizon steps: `fcplan backtest` failed by default ("use fewer windows") where
        # --windows 1 ran; the one window that fits trains on fewer steps than it scores
        log.warning("the history spans %d steps, too few for a backtest window of %d steps after %d of training; "
                    "backtesting on 1 window trained on %d steps (give more history or a shorter --horizon for "
                    "more)", steps, horizon, horizon, steps - horizon)
        windows = 1
        request = replace(request, windows=1)
    splits = make_splits(panel, horizon, windows, freq, request.grid, request.grid_step)
    time_limit_s = _finite(request.time_limit_s)
    names = (
        default_pool(request.names, panel, freq, horizon)
        if request.default_models and time_limit_s is None
        else request.names
    )
    params = _member_params(request, names, panel_cells(panel))
    names = list(params)
    selection = FeatureSelection()
    if request.select_features:  # each covariate-using family on the covariates that earn their keep
        selection = select_features(panel, splits, names, params, horizon, levels, freq)
        params = selection.apply(params)
    time_limits: dict[str, float] = {}
    results, stopped = _race(_by_cost(names), params, time_limits, panel, splits, request, start)
    member_names, preds, keys = stack_predictions(results, quantile_columns(levels))
    if not member_names:
        raise RuntimeError("every model failed on the backtest; see the log for the errors")
    actuals, groups = keys["y"].to_numpy("float64"), keys["window"].to_numpy()
    if not np.isfinite(actuals).any():
        log.warning(
            "the %d backtest window(s) (after %s) hold no observed value of y (the history ends in empty rows or a "
            "gap), so no model could be scored (the leaderboard's scores are empty) and the ensemble weighs them "
            "equally; drop the empty rows at the end of the history, or fill them", len(splits), splits[0].cutoff)
    w = prune_weights(preds, actuals, levels, groups, request.seed)
    weights = {n: float(x) for n, x in zip(member_names, w, strict=True)}
    points = point_evidence(keys, splits, horizon, freq)
    steps, scales = points["step"].to_numpy(), points[SCALE].to_numpy("float64")
    # calibrated: the ensemble as deployed (these weights) on the backtest and calibration windows
    # known-ahead flags (holidays, events, promotions) and what the history says of them
    flags = find_flags(panel, covariate_columns(panel))
    prior = flag_prior(panel, flags, season_length(freq)) if request.calibration == "conformal" else None
    lowo = nested_weights(preds, actuals, levels, groups, request.seed)
    disagreement = choose_disagreement(preds, actuals, levels, groups, request.seed, weights=lowo)
    log.info("members' median spread added to the ensemble's band: x%.2f", disagreement)
    insample = Evidence(np.sort(combine(list(preds), w, levels, disagreement), axis=-1), actuals, groups, steps,
                        scales,
                        point_flags(keys, panel, flags), keys[UNIQUE_ID].to_numpy())
    nested = replace(insample, pred=nested_combination(preds, actuals, levels, groups, request.seed, disagreement,
                                                       weights=lowo))
    fit_seconds = _mean_fit_seconds(results)
    newest = max(split.window for split in splits)
    prefit = {
        r.model: r.fitted for r in results
        if r.window == newest and r.fitted is not None and weights.get(r.model, 0.0) > 0
    }
    finals = [n for n in member_names if weights[n] > 0 and n not in prefit] if final else []
    extra, fitted = _calibration_evidence(panel, request, weights, params, time_limits, flags, fit_seconds,
                                          disagreement, finals)
    calibrator = fit_calibration(request.calibration, insample.plus(extra), levels, prior)
    if isinstance(calibrator, Calibration):
        log.info("conformal calibration on %d windows, %d points; offsets (series scales) %s",
                 calibrator.windows, calibrator.points, np.round(calibrator.offsets, 2).tolist())
        if calibrator.widening is not None:
            widening = calibrator.widening
            log.info("flag widening (extra sd below / above the median in series scales, backtest points): %s", {
                c: (*np.round(np.sqrt(v), 2).tolist(), int(n))
                for c, v, n in zip(widening.flags.columns, widening.variance, widening.points, strict=True)
            })
    median = median_index(levels)
    honest = nested_ensemble(nested, levels, request.calibration, extra, prior)
    counts = keys[UNIQUE_ID].map(count_series(panel)).eq(True).to_numpy(bool)
    snap = choose_snap(honest, actuals, levels, groups, counts)
    if any(snap.values()):
        log.info("count series' quantiles rounded to counts at levels %s", [q for q, on in snap.items() if on])
        honest[counts] = snap_counts(honest[counts], levels, snap)
    return BacktestResult(
        leaderboard=_leaderboard([*results, *stopped], keys, honest, weights, levels),
        weights=weights,
        error_correlation=_error_correlation(member_names, preds, keys, median),
        members=member_names,
        params={n: params.get(n, {}) for n in member_names},
        time_limits={n: time_limits[n] for n in member_names if n in time_limits},
        spread=calibrator.spread if isinstance(calibrator, SpreadCalibration) else {},
        calibration=calibrator,
        cutoffs=tuple(split.cutoff for split in splits),
        feature_table=selection.table,
        fit_seconds=fit_seconds,
        prefit=prefit,
        fitted=fitted,
        snap=snap,
        disagreement=disagreement,
    )


def run_backtest(
    history: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    freq: str | None = None,
    models: Sequence[str] | None = None,
    windows: int | None = None,
    time_limit_s: float | None = None,
    holiday_country: str | None = None,
    seed: int = 0,
    model_params: dict[str, dict[str, Any]] | None = None,
    calibration: str = "conformal",
    calibration_windows: int | None = None,
    bags: int = 1,
    select_features: bool = False,
) -> BacktestResult:
    """Backtest the pool and weight the ensemble, without a final forecast.

    ``history``: ``unique_id, ds, y`` + numeric covariates, all treated as known in
    advance (their values in the backtest windows come from the history).
    See :func:`run_engine` for the other arguments.
    """
    leave_if_bootstrapping()
    start = time.perf_counter()
    levels, names = _check_request(quantiles, models, calibration)
    panel = validate_panel(history)
    freq = normalize_freq(freq)
    if freq:
        freq = weekly_anchor(panel, freq)
    future = future_index(panel, horizon, freq or infer_freq(panel))
    covs = covariate_columns(panel)
    future[covs] = 0.0  # placeholder values: only the backtest runs
    panel, _, freq = prepare_inputs(panel, horizon, future, freq, holiday_country)
    request = _Request(horizon, levels, freq, names, windows, time_limit_s, seed, model_params or {},
                       calibration, calibration_windows, models is None, bags, select_features=select_features)
    return _evaluate(panel, request, start)


def run_engine(
    history: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    future: pd.DataFrame | None = None,
    freq: str | None = None,
    models: Sequence[str] | None = None,
    windows: int | None = None,
    time_limit_s: float | None = None,
    holiday_country: str | None = None,
    seed: int = 0,
    model_params: dict[str, dict[str, Any]] | None = None,
    calibration: str = "conformal",
    calibration_windows: int | None = None,
    bags: int = 1,
    grid: bool = False,
    grid_step: int | None = None,
    select_features: bool = False,
) -> EngineResult:
    """Backtest the pool on ``windows`` rolling windows (default: :func:`default_windows`), weight
    an ensemble, calibrate its quantiles, forecast.

    ``history``: ``unique_id, ds, y`` + numeric covariates; ``future``: ``unique_id, ds``
    + the covariates known in advance, one row per series and step of the horizon
    (a history covariate missing from ``future`` is past-only and not used).
    ``models``: registry names (default: all registered, less the local models the panel
    is too large for, see :data:`MAX_DEFAULT_CELLS`). ``time_limit_s`` (optional) skips
    models whose estimated fit time would exceed the budget (baselines always run) and
    limits global models' training time; None (the default) or ``math.inf`` bound the work
    by iterations and the data's size only, so that the result does not depend on the
    machine's load. ``calibration``: one of :data:`CALIBRATIONS`; ``calibration_windows``
    older windows added for the conformal calibration (default: :func:`calibration_windows`).
    ``bags``: members per model, variants with other seeds and lookbacks
    (:mod:`fcplan.models.bagging`; 1, the default, is the models alone). ``grid``: backtest
    cutoffs on the calendar grid, so runs a few days apart share their windows (the rolling
    retrainer; :func:`fcplan.models.backtest.window_cutoffs`); by default the newest window
    ends at the last observation. ``grid_step``: steps between cutoffs (default ``horizon``;
    shorter gives overlapping windows, so runs a day apart share more of them).
    ``select_features``: before the backtest, score each known-ahead covariate group for each
    covariate-using model family by ablation on the backtest windows, and fit each such
    member on the groups that earn their keep only (:mod:`fcplan.models.feature_selection`;
    the table is :attr:`EngineResult.feature_table`). Off by default.
    ``model_params``: name -> constructor params (e.g. ``{"ets": {"n_jobs": 2}}``).
    """
    leave_if_bootstrapping()
    start = time.perf_counter()
    levels, names = _check_request(quantiles, models, calibration)
    panel, fut, freq = prepare_inputs(history, horizon, future, freq, holiday_country)
    request = _Request(horizon, levels, freq, names, windows, time_limit_s, seed, model_params or {},
                       calibration, calibration_windows, models is None, bags, grid, grid_step,
                       select_features=select_features)
    if usable_windows(panel, horizon, 1, freq, grid, grid_step) == 0:
        return _short_history_forecast(panel, fut, request)
    backtest = _evaluate(panel, request, start, final=True)
    members = {n: make_member(n, backtest.params[n]) for n in backtest.members}
    fitted = [n for n in members if backtest.weights.get(n, 0.0) > 0]
    costs = [0.0 if n in backtest.prefit or n in backtest.fitted else backtest.fit_seconds.get(n, 0.0)
             for n in fitted]
    away = _placed_away(fitted, costs, _finite(time_limit_s))
    ensemble = EnsembleForecaster(
        members, backtest.weights, time_limits=backtest.time_limits, calibration=backtest.calibration,
        in_worker=[n for n, a in zip(fitted, away, strict=True) if a], prefitted=backtest.prefit,
        fitted=backtest.fitted,
        snap=backtest.snap,
        disagreement=backtest.disagreement,
    ).fit(panel, freq=freq)
    forecast = _tidy(ensemble.predict_quantiles(horizon, future=fut, quantiles=levels), levels)
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
        member_correlation=member_correlation(backtest.error_correlation, backtest.weights),
        cutoffs=backtest.cutoffs,
        feature_table=backtest.feature_table,
    )


def _steps(panel: pd.DataFrame, freq: str) -> int:
    """The steps of ``freq`` from the panel's first timestamp to its last, both counted."""
    return len(pd.date_range(panel[DS].min(), panel[DS].max(), freq=freq))


def _tidy(forecast: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
    """The forecast frame with its quantile columns sorted per row; a ValueError naming the series
    whose forecast is not finite (NaN was published as 0 and infinity as 1.8e308 without a word:
    every member's guard and the ensemble's fallback to its finite members should have left none)."""
    cols = quantile_columns(levels)
    values = forecast[cols].to_numpy("float64")
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        ids = pd.unique(forecast.loc[bad, UNIQUE_ID]).tolist()
        raise ValueError(
            f"the forecast of {len(ids)} series is not a number (NaN or infinite) at {int(bad.sum())} step(s), "
            f"e.g. {ids[:5]}; no forecast was made. Check those series' history (missing or extreme values), "
            "or forecast them apart with --models moving_average"
        )
    forecast[cols] = np.sort(values, axis=1)
    return forecast


#: the model of a history too short for one backtest window (:func:`_short_history_forecast`)
SHORT_HISTORY_MODEL = "moving_average"


def _short_history_forecast(panel: pd.DataFrame, future: pd.DataFrame, request: _Request) -> EngineResult:
    """The forecast of a history too short to backtest even one window of the horizon (fewer
    than twice ``horizon`` steps): the moving-average baseline alone, without weights to learn
    or a calibration (there is nothing to score them on), rather than no forecast at all."""
    steps = len(pd.date_range(panel[DS].min(), panel[DS].max(), freq=request.freq))
    log.warning(
        "the history spans %d steps, too few to backtest a horizon of %d (that needs %d); forecasting "
        "with the %s baseline alone, uncalibrated: give more history or a shorter --horizon for the "
        "ensemble", steps, request.horizon, 2 * request.horizon, SHORT_HISTORY_MODEL,
    )
    name = SHORT_HISTORY_MODEL
    params = _member_params(request, [name], panel_cells(panel))
    weights = {name: 1.0}
    ensemble = EnsembleForecaster({name: make_member(name, params[name])}, weights).fit(panel, freq=request.freq)
    forecast = _tidy(ensemble.predict_quantiles(request.horizon, future=future, quantiles=request.levels),
                     request.levels)
    return EngineResult(
        forecast=forecast,
        leaderboard=pd.DataFrame(),
        weights=weights,
        error_correlation=pd.DataFrame(),
        fallbacks=_fallbacks(ensemble),
        model=ensemble,
    )
