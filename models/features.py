"""Shared feature building for the global models (LightGBM, MLP, DeepAR).

The panel is laid out once as a right-aligned :class:`Grid`: row ``i`` is series
``ids[i]``; its last observed step sits in column ``n_past - 1`` and the ``h``
forecast steps in columns ``n_past .. n_past + h - 1``. Earlier padding, gaps and
the future hold ``NaN`` in ``y`` (a gap is *missing*, not zero) and ``0`` in the
covariates. Every row has its own dates, so calendar features are per cell.

On top of it: nan-aware rolling statistics, the per-series scale (mean ``|y|``
over the last 28 steps; 0 or unknown becomes 1, so all-zero series are
harmless), calendar features and interpolation between quantile levels. All
functions are numpy in, numpy out; pandas only in :func:`build_grid`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from fcplan.core.frequency import fixed_step_ns, season_length
from fcplan.core.panel import DS, UNIQUE_ID, PanelError, Y

log = logging.getLogger(__name__)

#: Number of most recent steps whose mean |y| scales a series.
SCALE_WINDOW = 28


def is_subdaily(freq: str) -> bool:
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        return pd.Timedelta(offset) < pd.Timedelta(days=1)
    except (ValueError, TypeError):
        return False


@dataclass(frozen=True)
class Grid:
    """A panel as right-aligned arrays.

    ``y``: ``(n, T)`` float64, NaN where unobserved (padding, gaps, future).
    ``x``: ``(n, T, C)`` float64 covariates (0 where unknown), columns ``covariates``.
    ``dates``: ``(n, T)`` datetime64[ns]. ``n_past``: columns up to each series'
    last observation; ``T - n_past`` future columns.
    """

    ids: list[str]
    y: np.ndarray
    x: np.ndarray
    dates: np.ndarray
    covariates: list[str]
    n_past: int

    @property
    def horizon(self) -> int:
        return self.y.shape[1] - self.n_past


def _dates_matrix(last: pd.Series, n_past: int, h: int, freq: str) -> np.ndarray:
    """``(n, n_past + h)`` dates, row ``i`` ending its past at ``last.iloc[i]``."""
    offset = pd.tseries.frequencies.to_offset(freq)
    out = np.empty((len(last), n_past + h), dtype="datetime64[ns]")
    for end, rows in last.groupby(last.to_numpy(), sort=False).groups.items():
        past = pd.date_range(end=pd.Timestamp(end), periods=n_past, freq=offset)
        future = pd.date_range(pd.Timestamp(end) + offset, periods=h, freq=offset)
        row = past.append(future).as_unit("ns").to_numpy()
        out[last.index.get_indexer(rows)] = row
    return out


@dataclass(frozen=True)
class Positions:
    """Where each row of a sorted panel sits on its series' regular grid: series ``k``
    is rows ``starts[k]:ends[k]``; ``pos`` is each row's step from its series' first."""

    starts: np.ndarray
    ends: np.ndarray
    pos: np.ndarray
    first_ns: np.ndarray
    step_ns: int


def grid_positions(panel: pd.DataFrame, freq: str) -> Positions | None:
    """:class:`Positions` of a panel sorted by (unique_id, ds), computed for all series at
    once; None when the frequency is calendar-based or a row is off the grid (then lay
    out series by series with pandas)."""
    step = fixed_step_ns(pd.tseries.frequencies.to_offset(freq))
    if step <= 0 or panel.empty:
        return None
    ids = panel[UNIQUE_ID].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    ds = pd.DatetimeIndex(panel[DS]).as_unit("ns").asi8
    offsets = ds - np.repeat(ds[starts], ends - starts)
    if np.any(offsets % step):
        return None
    return Positions(starts, ends, offsets // step, ds[starts], step)


def build_grid(
    panel: pd.DataFrame, ids: Sequence[str], freq: str, covariates: Sequence[str], max_history: int
) -> Grid:
    """Lay out a validated panel (``unique_id, ds, y`` + ``covariates``) as a :class:`Grid`
    without future columns, keeping the last ``max_history`` steps of each series."""
    ids = list(ids)
    where = grid_positions(panel, freq)
    order = {str(u): k for k, u in enumerate(panel[UNIQUE_ID].to_numpy()[where.starts])} if where else {}
    if where is None or len(order) != len(where.starts):
        return _build_grid_by_group(panel, ids, freq, covariates, max_history)
    missing = [uid for uid in ids if uid not in order]
    if missing:
        raise PanelError(f"panel lacks series {missing[:3]}; refit the model on a panel that has them")
    k = np.array([order[uid] for uid in ids], dtype=int)
    spans = where.pos[where.ends - 1] + 1
    n_past = max(1, min(int(spans.max(initial=1)), max_history))
    n, c = len(ids), len(covariates)
    row_of_series = np.empty(len(where.starts), dtype=int)
    row_of_series[k] = np.arange(n)
    series_of_row = np.repeat(np.arange(len(where.starts)), where.ends - where.starts)
    rows = row_of_series[series_of_row]
    cols = n_past - np.repeat(spans, where.ends - where.starts) + where.pos
    keep = (cols >= 0) & np.isin(series_of_row, k)
    y = np.full((n, n_past), np.nan)
    x = np.zeros((n, n_past, c))
    y[rows[keep], cols[keep]] = panel[Y].to_numpy(dtype="float64")[keep]
    if c:
        x[rows[keep], cols[keep]] = panel[list(covariates)].to_numpy(dtype="float64")[keep]
    last = where.first_ns[k] + (spans[k] - 1) * where.step_ns
    dates = _dates_matrix(pd.Series(pd.DatetimeIndex(last), index=ids), n_past, 0, freq)
    return Grid(ids, y, np.nan_to_num(x), dates, list(covariates), n_past)


def _build_grid_by_group(
    panel: pd.DataFrame, ids: list[str], freq: str, covariates: Sequence[str], max_history: int
) -> Grid:
    offset = pd.tseries.frequencies.to_offset(freq)
    groups = {str(uid): grp for uid, grp in panel.groupby(UNIQUE_ID, sort=False)}
    missing = [uid for uid in ids if uid not in groups]
    if missing:
        raise PanelError(f"panel lacks series {missing[:3]}; refit the model on a panel that has them")
    spans, positions, last = [], [], []
    off_grid = 0
    for uid in ids:
        ds = pd.DatetimeIndex(groups[uid][DS]).as_unit("ns")
        span = pd.date_range(ds[0], ds[-1], freq=offset).as_unit("ns")
        pos = span.get_indexer(ds)
        off_grid += int((pos < 0).sum())
        spans.append(len(span))
        positions.append(pos)
        last.append(ds[-1])
    if off_grid:
        log.warning("%d rows are off the %s grid of their series and were ignored", off_grid, freq)
    n_past = max(1, min(max(spans, default=1), max_history))
    n, c = len(ids), len(covariates)
    y = np.full((n, n_past), np.nan)
    x = np.zeros((n, n_past, c))
    for i, uid in enumerate(ids):
        grp, pos = groups[uid], positions[i]
        col = n_past - spans[i] + pos
        keep = (pos >= 0) & (col >= 0)
        y[i, col[keep]] = grp[Y].to_numpy(dtype="float64")[keep]
        if c:
            x[i, col[keep]] = grp[list(covariates)].to_numpy(dtype="float64")[keep]
    dates = _dates_matrix(pd.Series(last, index=ids), n_past, 0, freq)
    return Grid(ids, y, np.nan_to_num(x), dates, list(covariates), n_past)


def extend_grid(grid: Grid, h: int, freq: str, future: pd.DataFrame | None = None) -> Grid:
    """Append ``h`` future columns to a past-only grid: ``y`` NaN, covariates from
    ``future`` (``unique_id, ds`` + covariates, ``h`` rows per series in ``grid.ids``
    order, as the base class passes it); covariates ``future`` lacks are 0."""
    n, c = len(grid.ids), len(grid.covariates)
    x = np.zeros((n, h, c))
    if future is not None and c:
        present = [j for j, name in enumerate(grid.covariates) if name in future.columns]
        if present:
            values = future[[grid.covariates[j] for j in present]].to_numpy(dtype="float64")
            x[:, :, present] = np.nan_to_num(values.reshape(n, h, len(present)))
    last = pd.Series(grid.dates[:, grid.n_past - 1], index=grid.ids)
    dates = _dates_matrix(last, 0, h, freq)
    return Grid(
        grid.ids,
        np.concatenate([grid.y[:, : grid.n_past], np.full((n, h), np.nan)], axis=1),
        np.concatenate([grid.x[:, : grid.n_past], x], axis=1),
        np.concatenate([grid.dates[:, : grid.n_past], dates], axis=1),
        grid.covariates,
        grid.n_past,
    )


def future_covariates(
    future: pd.DataFrame | None, covariates: Sequence[str], model: str
) -> pd.DataFrame | None:
    """Warn (once per call) about fitted known-future covariates that ``future`` lacks;
    they are taken as zero (e.g. no promotion)."""
    if not covariates:
        return future
    absent = list(covariates) if future is None else [c for c in covariates if c not in future.columns]
    if absent:
        log.warning(
            "%s was fitted with known-future covariate(s) %s but `future` does not give them; assuming 0. "
            "Pass future=<frame with unique_id, ds, %s> to predict_quantiles.",
            model, absent, ", ".join(absent),
        )
    return future


# --------------------------------------------------------------- statistics
def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """``(n, T) -> (n, T)``: mean of the observed values in ``values[:, t-window+1 : t+1]``;
    NaN where none is observed."""
    ok = np.isfinite(values)
    zero = np.zeros((values.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(np.where(ok, values, 0.0), axis=1)], axis=1)
    counts = np.concatenate([zero, np.cumsum(ok, axis=1)], axis=1)
    hi = np.arange(1, values.shape[1] + 1)
    lo = np.maximum(hi - window, 0)
    total, count = sums[:, hi] - sums[:, lo], counts[:, hi] - counts[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rolling_std(values: np.ndarray, window: int) -> np.ndarray:
    """``(n, T) -> (n, T)`` nan-aware rolling standard deviation (population)."""
    mean = rolling_mean(values, window)
    square = rolling_mean(values**2, window)
    return np.sqrt(np.clip(square - mean**2, 0.0, None))


def series_scale(y: np.ndarray, window: int = SCALE_WINDOW) -> np.ndarray:
    """``(n, T) -> (n, T)``: the scale at each step, mean ``|y|`` of the values observed
    in the last ``window`` steps (if none, of all earlier ones); 0 or no data give 1."""
    recent = rolling_mean(np.abs(y), window)
    expanding = rolling_mean(np.abs(y), y.shape[1])
    scale = np.where(np.isfinite(recent), recent, expanding)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


# ------------------------------------------------------------------ calendar
def calendar_features(dates: np.ndarray, subdaily: bool = False) -> tuple[np.ndarray, list[str]]:
    """``(...,) datetime64 -> (..., F)`` integer calendar: day of week (0 = Monday),
    day of month, ISO week of year, month (+ hour of day when ``subdaily``, with its minutes
    as a fraction)."""
    index = pd.DatetimeIndex(np.asarray(dates).ravel())
    columns = {
        "dayofweek": index.dayofweek.to_numpy(),
        "dayofmonth": index.day.to_numpy(),
        "weekofyear": index.isocalendar().week.to_numpy(dtype="float64"),
        "month": index.month.to_numpy(),
    }
    if subdaily:  # the hour as a fraction on sub-hourly data (14:30 -> 14.5; it was 14 for both halves)
        columns["hour"] = index.hour.to_numpy() + index.minute.to_numpy() / 60
    values = np.stack([np.asarray(v, dtype="float64") for v in columns.values()], axis=-1)
    return values.reshape(*np.shape(dates), len(columns)), list(columns)


_CALENDAR_RANGE = {"dayofweek": (0, 6), "dayofmonth": (1, 31), "weekofyear": (1, 53), "month": (1, 12),
                   "hour": (0, 23)}


def time_encoding(dates: np.ndarray, subdaily: bool = False) -> np.ndarray:
    """``(...,) -> (..., F)`` calendar scaled to ``[-0.5, 0.5]`` (GluonTS time features),
    for the neural models."""
    values, names = calendar_features(dates, subdaily)
    lo = np.array([_CALENDAR_RANGE[n][0] for n in names], dtype="float64")
    hi = np.array([_CALENDAR_RANGE[n][1] for n in names], dtype="float64")
    return (values - lo) / (hi - lo) - 0.5


def holiday_matrix(dates: np.ndarray, country: str | None) -> np.ndarray:
    """``(...,) -> (..., k)`` the holiday flags of ``country`` (``fcplan.core.calendar.HOLIDAY_COLUMNS``;
    none if ``country`` is None)."""
    if not country:
        return np.zeros((*np.shape(dates), 0))
    from fcplan.core.calendar import holiday_features

    flat = pd.DatetimeIndex(np.asarray(dates).ravel())
    frame = holiday_features(flat, country)
    return frame.to_numpy(dtype="float64").reshape(*np.shape(dates), frame.shape[1])


# ------------------------------------------------------------ flag distances
#: Days after an unusual day of a known-ahead 0/1 flag that :func:`steps_since_flag` counts
#: (daily data): the days between Christmas and New Year, the bridge days after a holiday.
AFTER_DAYS = 7


def flag_columns(x: np.ndarray) -> np.ndarray:
    """``(..., T, k) -> (k,)`` the columns holding only 0 and 1 (flags), and not constant."""
    if x.shape[-1] == 0:
        return np.zeros(0, dtype=bool)
    flat = x.reshape(-1, x.shape[-1])
    binary = np.all((flat == 0) | (flat == 1), axis=0)
    return binary & (np.ptp(flat, axis=0) > 0)


def phase_modes(x: np.ndarray, phase: np.ndarray, season: int) -> np.ndarray:
    """``(T, k) -> (season, k)``: each flag's most common value (0 or 1) at each phase of the
    season (weekday of daily data) over the rows of ``x``; 0 where a phase has no row."""
    modes = np.zeros((max(season, 1), x.shape[-1]))
    for p in range(max(season, 1)):
        at = x[phase % max(season, 1) == p]
        if len(at):
            modes[p] = (at.mean(axis=0) > 0.5).astype(float)
    return modes


def steps_since_flag(x: np.ndarray, phase: np.ndarray, modes: np.ndarray, cap: int = AFTER_DAYS) -> np.ndarray:
    """``(T, k) -> (T, k)``: steps since the last *unusual* day of each flag before each row
    (a value unlike the flag's usual one on that weekday, ``modes``: a holiday, or a work-day
    flag's 0 on a weekday), 0 on such a day itself, ``cap + 1`` when none lies within ``cap``
    steps. A week-day work-day flag's weekends are usual, so they start nothing."""
    return steps_since_event(x != modes[phase % modes.shape[0]], cap)


def steps_since_event(event: np.ndarray, cap: int) -> np.ndarray:
    """``(T, ...) bool -> (T, ...)``: steps since the last True at or before each step along
    the first axis, ``cap + 1`` when none lies within ``cap`` steps."""
    index = np.arange(event.shape[0], dtype="float64").reshape((-1,) + (1,) * (event.ndim - 1))
    marks = np.where(event, index, -np.inf)
    last = np.maximum.accumulate(marks, axis=0)
    return np.minimum(index - last, cap + 1)


def after_flags(x: np.ndarray, phase: np.ndarray, modes: np.ndarray, cap: int = AFTER_DAYS) -> np.ndarray:
    """``(T, k) -> (T, k)``: 1 on the ``cap`` days after an unusual day of each flag (see
    :func:`steps_since_flag`) that are not unusual days themselves, else 0."""
    since = steps_since_flag(x, phase, modes, cap)
    return ((since >= 1) & (since <= cap)).astype(float)


# ---------------------------------------------------------------- quantiles
def interpolate_levels(values: np.ndarray, fitted: Sequence[float], wanted: Sequence[float]) -> np.ndarray:
    """``(..., len(fitted)) -> (..., len(wanted))``: quantiles at other levels, linear in
    the normal score ``Φ⁻¹(q)`` between fitted levels and extrapolated from the two
    outermost ones (so the tails widen like a normal's). Sorts first: never crosses."""
    fitted_z = norm.ppf(np.asarray(fitted, dtype="float64"))
    order = np.argsort(fitted_z)
    fitted_z, values = fitted_z[order], np.sort(values[..., order], axis=-1)
    wanted_z = norm.ppf(np.asarray(wanted, dtype="float64"))
    if len(fitted_z) == 1:
        return np.repeat(values, len(wanted_z), axis=-1)
    idx = np.clip(np.searchsorted(fitted_z, wanted_z) - 1, 0, len(fitted_z) - 2)
    z0, z1 = fitted_z[idx], fitted_z[idx + 1]
    v0, v1 = values[..., idx], values[..., idx + 1]
    weight = (wanted_z - z0) / (z1 - z0)
    out = v0 + weight * (v1 - v0)
    return np.sort(out, axis=-1)


def last_value_forecast(grid: Grid, h: int, n_levels: int) -> np.ndarray:
    """``(n, h, n_levels)``: each series' last observed value repeated (0 if none); the
    fallback when there is too little history to train a global model."""
    past = grid.y[:, : grid.n_past]
    ok = np.isfinite(past)
    last_col = np.where(ok.any(axis=1), past.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
    last = np.nan_to_num(past[np.arange(len(past)), last_col])
    return np.broadcast_to(last[:, None, None], (len(past), h, n_levels)).copy()


def first_observed(y: np.ndarray) -> np.ndarray:
    """``(n, T) -> (n,)`` column of each row's first observed value (``T`` if none)."""
    ok = np.isfinite(y)
    return np.where(ok.any(axis=1), np.argmax(ok, axis=1), y.shape[1])


def take(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values[rows, cols]`` with NaN where ``cols`` falls outside ``[0, T)``."""
    inside = (cols >= 0) & (cols < values.shape[1])
    out = values[rows, np.clip(cols, 0, values.shape[1] - 1)]
    return np.where(inside.reshape(inside.shape + (1,) * (out.ndim - inside.ndim)), out, np.nan)


# ------------------------------------------------------------------ tabular
@dataclass(frozen=True)
class TabularSpec:
    """Which tabular features to build (see :func:`tabular_features`)."""

    lags: tuple[int, ...]
    season: int
    n_seasonal: int
    known: tuple[int, ...]
    past: tuple[int, ...]
    subdaily: bool = False
    country: str | None = None
    #: steps in a year aligned on the weekday (364 daily, 52 weekly; 0: no yearly features)
    year: int = 0
    #: leads and lags of each known covariate around the target date (0: none)
    event_window: int = 0


def year_length(freq: str) -> int:
    """Steps of one year for :attr:`TabularSpec.year`: 364 for daily data (52 weeks, so the
    weekday matches), 52 for weekly, 0 (none) otherwise."""
    season = season_length(freq)
    if season == 7 and not is_subdaily(freq):
        return 364
    return 52 if season == 52 else 0


def tabular_features(
    grid: Grid, spec: TabularSpec, rows: np.ndarray, origins: np.ndarray, steps: np.ndarray,
    horizon_cap: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Direct multi-horizon features: one row per (series ``rows``, origin column
    ``origins``, step ``steps`` >= 1) -> ``(X (m, F), scale (m,), names)``.

    The target is ``y[row, origin + step] / scale``. Features, all as of the origin
    and scaled by the series' scale there: lags, the last ``n_seasonal`` values at
    the target's phase of the season, rolling mean/std/zero share, ``log1p(scale)``,
    the step (capped at ``horizon_cap``), the target date's calendar and holidays,
    known-future covariates at the target date (with their values ``spec.event_window``
    steps before and after it, their 28-step mean, and their value one season before the target),
    past-only covariates at the origin
    (value and 7-step mean).
    """
    y = grid.y
    scale_all = series_scale(y)
    scale = scale_all[rows, origins]
    target = origins + steps
    cols: dict[str, np.ndarray] = {}
    for lag in spec.lags:
        cols[f"lag_{lag}"] = take(y, rows, origins - lag + 1) / scale
    period = max(spec.season, 1)
    back = period * np.ceil(steps / period).astype(int)
    seasonal = [take(y, rows, target - back - m * period) / scale for m in range(spec.n_seasonal)]
    for m, values in enumerate(seasonal):
        cols[f"season_{m + 1}"] = values
    if seasonal:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: "Mean of empty slice"
            cols["season_mean"] = np.nanmean(np.stack(seasonal), axis=0)
    for window in (7, 28):
        cols[f"mean_{window}"] = rolling_mean(y, window)[rows, origins] / scale
    cols["std_28"] = rolling_std(y, 28)[rows, origins] / scale
    cols["zero_share_28"] = rolling_mean(np.where(np.isfinite(y), (y == 0).astype(float), np.nan), 28)[
        rows, origins
    ]
    if spec.year:
        # last year around the target date, relative to last year's level at the origin's date:
        # the yearly shape (peaks, seasons) without needing several years of calendar effects
        window = 7 if spec.year > 52 else 3
        prev = take(scale_all, rows, origins - spec.year)
        ahead = target - spec.year + window // 2
        seen = ahead <= origins  # never look past the origin
        smooth = take(rolling_mean(y, window), rows, ahead)
        cols["year_lag"] = take(y, rows, target - spec.year) / prev
        cols["year_lag_mean"] = np.where(seen, smooth, np.nan) / prev
        cols["year_growth"] = scale / prev
    cols["log_scale"] = np.log1p(scale)
    cols["step"] = np.minimum(steps, horizon_cap) if horizon_cap else steps.astype(float)
    dates = grid.dates[rows, np.clip(target, 0, y.shape[1] - 1)]
    calendar, names = calendar_features(dates, spec.subdaily)
    for j, name in enumerate(names):
        cols[name] = calendar[:, j]
    holidays = holiday_matrix(dates, spec.country)
    for j in range(holidays.shape[1]):
        cols[f"holiday_{j}"] = holidays[:, j]
    for j in spec.known:
        name = grid.covariates[j]
        cov = grid.x[..., j]
        cols[name] = take(cov, rows, target)
        # the event's leads and lags around the target date (pre-holiday build-up, post-promotion
        # dip); steps past the last learnt one are never known, so they are NaN there
        for d in range(1, spec.event_window + 1):
            cols[f"{name}_prev_{d}"] = take(cov, rows, target - d)
            unknown = steps + d > horizon_cap if horizon_cap else np.zeros(len(steps), dtype=bool)
            cols[f"{name}_next_{d}"] = np.where(unknown, np.nan, take(cov, rows, target + d))
        cols[f"{name}_season"] = take(cov, rows, target - back)
        cols[f"{name}_mean_28"] = rolling_mean(cov, 28)[rows, origins]
    for j in spec.past:
        name = grid.covariates[j]
        cov = grid.x[..., j]
        cols[f"{name}_lag_1"] = cov[rows, origins]
        cols[f"{name}_mean_7"] = rolling_mean(cov, 7)[rows, origins]
    matrix = np.column_stack([np.asarray(v, dtype="float64") for v in cols.values()])
    return matrix, scale, list(cols)
