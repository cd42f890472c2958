"""Per-series (local) models: the template they share and the two baselines.

:class:`LocalForecaster` turns the panel into one regular numpy array per series
(gaps as NaN), calls ``_fit_series``/``_forecast_series`` on each, and falls back
to the seasonal-naive baseline for series a model cannot handle (short,
constant, all-zero, gappy, or a failed fit), logging which and why.

The baselines :class:`SeasonalNaive` and :class:`MovingAverage` take their
quantiles from the empirical distribution of their own in-sample h-step errors,
so the intervals widen with the horizon as the errors do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fcplan.core.frequency import season_length
from fcplan.core.panel import DS, UNIQUE_ID, Y, covariate_columns
from fcplan.models.base import Forecaster
from fcplan.models.features import grid_positions
from fcplan.models.vectorized import right_align

log = logging.getLogger(__name__)

#: Seasons longer than this (52 weeks of weekly data) are not required ``min_seasons``
#: times before a model is fitted: the models treat such a season as optional.
MAX_REQUIRED_SEASON = 24
#: At most this many past origins feed the empirical error distribution.
MAX_ERRORS = 730


@dataclass
class SeriesData:
    """One series on a regular grid: ``y`` (NaN at gaps) and covariates ``x`` (n, k), from
    ``first`` every ``offset``."""

    uid: str
    first: pd.Timestamp
    offset: pd.DateOffset
    y: np.ndarray
    x: np.ndarray

    @property
    def ds(self) -> pd.DatetimeIndex:
        """The grid's timestamps (built on demand: the fits need only the values)."""
        return pd.date_range(self.first, periods=len(self.y), freq=self.offset)


def regular_series(panel: pd.DataFrame, freq: str, covariates: Sequence[str]) -> list[SeriesData]:
    """Split a sorted panel (``unique_id, ds, y`` + ``covariates``) into regular arrays.

    Fixed-length frequencies (hours, days, weeks) are laid out for all series at once
    in numpy; calendar ones (months) series by series with pandas."""
    offset = pd.tseries.frequencies.to_offset(freq)
    where = grid_positions(panel, freq)
    if where is None:
        return _regular_series_by_group(panel, offset, covariates)
    ids, pos = panel[UNIQUE_ID].to_numpy(), where.pos
    y_all = panel[Y].to_numpy(dtype="float64")
    x_all = panel[list(covariates)].to_numpy(dtype="float64") if covariates else np.zeros((len(ids), 0))
    out = []
    for a, b in zip(where.starts, where.ends, strict=True):
        p = pos[a:b]
        n = int(p[-1]) + 1
        y = np.full(n, np.nan)
        y[p] = y_all[a:b]
        x = np.zeros((n, x_all.shape[1]))
        x[p] = np.nan_to_num(x_all[a:b])
        out.append(SeriesData(str(ids[a]), pd.Timestamp(where.first_ns[len(out)], unit="ns"), offset, y, x))
    return out


def _regular_series_by_group(
    panel: pd.DataFrame, offset: pd.DateOffset, covariates: Sequence[str]
) -> list[SeriesData]:
    out = []
    for uid, grp in panel.groupby(UNIQUE_ID, sort=False):
        grid = pd.date_range(grp[DS].iloc[0], grp[DS].iloc[-1], freq=offset)
        frame = grp.set_index(DS)[[Y, *covariates]].reindex(grid)
        x = frame[list(covariates)].fillna(0.0).to_numpy(dtype="float64")
        out.append(SeriesData(str(uid), grid[0], offset, frame[Y].to_numpy(dtype="float64"), x))
    return out


def interpolate_gaps(y: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN (constant at the edges); all-NaN becomes zeros."""
    ok = np.isfinite(y)
    if ok.all():
        return y
    if not ok.any():
        return np.zeros_like(y)
    idx = np.arange(y.size)
    return np.interp(idx, idx[ok], y[ok])


def interpolate_covariates(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` ``(T, k)`` with its rows at the gaps of ``y`` (NaN) interpolated linearly between
    the observed rows (constant at the edges)."""
    ok = np.isfinite(y)
    if ok.all() or not ok.any() or not x.shape[1]:
        return x
    idx = np.arange(y.size)
    out = np.array(x, dtype="float64", copy=True)
    for j in range(x.shape[1]):
        out[~ok, j] = np.interp(idx[~ok], idx[ok], x[ok, j])
    return out


def empirical_quantiles(
    point: np.ndarray, errors: list[np.ndarray], quantiles: Sequence[float]
) -> np.ndarray:
    """``point[k] + quantile(errors[k], q)`` -> ``(h, n_q)``; empty error sets give zero width."""
    q = np.asarray(quantiles, dtype="float64")
    rows = [np.quantile(e, q) if e.size else np.zeros_like(q) for e in errors]
    return point[:, None] + np.vstack(rows)


def row_quantiles(values: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """``(n, E) -> (n, n_q)``: ``np.quantile`` (linear) of each row's finite values, for all
    rows at once; rows without any give 0."""
    q = np.asarray(quantiles, dtype="float64")
    ordered = np.sort(values, axis=1)  # NaN last
    count = np.isfinite(ordered).sum(axis=1)
    pos = (np.maximum(count, 1) - 1)[:, None] * q[None, :]
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0)[:, None])
    v_lo, v_hi = np.take_along_axis(ordered, lo, axis=1), np.take_along_axis(ordered, hi, axis=1)
    out = v_lo + (pos - lo) * (v_hi - v_lo)
    return np.where(count[:, None] > 0, out, 0.0)


def seasonal_naive_batch(y: np.ndarray, h: int, season: int, quantiles: Sequence[float]) -> np.ndarray:
    """:func:`seasonal_naive_quantiles` of every row of a right-aligned ``y`` ``(n, T)`` (NaN
    before each series starts) that has more than ``season * ceil(h / season) + 1`` values."""
    t_len = y.shape[1]
    steps = np.arange(h)
    point = y[:, t_len - season + steps % season]
    out = np.empty((len(y), h, len(quantiles)))
    for k in range(1, h + 1):
        lag = season * int(np.ceil(k / season))
        errors = (y[:, lag:] - y[:, :-lag])[:, -MAX_ERRORS:]
        out[:, k - 1] = point[:, k - 1, None] + row_quantiles(errors, quantiles)
    return out


def moving_average_batch(y: np.ndarray, h: int, window: int, quantiles: Sequence[float]) -> np.ndarray:
    """:func:`moving_average_quantiles` of every row of a right-aligned ``y`` ``(n, T)`` that
    has more than ``window + h`` values."""
    t_len = y.shape[1]
    ok = np.isfinite(y)
    zero = np.zeros((len(y), 1))
    sums = np.concatenate([zero, np.cumsum(np.where(ok, y, 0.0), axis=1)], axis=1)
    full = np.concatenate([zero, np.cumsum(ok, axis=1)], axis=1)
    # ma[:, t] = mean(y[:, t-window:t]) for t = window..T, NaN unless all observed
    ma = (sums[:, window:] - sums[:, :-window]) / window
    ma = np.where(full[:, window:] - full[:, :-window] == window, ma, np.nan)
    out = np.empty((len(y), h, len(quantiles)))
    for k in range(1, h + 1):
        origins = t_len - k + 1 - window  # ma columns for t = window..T-k
        errors = (y[:, window + k - 1:] - ma[:, :origins])[:, -MAX_ERRORS:]
        out[:, k - 1] = ma[:, -1, None] + row_quantiles(errors, quantiles)
    return out


def seasonal_naive_quantiles(y: np.ndarray, h: int, season: int, quantiles: Sequence[float]) -> np.ndarray:
    """Seasonal naive forecast of a gap-free ``y`` with empirical h-step error quantiles."""
    n = y.size
    m = season if n > season else 1
    steps = np.arange(h)
    point = y[n - m + steps % m]
    errors = []
    for k in range(1, h + 1):
        lag = m * int(np.ceil(k / m))
        if n > lag + 1:
            errors.append((y[lag:] - y[:-lag])[-MAX_ERRORS:])
        elif n > m:
            base = (y[m:] - y[:-m])[-MAX_ERRORS:]
            errors.append(base * np.sqrt(np.ceil(k / m)))
        else:
            errors.append(np.diff(y) * np.sqrt(k))
    return empirical_quantiles(point, errors, quantiles)


def moving_average_quantiles(y: np.ndarray, h: int, window: int, quantiles: Sequence[float]) -> np.ndarray:
    """Flat mean of the last ``window`` values with empirical h-step error quantiles."""
    n = y.size
    w = max(1, min(window, n - 1)) if n > 1 else 1
    point = np.full(h, y[-w:].mean())
    csum = np.concatenate([[0.0], np.cumsum(y)])
    ma = (csum[w:] - csum[:-w]) / w  # ma[t - w] = mean(y[t-w:t]) for t = w..n
    errors = []
    for k in range(1, h + 1):
        last = n - k + 1  # origins t = w..n-k
        if last > w:
            e = y[w + k - 1 : n] - ma[: last - w]
            errors.append(e[-MAX_ERRORS:])
        else:
            errors.append(np.diff(y) * np.sqrt(k))
    return empirical_quantiles(point, errors, quantiles)


def fallback_reason(y: np.ndarray, min_length: int, max_gap_share: float = 0.1) -> str | None:
    """Why a statistical model should not be fitted on ``y`` (NaN = gap), or None."""
    finite = y[np.isfinite(y)]
    if finite.size < min_length:
        return f"short series ({finite.size} observations, needs {min_length})"
    gaps = y.size - finite.size
    if gaps > max_gap_share * y.size:
        return f"gappy series ({gaps} of {y.size} timestamps missing)"
    if np.all(finite == 0):
        return "all-zero series"
    if np.ptp(finite) == 0:
        return "constant series"
    return None


_FALLBACK = "fallback"
_BATCH = "batch"


def _fit_chunk(model: LocalForecaster, chunk: list[SeriesData]) -> list[tuple[Any, str | None]]:
    return [model._fit_one(series) for series in chunk]


class LocalForecaster(Forecaster):
    """Template for per-series models: subclasses implement ``_fit_series`` and
    ``_forecast_series``; series they cannot handle fall back to seasonal naive.

    Hyperparameters common to all, named in each subclass's ``__init__``: ``n_jobs``
    (processes across series), ``max_length`` (fit on at most the last so many points;
    None: all), which bound fit time.
    """

    #: Fewer observations than this (in seasons, at most :data:`MAX_REQUIRED_SEASON` steps
    #: each, + 2 points) fall back to the baseline.
    min_seasons: ClassVar[float] = 2.0
    #: Whether the model falls back at all (the baselines handle every series).
    can_fall_back: ClassVar[bool] = True
    #: A series with more missing timestamps than this share falls back.
    max_gap_share: ClassVar[float] = 0.1
    def _fit(self, panel: pd.DataFrame) -> None:
        self.season_ = season_length(self.freq_)
        used = self._used_covariates(panel)
        self.used_covariates_: list[str] = used
        series = regular_series(panel, self.freq_, used)
        n_jobs = int(self.params["n_jobs"])
        if self._batched(len(series), [s.y.size for s in series]):
            results = self._fit_all_at_once(series)
        elif n_jobs > 1 and len(series) > 4 * n_jobs:
            chunks = [series[i::n_jobs] for i in range(n_jobs)]
            with ProcessPoolExecutor(n_jobs) as pool:
                parts = list(pool.map(_fit_chunk, [self] * n_jobs, chunks))
            results: list[tuple[Any, str | None]] = [None] * len(series)  # type: ignore[list-item]
            for i, part in enumerate(parts):
                results[i::n_jobs] = part
        else:
            results = _fit_chunk(self, series)
        self.states_ = [state for state, _ in results]
        self.fallbacks_: dict[str, str] = {
            s.uid: reason for s, (_, reason) in zip(series, results, strict=True) if reason is not None
        }
        if self.fallbacks_:
            examples = dict(list(self.fallbacks_.items())[:3])
            log.info(
                "%s: %d series fell back to seasonal naive, e.g. %s",
                self.name,
                len(self.fallbacks_),
                examples,
            )

    def _used_covariates(self, panel: pd.DataFrame) -> list[str]:
        return covariate_columns(panel) if self.uses_covariates else []

    def _prepare(self, series: SeriesData) -> tuple[np.ndarray, np.ndarray, str | None]:
        """The last ``max_length`` points of a series and why it cannot be fitted (or None)."""
        max_length = self.params["max_length"]
        y, x = series.y, series.x
        if max_length:
            y, x = y[-int(max_length) :], x[-int(max_length) :]
        if not self.can_fall_back:
            return y, x, None
        return y, x, fallback_reason(y, self._min_length(), self.max_gap_share)

    def _fill_gaps(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``y`` and ``x`` as the fit gets them: the gaps of ``y`` (NaN) interpolated, and the
        covariates there (where the regular grid holds 0) interpolated alike, so that an
        interpolated count is not paired with a price of 0."""
        return interpolate_gaps(y), interpolate_covariates(y, x)

    def _min_length(self) -> int:
        """Observations below which a series falls back (see :attr:`min_seasons`)."""
        return int(self.min_seasons * min(self.season_, MAX_REQUIRED_SEASON)) + 2

    def _fit_one(self, series: SeriesData) -> tuple[Any, str | None]:
        y, x, reason = self._prepare(series)
        if reason is None:
            try:
                return self._fit_series(*self._fill_gaps(y, x)), None
            except Exception as exc:
                if not self.can_fall_back:
                    raise
                reason = f"fit failed ({type(exc).__name__}: {str(exc)[:80]})"
        return (_FALLBACK, interpolate_gaps(y)), reason

    def _fit_all_at_once(self, series: list[SeriesData]) -> list[tuple[Any, str | None]]:
        """The batched path: the series a model can handle are fitted together by
        ``_fit_batch``; their states are ``(_BATCH, row)``."""
        prepared = [self._prepare(s) for s in series]
        good = [i for i, (_, _, reason) in enumerate(prepared) if reason is None]
        self.batch_rows_ = np.array(good, dtype=int)
        filled = [self._fill_gaps(*prepared[i][:2]) for i in good]
        self.batch_ = self._fit_batch([y for y, _ in filled], [x for _, x in filled]) if good else None
        row = {i: j for j, i in enumerate(good)}
        return [
            ((_BATCH, row[i]), None) if reason is None else ((_FALLBACK, interpolate_gaps(y)), reason)
            for i, (y, _, reason) in enumerate(prepared)
        ]

    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        names = self.used_covariates_
        missing = [c for c in names if c not in future.columns]
        if missing:
            from fcplan.core.panel import PanelError

            raise PanelError(
                f"{self.name} was fitted with covariates {names} but future lacks {missing}; pass their "
                "values for the next steps in `future` (unique_id, ds + covariates)"
            )
        x_future = future[names].to_numpy(dtype="float64").reshape(len(self.series_ids_), h, len(names))
        out = np.empty((len(self.series_ids_), h, len(quantiles)))
        batch_rows = getattr(self, "batch_rows_", np.array([], dtype=int))
        if getattr(self, "batch_", None) is not None and batch_rows.size:
            out[batch_rows] = self._predict_batch(self.batch_, h, x_future[batch_rows], quantiles)
        own = []  # the series forecast from their own fitted state
        for i, state in enumerate(self.states_):
            if isinstance(state, tuple) and state and state[0] == _BATCH:
                continue
            if isinstance(state, tuple) and state and state[0] == _FALLBACK:
                out[i] = seasonal_naive_quantiles(state[1], h, self.season_, quantiles)
                continue
            own.append(i)
        forecasts = self._forecast_many([self.states_[i] for i in own], h, x_future[own], quantiles)
        for i, value in zip(own, forecasts, strict=True):
            if not isinstance(value, Exception):
                out[i] = value
                continue
            log.warning(
                "%s: forecast of %s failed (%s); seasonal naive used", self.name, self.series_ids_[i], value
            )
            self.fallbacks_[self.series_ids_[i]] = f"forecast failed ({type(value).__name__})"
            out[i] = seasonal_naive_quantiles(self._history(self.states_[i]), h, self.season_, quantiles)
        return out

    def _forecast_many(
        self, states: list[Any], h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> list[np.ndarray | Exception]:
        """``_forecast_series`` of each of ``states`` (covariates ``x_future`` ``(n, h, k)``):
        its ``(h, n_q)`` quantiles, or the exception it raised. Subclasses may forecast
        the series together (the same values, fewer calls)."""
        out: list[np.ndarray | Exception] = []
        for state, x in zip(states, x_future, strict=True):
            try:
                out.append(self._forecast_series(state, h, x, quantiles))
            except Exception as exc:
                out.append(exc)
        return out

    def _history(self, state: Any) -> np.ndarray:
        """The (transformed back) history kept in ``state``; subclasses keep it as ``state.y``."""
        return np.asarray(state.y, dtype="float64")

    # ------------------------------------------------------------- subclass
    def _batched(self, n_series: int, lengths: Sequence[int] = ()) -> bool:
        """Whether to fit all series at once with ``_fit_batch`` (models vectorised across
        series override it); otherwise ``_fit_series`` runs series by series. ``lengths``: the
        series' points."""
        return False

    def _fit_batch(self, ys: list[np.ndarray], xs: list[np.ndarray]) -> Any:
        """Fit all gap-free series ``ys`` (each ``(n_i,)``, covariates ``(n_i, k)``) at once."""
        raise NotImplementedError

    def _predict_batch(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        """``(n, h, n_q)`` of the batch's series from ``_fit_batch``'s state and covariates ``(n, h, k)``."""
        raise NotImplementedError

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> Any:
        """Fit on one gap-free series ``y`` (n,) with covariates ``x`` (n, k); return its state."""
        raise NotImplementedError

    def _forecast_series(
        self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        """``(h, n_q)`` quantiles of one series from its state and future covariates ``(h, k)``."""
        raise NotImplementedError


@dataclass
class _History:
    y: np.ndarray


class _BatchedBaseline(LocalForecaster):
    """A baseline computed for all long-enough series at once (the others series by series)."""

    can_fall_back = False

    def _batched(self, n_series: int, lengths: Sequence[int] = ()) -> bool:
        return True

    def _fit_batch(self, ys: list[np.ndarray], xs: list[np.ndarray]) -> Any:
        return ys

    def _long_enough(self, h: int) -> int:
        raise NotImplementedError

    def _batch_rows(self, y: np.ndarray, h: int, quantiles: list[float]) -> np.ndarray:
        raise NotImplementedError

    def _predict_batch(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        ys: list[np.ndarray] = state
        need = self._long_enough(h)
        long = np.array([len(y) > need for y in ys], dtype=bool)
        out = np.empty((len(ys), h, len(quantiles)))
        if long.any():
            out[long] = self._batch_rows(right_align([y for y, k in zip(ys, long, strict=True) if k]), h,
                                         quantiles)
        for i in np.flatnonzero(~long):
            out[i] = self._forecast_series(_History(ys[i]), h, np.empty((h, 0)), quantiles)
        return out


class SeasonalNaive(_BatchedBaseline):
    """Repeat the last season (7 days / 52 weeks / 24 hours; naive when shorter).

    Quantiles: empirical distribution of in-sample errors at each step's lag.
    """

    name = "seasonal_naive"

    def _long_enough(self, h: int) -> int:
        return self.season_ * int(np.ceil(h / self.season_)) + 1

    def _batch_rows(self, y: np.ndarray, h: int, quantiles: list[float]) -> np.ndarray:
        return seasonal_naive_batch(y, h, self.season_, quantiles)

    def __init__(self, n_jobs: int = 1, max_length: int | None = None) -> None:
        super().__init__(n_jobs=n_jobs, max_length=max_length)

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _History:
        return _History(y)

    def _forecast_series(
        self, state: _History, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        return seasonal_naive_quantiles(state.y, h, self.season_, quantiles)


class MovingAverage(_BatchedBaseline):
    """Flat mean of the last ``window`` observations (default 28).

    Quantiles: empirical distribution of in-sample h-step errors of the same rule.
    """

    name = "moving_average"

    def _long_enough(self, h: int) -> int:
        return int(self.params["window"]) + h

    def _batch_rows(self, y: np.ndarray, h: int, quantiles: list[float]) -> np.ndarray:
        return moving_average_batch(y, h, int(self.params["window"]), quantiles)

    def __init__(self, window: int = 28, n_jobs: int = 1, max_length: int | None = None) -> None:
        super().__init__(window=window, n_jobs=n_jobs, max_length=max_length)

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _History:
        return _History(y)

    def _forecast_series(
        self, state: _History, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        return moving_average_quantiles(state.y, h, int(self.params["window"]), quantiles)
