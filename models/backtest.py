"""Rolling-origin backtest: K windows of ``horizon`` steps, ``step`` steps apart.

By default the windows are ``horizon`` steps apart and the last window ends at the last
observation, so the backtest (and the weights and calibration drawn from it) sees the
newest data. With ``grid=True`` (the rolling retrainer) the cutoffs are fixed calendar
points instead: every ``step``-th step (default: ``horizon``) counted from
:data:`GRID_ANCHOR`. The last window is then the newest grid window that ends at or
before the last observation, so two runs made a day (a few steps) apart share their
windows (all of them, or all but the oldest once the grid moves on) and champion and
challenger are compared on exactly the same ones (:func:`window_cutoffs`). Up to
``step - 1`` newest steps are then in no window (the final fit uses them). A ``step``
shorter than the horizon gives overlapping windows: a weekly grid with a 15-day horizon
moves on once a week instead of once every 15 days, so its newest window is fresher, more
windows fit a short history, and runs a few days apart share more of them.

Window ``w`` (0 = oldest) trains on every row with ``ds <= cutoff_w`` and is
scored on the next ``horizon`` steps of each series. Known-future covariates of
the scored steps come from the history itself (they were known in advance).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fcplan.core.frequency import season_length
from fcplan.core.panel import DS, KEYS, UNIQUE_ID, PanelError, Y, covariate_columns, future_index
from fcplan.models.base import Forecaster
from fcplan.models.scales import seasonal_scales

log = logging.getLogger(__name__)

ACTUAL = "y"
SCALE = "scale"


@dataclass(frozen=True)
class Split:
    """One backtest window: ``train`` panel, ``future`` (``unique_id, ds`` + covariates)."""

    window: int
    cutoff: pd.Timestamp
    train: pd.DataFrame
    future: pd.DataFrame


@dataclass(frozen=True)
class WindowResult:
    """A model's forecast on one window.

    ``forecast`` has ``unique_id, ds, model``, one column per quantile level, then
    ``y`` (the actual, NaN at gaps) and ``scale`` (the series' MASE scale).
    ``forecast`` is None when the model failed (``error`` says why). ``fitted``: the model
    fitted on the window's training data where :func:`run_window` was asked to keep it, else None.
    """

    model: str
    window: int
    cutoff: pd.Timestamp
    forecast: pd.DataFrame | None
    fit_seconds: float
    error: str | None = None
    fitted: Forecaster | None = field(default=None, compare=False, repr=False)


#: The origin of the backtest grid (a Monday at midnight): cutoffs are whole numbers of
#: grid steps after it.
GRID_ANCHOR = pd.Timestamp("1900-01-01")


def _steps_since_anchor(last: pd.Timestamp, offset: pd.DateOffset) -> int:
    """Whole ``offset`` steps from :data:`GRID_ANCHOR` (in ``last``'s zone) to ``last``."""
    anchor = GRID_ANCHOR.tz_localize(last.tz) if last.tz is not None else GRID_ANCHOR
    try:
        delta = pd.Timedelta(offset)
    except (TypeError, ValueError):  # calendar offsets (months, business days): count them
        return len(pd.date_range(offset.rollforward(anchor), last, freq=offset)) - 1
    return int((last - anchor) // delta)


def _spacing(horizon: int, step: int | None) -> int:
    """Steps between consecutive cutoffs: ``step``, or ``horizon`` when None."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if step is None:
        return horizon
    if step < 1:
        raise ValueError(f"the backtest step must be at least 1, got {step}; pass None for one horizon")
    return step


def grid_lag(
    first: pd.Timestamp, last: pd.Timestamp, horizon: int, freq: str, grid: bool = False, step: int | None = None
) -> int:
    """Steps from the newest grid cutoff whose window ends by ``last`` back to ``last``
    (``horizon`` to ``horizon + step - 1``, ``step`` defaulting to ``horizon``); for a history
    from ``first`` too short to train even that window on ``horizon`` steps, or without
    ``grid``, ``horizon`` (the newest window)."""
    spacing = _spacing(horizon, step)
    if not grid:
        return horizon
    offset = pd.tseries.frequencies.to_offset(freq)
    n_last = _steps_since_anchor(pd.Timestamp(last), offset)
    lag = n_last - ((n_last - horizon) // spacing) * spacing
    steps = len(pd.date_range(first, last, freq=offset))
    return lag if steps - lag >= horizon else horizon


def window_cutoffs(
    first: pd.Timestamp,
    last: pd.Timestamp,
    horizon: int,
    windows: int,
    freq: str,
    grid: bool = False,
    step: int | None = None,
) -> list[pd.Timestamp]:
    """The cutoffs (oldest first, ``step`` steps apart, default ``horizon``) of ``windows``
    backtest windows of a panel observed from ``first`` to ``last``. On the ``grid``: the same
    for every panel ending within one grid step (once its history holds one grid window and
    ``horizon`` steps of training before it); without it, the newest window ends at ``last``."""
    offset = pd.tseries.frequencies.to_offset(freq)
    lag = grid_lag(first, last, horizon, freq, grid, step)
    spacing = _spacing(horizon, step)
    return [pd.Timestamp(last) - offset * (lag + (windows - 1 - w) * spacing) for w in range(windows)]


def usable_windows(
    panel: pd.DataFrame, horizon: int, windows: int, freq: str, grid: bool = False, step: int | None = None,
    min_train: int | None = None,
) -> int:
    """How many of ``windows`` rolling windows (``step`` apart, see :func:`window_cutoffs`)
    leave the oldest cutoff at least ``min_train`` (default ``horizon``) steps of training data
    (0 when not even one does).

    As AutoGluon does with its validation windows, the engine backtests on
    fewer windows than asked while the history is short (a new center, the
    first days of a demo) instead of failing every retrain until it has grown.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    first, last = panel[DS].min(), panel[DS].max()
    steps = len(pd.date_range(first, last, freq=offset))
    # training steps beyond the minimum
    room = steps - grid_lag(first, last, horizon, freq, grid, step) - (horizon if min_train is None else min_train)
    return max(0, min(windows, room // _spacing(horizon, step) + 1)) if room >= 0 else 0


def make_splits(
    panel: pd.DataFrame, horizon: int, windows: int, freq: str, grid: bool = False, step: int | None = None
) -> list[Split]:
    """The ``windows`` rolling-origin splits of a validated panel (``unique_id, ds, y`` + covariates),
    ``step`` steps apart (default ``horizon``), the newest ending at its last step or, with
    ``grid``, on the calendar grid (:func:`window_cutoffs`)."""
    if windows < 1:
        raise ValueError(f"windows must be at least 1, got {windows}")
    first, last = panel[DS].min(), panel[DS].max()
    covs = covariate_columns(panel)
    splits = []
    for w, cutoff in enumerate(window_cutoffs(first, last, horizon, windows, freq, grid, step)):
        train = panel[panel[DS] <= cutoff].reset_index(drop=True)
        if train.empty:
            steps = len(pd.date_range(first, last, freq=freq))
            raise PanelError(
                f"backtest window {w} (cutoff {cutoff}) has no training data: the history spans "
                f"{first} to {last} ({steps} steps of {freq}) and each window needs {horizon} steps of "
                f"training before the {horizon} it scores; use "
                + ("fewer windows (--windows), " if windows > 1 else "")
                + (f"a --horizon of at most {steps // 2} or " if 1 <= steps // 2 < horizon else "")
                + "a longer history"
            )
        future = future_index(train, horizon, freq)
        if covs:
            future = future.merge(panel[[*KEYS, *covs]], on=KEYS, how="left")
            future[covs] = future[covs].fillna(0.0)
        splits.append(Split(w, cutoff, train, future))
    return splits


def score_frame(forecast: pd.DataFrame, panel: pd.DataFrame, train: pd.DataFrame, season: int) -> pd.DataFrame:
    """Attach the actual ``y`` (NaN where the panel has no row) and each series' MASE scale."""
    out = forecast.merge(panel[[*KEYS, Y]], on=KEYS, how="left")
    scales = seasonal_scales(train[UNIQUE_ID], train[Y].to_numpy(), season)
    out[SCALE] = out[UNIQUE_ID].map(scales).astype("float64")
    return out


def run_window(
    make_model: Callable[[], Forecaster],
    split: Split,
    panel: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    freq: str,
    name: str | None = None,
    time_limit: float | None = None,
    keep: bool = False,
) -> WindowResult:
    """Fit a fresh model (with ``time_limit``, see :meth:`Forecaster.fit`) on the split's
    training data and forecast its window; with ``keep``, the result keeps the fitted model.

    A model that raises gives a result with ``forecast=None`` and the error (logged).
    """
    model = make_model()
    label = name or model.name
    start = time.perf_counter()
    try:
        model.fit(split.train, freq=freq, time_limit=time_limit)
        fit_seconds = time.perf_counter() - start
        future = split.future if model.uses_covariates else split.future[KEYS]
        forecast = model.predict_quantiles(horizon, future=future, quantiles=quantiles)
    except Exception as exc:  # a model failing must not stop the others
        log.warning("%s failed on backtest window %d: %s: %s", label, split.window, type(exc).__name__, exc)
        return WindowResult(label, split.window, split.cutoff, None, time.perf_counter() - start, str(exc))
    forecast["model"] = label
    scored = score_frame(forecast, panel, split.train, season_length(freq))
    return WindowResult(label, split.window, split.cutoff, scored, fit_seconds, fitted=model if keep else None)


def backtest(
    models: dict[str, Callable[[], Forecaster]],
    panel: pd.DataFrame,
    horizon: int,
    quantiles: Sequence[float],
    windows: int,
    freq: str,
) -> list[WindowResult]:
    """Every model (name -> factory of an unfitted forecaster) on every window."""
    splits = make_splits(panel, horizon, windows, freq)
    return [
        run_window(factory, split, panel, horizon, quantiles, freq, name)
        for name, factory in models.items()
        for split in splits
    ]


def stack_predictions(
    results: Sequence[WindowResult], quantile_cols: Sequence[str]
) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """Align successful results on (window, unique_id, ds).

    Returns model names, predictions ``(n_models, n_points, n_q)`` and the key frame
    (``window, unique_id, ds, y, scale``) of the points every model forecast.
    """
    ok = [r for r in results if r.forecast is not None]
    names = list(dict.fromkeys(r.model for r in ok))
    keys = ["window", *KEYS]
    frames = {name: pd.concat([r.forecast.assign(window=r.window) for r in ok if r.model == name]) for name in names}
    base = None
    for frame in frames.values():
        idx = frame[keys]
        base = idx if base is None else base.merge(idx, on=keys)
    if base is None:
        return [], np.empty((0, 0, len(quantile_cols))), pd.DataFrame(columns=[*keys, ACTUAL, SCALE])
    base = base.sort_values(keys, kind="stable").reset_index(drop=True)
    first = frames[names[0]]
    base = base.merge(first[[*keys, ACTUAL, SCALE]], on=keys, how="left")
    preds = np.stack(
        [base[keys].merge(frames[n], on=keys, how="left")[list(quantile_cols)].to_numpy("float64") for n in names]
    )
    return names, preds, base


def point_evidence(keys: pd.DataFrame, splits: Sequence[Split], horizon: int, freq: str) -> pd.DataFrame:
    """Per backtest point of ``keys`` (``window, unique_id, ds``): its 0-based horizon
    ``step`` after its series' last training timestamp (the window's cutoff, unless the series
    ended earlier or sits on another weekday) and its series' ``scale`` on that window's
    training data (:func:`fcplan.models.conformal.series_scale`), aligned with ``keys``' rows."""
    from fcplan.models.scales import panel_scales

    season = season_length(freq)
    parts = []
    for split in splits:
        ends = split.train.groupby(UNIQUE_ID, sort=False)[DS].max().rename("end").reset_index()
        grid = pd.concat([
            pd.DataFrame({"end": end, DS: pd.date_range(end, periods=horizon + 1, freq=freq)[1:],
                          "step": np.arange(horizon)})
            for end in ends["end"].unique()
        ], ignore_index=True)
        steps = ends.merge(grid, on="end").drop(columns="end").assign(window=split.window)
        scales = panel_scales(split.train, season).rename(SCALE).reset_index().assign(window=split.window)
        parts.append((steps, scales))
    steps = pd.concat([p[0] for p in parts], ignore_index=True)
    scales = pd.concat([p[1] for p in parts], ignore_index=True)
    out = keys[["window", *KEYS]].merge(steps, on=["window", *KEYS], how="left")
    out = out.merge(scales, on=["window", UNIQUE_ID], how="left")
    return out[["step", SCALE]].reset_index(drop=True)


def score(frame: pd.DataFrame, quantiles: Sequence[float]) -> dict[str, float]:
    """wQL, WAPE, MASE, outer-interval coverage and the coverage of every central band
    (``coverage_80``... see :func:`fcplan.models.metrics.bands`) of a scored window frame
    (quantile columns, ``y``, ``scale``, ``unique_id``); all NaN where no ``y`` is observed."""
    from fcplan.core.quantiles import median_index
    from fcplan.models.metrics import band_coverage, coverage, mase, wape, wql

    cols = [quantile_name_of(frame, q) for q in quantiles]
    y = frame[ACTUAL].to_numpy("float64")
    q_pred = frame[cols].to_numpy("float64")
    point = q_pred[:, median_index(quantiles)]
    if not np.isfinite(y).any():  # nothing observed to score: wQL and WAPE were 0, a perfect score
        return {name: float("nan") for name in ("wql", "wape", "mase", "coverage",
                                                *band_coverage(y, q_pred, quantiles))}
    return {
        "wql": wql(y, q_pred, quantiles),
        "wape": wape(y, point),
        "mase": mase(y, point, frame[SCALE].to_numpy("float64"), frame[UNIQUE_ID].to_numpy()),
        "coverage": coverage(y, q_pred),
        **band_coverage(y, q_pred, quantiles),
    }


def quantile_name_of(frame: pd.DataFrame, q: float) -> str:
    from fcplan.core.quantiles import quantile_name

    name = quantile_name(q)
    if name not in frame.columns:
        raise KeyError(f"forecast frame lacks quantile column {name!r}; it has {list(frame.columns)}")
    return name
