"""statsmodels models fitted per series: :class:`ETS`, :class:`SARIMAX`, :class:`Theta`.

Each fits on ``sqrt(y)`` when the series is non-negative (``transform="sqrt"``,
the default; ``"log1p"`` and ``"none"`` are the alternatives): the square root
stabilises the variance of counts and, unlike the log, copes with closed days
(zeros). Quantiles commute with a monotone map, so the square of a quantile on
the root scale is the quantile on the original scale. Quantiles come from the
Gaussian predictive distribution statsmodels gives on the fitted scale.

Series that are short, constant, all-zero or gappy, and series whose fit fails,
fall back to seasonal naive (see :class:`fcplan.models.baselines.LocalForecaster`).
Fit time is bounded by ``max_iter`` and ``max_length`` (last points only).

``backend``: ``"statsmodels"`` fits series by series (maximum likelihood);
``"numpy"`` fits all series at once (:mod:`fcplan.models.vectorized`: smoothing
parameters from a grid, chosen per series by in-sample error, as statsforecast's
models are vectorised), in milliseconds per thousand series; ``"auto"`` (default)
takes numpy from :data:`NUMPY_FROM_SERIES` series on, so that the cost grows
linearly with the series with a small constant.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from fcplan.core.frequency import season_is_a_year
from fcplan.models import vectorized as vec
from fcplan.models.baselines import LocalForecaster

#: ``backend="auto"`` fits all series at once in numpy from this many series on (the
#: engine's pilot fit of 8 series then measures the path the whole panel takes).
NUMPY_FROM_SERIES = 8
#: SARIMAX's ``backend="auto"`` takes the numpy path from this many series on: its
#: statsmodels fit (ARMA errors by maximum likelihood, a numerical gradient over the
#: intercept, Fourier terms and covariates, up to ``max_iter`` iterations) cost about
#: 0.2 s a series and fit at 50 iterations, refit on every backtest and calibration window
#: and the final fit: on tuna_weekly (7 weekly series, 2 covariates, 35 fits a run) it was half the
#: run's CPU. With the numpy path there (AR(1) errors by Cochrane-Orcutt): CPU per window
#: 13.3 -> 7.1 s, wQL 0.2312 -> 0.2317, 80 % coverage 0.845 -> 0.863. On
#: flights_origin_daily (3 series) the numpy path cost the band 4 of its 126 points
#: (coverage 0.738 -> 0.706): panels of fewer series keep the likelihood fits.
SARIMAX_NUMPY_FROM_SERIES = 4
#: The same threshold where the season is a year (monthly, quarterly data: :func:`season_is_a_year`).
#: There the numpy path (Fourier terms and AR(1) errors on the levels) has no answer to a trend or a
#: season that moves from year to year, while the likelihood fit with its order chosen per series
#: (seasonal differencing, drift: :func:`choose_order`) has; and such series are short (tens to a
#: few hundred points), so a fit costs milliseconds. SARIMAX alone, 3 test windows of
#: benchmarks/shapes.py (member_replay.py, the capture's 4-6 rolling windows): quarterly_mixed
#: (6 series) 0.0869 -> 0.0418 wQL, monthly_mixed (6) 0.0267 -> 0.0210, visnights_quarterly (20)
#: 0.0669 -> 0.0650; prison_quarterly (32 series of 8-32 quarters, where the order search falls back
#: to (1, 0, 1)) 0.0597 -> 0.0683, but the ensemble there 0.0569 -> 0.0566. From 64 series on the
#: per-series fits would grow with the panel (a thousand monthly SKUs): the numpy path again; so
#: too where the median series is too short for the order search (:func:`order_search_room`:
#: under 42 quarters or 35 months), whose fallback, ``(1, 0, 1)`` on Fourier terms, is what
#: the numpy path fits (by AR(1)) in a fraction of the time (prison_quarterly in the engine: 0.0512
#: -> 0.0515 wQL for 3.9 -> 15 s a window when its 32 short series took the likelihood path).
SARIMAX_YEARLY_NUMPY_FROM_SERIES = 64
#: ... and from this many points in all (the series' fitted lengths summed): a fit costs about 0.1 s
#: for 96 months and 0.18 s for 365 (CPU, one thread), once per series, backtest window and
#: calibration window. employment_monthly (147 series x 96 months, 14,112 points) took 36 s a window
#: on the likelihood path against 8.8 s on the numpy path, for 2 % wQL (i29-shapes): this bound keeps
#: the path's extra time near 15 s a window on the panels it takes (63 long monthly series: numpy).
SARIMAX_YEARLY_MAX_POINTS = 8_000
#: L-BFGS iterations of a SARIMAX likelihood fit. The fits of the dev suite's daily panels
#: stopped at 50 unconverged (each iteration a numerical gradient: one likelihood per
#: parameter, 20-odd with holiday flags); at 25 (fcplan alone, 3 windows each):
#: flights_origin_daily wQL 0.0479 -> 0.0471 (coverage 0.738 -> 0.754) and about 1.5-2 s less
#: CPU a window, elec_hourly 0.0275 -> 0.0270 (0.847 -> 0.833), hyndsight_daily 0.0604 -> 0.0604.
#: With the order chosen per series (:data:`ORDER` "auto") the fits converge sooner, and the
#: cap cost accuracy: at 25 against 50, hyndsight_daily 0.0600 against 0.0582, elec_hourly
#: 0.0275 against 0.0276, flights_origin_daily 0.0471 both; CPU a window 5.3 against 5.9 s,
#: 10.5 against 11.6 s, 8.1 against 8.2 s (same machine, one after the other). Back to 50.
SARIMAX_MAX_ITER = 50
BACKENDS = ("auto", "statsmodels", "numpy")


def to_model_scale(y: np.ndarray, transform: str | None) -> tuple[np.ndarray, str | None]:
    """``log1p(y)`` or ``sqrt(y)`` when asked and ``y >= 0``; returns the values and the
    transform that applied (None when none did)."""
    if transform in ("log1p", "sqrt") and np.nanmin(y) >= 0:
        return (np.log1p(y) if transform == "log1p" else np.sqrt(y)), transform
    return y, None


def normal_quantiles(
    mean: np.ndarray, variance: np.ndarray, quantiles: list[float], logged: str | bool | None
) -> np.ndarray:
    """``(h, n_q)`` quantiles of N(mean, variance), mapped back to the original scale
    (``logged``: the transform of :func:`to_model_scale`; True means log1p)."""
    sd = np.sqrt(np.clip(np.nan_to_num(np.asarray(variance, dtype="float64")), 0.0, None))
    values = np.asarray(mean, dtype="float64")[:, None] + norm.ppf(quantiles)[None, :] * sd[:, None]
    if logged is True or logged == "log1p":
        values = np.expm1(np.clip(values, None, 50.0))
    elif logged == "sqrt":
        values = np.clip(values, 0.0, None) ** 2
    return values


def fourier(t: np.ndarray, season: int, k: int = 3) -> np.ndarray:
    """Seasonal Fourier terms ``(len(t), 2k)`` of period ``season`` (none when season <= 1)."""
    k = min(k, season // 2)
    if season <= 1 or k < 1:
        return np.empty((t.size, 0))
    arg = 2 * np.pi * np.outer(t, np.arange(1, k + 1)) / season
    cols = np.hstack([np.sin(arg), np.cos(arg)])
    return cols[:, np.abs(cols).max(axis=0) > 1e-9] if t.size else cols


def normal_quantiles_batch(
    mean: np.ndarray, variance: np.ndarray, quantiles: list[float], transforms: list[str | None]
) -> np.ndarray:
    """``(n, h, n_q)`` quantiles of N(mean, variance) ``(n, h)``, row ``i`` mapped back from
    the scale of ``transforms[i]`` (see :func:`to_model_scale`)."""
    sd = np.sqrt(np.clip(np.nan_to_num(variance), 0.0, None))
    values = mean[..., None] + norm.ppf(quantiles)[None, None, :] * sd[..., None]
    kind = np.array([t or "" for t in transforms])[:, None, None]
    return np.where(kind == "log1p", np.expm1(np.clip(values, None, 50.0)),
                    np.where(kind == "sqrt", np.clip(values, 0.0, None) ** 2, values))


class _Vectorised(LocalForecaster):
    """A statsmodels model with a numpy path across series (``backend``, see module doc)."""

    #: ``backend="auto"`` takes the numpy path from this many series on
    numpy_from_series: int = NUMPY_FROM_SERIES

    def _batched(self, n_series: int, lengths: Sequence[int] = ()) -> bool:
        backend = self.params["backend"]
        if backend not in BACKENDS:
            raise ValueError(f"{self.name}: unknown backend {backend!r}; use one of {BACKENDS}")
        return backend == "numpy" or (backend == "auto" and n_series >= self.numpy_from_series)

    def _model_scale(self, ys: list[np.ndarray]) -> tuple[np.ndarray, list[str | None]]:
        scaled = [to_model_scale(y, self.params["transform"]) for y in ys]
        return vec.right_align([z for z, _ in scaled]), [t for _, t in scaled]


@dataclass
class _Fitted:
    """A fitted statsmodels result with what forecasting needs."""

    result: Any
    y: np.ndarray
    logged: str | None
    keep: np.ndarray | None = None
    #: SARIMAX: whether the exogenous regressors start with the Fourier terms
    seasonal_terms: bool = True
    #: Theta: the one-step variance of its SES (None: statsmodels' ``sigma2``)
    sigma2: float | None = None


class ETS(_Vectorised):
    """Additive-error ETS with damped trend and seasonality (statsmodels ``ETSModel``, or
    :func:`fcplan.models.vectorized.fit_ets` on many series).

    Params: ``damped`` (default True), ``max_iter`` (100), ``transform`` ("sqrt"),
    ``max_length`` (730 points), ``n_jobs`` (1), ``backend`` ("auto"). Weekly data
    (season 52) gets no seasonal component: too many states for a per-series fit.
    """

    name = "ets"

    def __init__(
        self, transform: str = "sqrt", damped: bool = True, max_iter: int = 100, n_jobs: int = 1,
        max_length: int | None = 730, backend: str = "auto",
    ) -> None:
        super().__init__(transform=transform, damped=damped, max_iter=max_iter, n_jobs=n_jobs, max_length=max_length,
                         backend=backend)

    def _seasonal_period(self, n_obs: int) -> int:
        m = self.season_
        return m if 1 < m <= 24 and n_obs >= 2 * m + 2 else 1

    def _fit_batch(self, ys: list[np.ndarray], xs: list[np.ndarray]) -> Any:
        z, transforms = self._model_scale(ys)
        m = self._seasonal_period(min(len(y) for y in ys))
        return vec.fit_ets(z, m, bool(self.params["damped"]), yearly=season_is_a_year(self.freq_)), transforms

    def _predict_batch(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        fit, transforms = state
        mean, variance = vec.forecast_ets(fit, h)
        return normal_quantiles_batch(mean, variance, quantiles, transforms)

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _Fitted:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        z, logged = to_model_scale(y, self.params["transform"])
        m = self._seasonal_period(z.size)
        seasonal = "add" if m > 1 else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(
                pd.Series(z),
                error="add",
                trend="add",
                damped_trend=bool(self.params["damped"]),
                seasonal=seasonal,
                seasonal_periods=m if seasonal else None,
            )
            result = model.fit(disp=False, maxiter=int(self.params["max_iter"]))
        return _Fitted(result, y, logged)

    def _forecast_series(
        self, state: _Fitted, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        n = state.result.model.nobs
        pred = state.result.get_prediction(start=n, end=n + h - 1)
        mean = np.asarray(pred.predicted_mean, dtype="float64")
        return normal_quantiles(mean, np.asarray(pred.forecast_variance), quantiles, state.logged)


#: :class:`SARIMAX`'s default ``order``: chosen per series (:func:`choose_order`). Dev suite
#: (3 windows each) against ``(1, 0, 1)`` on Fourier terms: hyndsight_daily 0.0604 -> 0.0582,
#: elec_hourly, tuna_weekly, births_daily and flights_origin_daily: see benchmarks/DEVSUITE.md;
#: panels of :data:`SARIMAX_NUMPY_FROM_SERIES` series or more take the numpy path and are unchanged.
ORDER: tuple[int, int, int] | str = "auto"
#: ``p`` and ``q`` that :func:`choose_order` tries (each ``0..MAX_PQ``), for ``d`` in 0 and 1.
MAX_PQ = 2


def _lags(v: np.ndarray, k: int, start: int) -> np.ndarray:
    """``(len(v) - start, k)``: column ``j`` holds ``v[t - 1 - j]`` for ``t >= start``."""
    if not k:
        return np.empty((v.size - start, 0))
    return np.column_stack([v[start - 1 - j : v.size - 1 - j] for j in range(k)])


#: Seasonal differencing (with a seasonal MA term or none) is a candidate of
#: :func:`choose_order` for seasons up to this long (daily data's week, monthly data's year).
#: Not hourly data's day: on elec_hourly (season 24) it was worse (wQL 0.0270 -> 0.0291 against
#: the non-seasonal choice) and its state space cost half again the panel's CPU time.
MAX_SEASONAL_DIFF = 12
NO_SEASON = (0, 0, 0, 0)


def _search_layout(n: int, season: int, max_pq: int = MAX_PQ) -> tuple[int, int, int]:
    """:func:`choose_order`'s seasonal lag (0: none), long autoregression and first scored point
    for a series of ``n`` points."""
    m = season if 1 < season <= MAX_SEASONAL_DIFF and n >= 6 * season else 0
    long_ar = min(max(2 * max_pq + 2, int(np.ceil(np.log(max(n, 2)) ** 1.5)), m + 1), max(n // 4, 1))
    return m, long_ar, 1 + m + long_ar + max(max_pq, m) + 1


def order_search_room(n: int, season: int, max_pq: int = MAX_PQ) -> bool:
    """Whether a series of ``n`` points leaves :func:`choose_order` room to score its candidates
    (otherwise it returns ``(1, 0, 1)`` without seasonal differencing)."""
    return n - _search_layout(n, season, max_pq)[2] >= 3 * (2 * max_pq + 4)


def choose_order(
    z: np.ndarray, exog: np.ndarray | None = None, max_pq: int = MAX_PQ, season: int = 1,
) -> tuple[tuple[int, int, int], tuple[int, int, int, int], bool]:
    """``((p, d, q), (0, D, Q, season), drift)`` for a regression with seasonal ARIMA errors
    of ``z`` on ``exog``, by AICc over ``p, q in 0..max_pq``, ``d in {0, 1}``, seasonal
    differencing ``D in {0, 1}`` with a seasonal MA ``Q in {0, 1}`` (for ``1 < season <=``
    :data:`MAX_SEASONAL_DIFF`) and, where ``d + D = 1``, a drift or none, as statsforecast's
    AutoARIMA chooses among candidates; but each candidate is scored by a Hannan-Rissanen
    regression (a long autoregression's residuals stand in for the innovations) instead of
    a likelihood fit: a few least-squares solves in all.

    Every candidate is scored on the one-step errors of the *same* points of the levels (an
    ``ARIMA(p, 1, q)`` predicts ``z_t`` as ``z_{t-1}`` plus its forecast of the difference),
    so AICc compares the differencing orders too, which a unit-root test would decide apart
    from the fit."""
    z = np.asarray(z, dtype="float64")
    x = np.ones((z.size, 1)) if exog is None or not exog.shape[1] else np.column_stack([np.ones(z.size), exog])
    beta = np.linalg.lstsq(x, z, rcond=None)[0]
    u = z - x @ beta  # the regression's errors, the ARIMA part's data
    n = u.size
    m, long_ar, start = _search_layout(n, season, max_pq)
    lead = 1 + m  # the most points differencing takes
    seasonal = m > 0
    fallback = ((1, 0, 1), NO_SEASON, False)
    if not order_search_room(n, season, max_pq):
        return fallback
    best = (np.inf, *fallback)
    for big_d in ((0, 1) if seasonal else (0,)):
        for d in (0, 1):
            v = u.copy()
            if big_d:
                v[m:] = v[m:] - v[:-m]
            if d:
                v[1:] = v[1:] - v[:-1]
            lo = lead + long_ar  # innovations from a long AR on points where v is defined
            e = np.zeros(n)
            a = np.column_stack([np.ones(n - lo), _lags(v, long_ar, lo)])
            e[lo:] = v[lo:] - a @ np.linalg.lstsq(a, v[lo:], rcond=None)[0]
            target = v[start:]
            size = target.size
            for p in range(max_pq + 1):
                for q in range(max_pq + 1):
                    for big_q in ((0, 1) if big_d else (0,)):
                        for drift in ((False, True) if d + big_d == 1 else (d + big_d == 0,)):
                            cols = [_lags(v, p, start), _lags(e, q, start)]
                            if big_q:
                                cols.append(e[start - m : n - m, None])
                            if drift:
                                cols.append(np.ones((size, 1)))
                            a = np.hstack(cols)
                            resid = target - a @ np.linalg.lstsq(a, target, rcond=None)[0] if a.shape[1] else target
                            # + the variance and the regressors that differencing leaves
                            k = p + q + big_q + int(drift) + 1 + (x.shape[1] - 1 if not big_d else 0)
                            rss = float(resid @ resid)
                            if rss <= 0 or size - k - 1 <= 0:
                                continue
                            aicc = size * np.log(rss / size) + 2 * k + 2 * k * (k + 1) / (size - k - 1)
                            if aicc < best[0] - 1e-9:
                                seasonal_order = (0, 1, big_q, m) if big_d else NO_SEASON
                                best = (aicc, (p, d, q), seasonal_order, bool(drift) and d + big_d == 1)
    return best[1], best[2], best[3]


class SARIMAX(_Vectorised):
    """Regression with ARMA errors (statsmodels ``SARIMAX``) on seasonal Fourier terms
    and the panel's covariates (promotions, holidays), which must be known in advance.

    Params: ``order`` (``"auto"``, the default: ``(p, d, q)`` and seasonal differencing chosen
    per series, see :func:`choose_order`; or a fixed ``(p, d, q)``, e.g. ``(1, 0, 1)``, on
    Fourier terms), ``max_iter`` (50, see :data:`SARIMAX_MAX_ITER`), ``transform`` ("sqrt"),
    ``max_length`` (365 points), ``n_jobs`` (1), ``backend`` ("auto"; the numpy path
    fits AR(1) errors by Cochrane-Orcutt instead of ARMA by likelihood). Covariates
    constant over the training window are dropped for that series.
    """

    name = "sarimax"
    uses_covariates = True
    numpy_from_series = SARIMAX_NUMPY_FROM_SERIES

    def _batched(self, n_series: int, lengths: Sequence[int] = ()) -> bool:
        batched = super()._batched(n_series, lengths)
        if self.params["backend"] == "auto" and season_is_a_year(self.freq_) and self.params["order"] == "auto":
            max_length = self.params["max_length"] or np.inf
            fitted = np.minimum(np.asarray(lengths, dtype="float64"), max_length)
            room = fitted.size > 0 and order_search_room(int(np.median(fitted)), self.season_)
            too_big = n_series >= SARIMAX_YEARLY_NUMPY_FROM_SERIES or fitted.sum() > SARIMAX_YEARLY_MAX_POINTS
            return too_big or not room
        return batched

    def __init__(
        self, transform: str = "sqrt", order: tuple[int, int, int] | str = ORDER, max_iter: int = SARIMAX_MAX_ITER,
        n_jobs: int = 1, max_length: int | None = 365, backend: str = "auto",
    ) -> None:
        if isinstance(order, str) and order != "auto":
            raise ValueError(f"sarimax: order must be (p, d, q) or 'auto', got {order!r}")
        super().__init__(transform=transform, order=order if isinstance(order, str) else tuple(order),
                         max_iter=max_iter, n_jobs=n_jobs,
                         max_length=max_length, backend=backend)

    def _fourier(self, t: np.ndarray, n_obs: int) -> np.ndarray:
        """Seasonal terms once a season and two points are observed (none before: a yearly
        shape fitted on part of a year extrapolates wildly)."""
        return fourier(t, self.season_) if n_obs >= self.season_ + 2 else np.empty((t.size, 0))

    def _design(self, x: np.ndarray, start: int, seasonal: np.ndarray) -> np.ndarray:
        """``(n, T, 1 + F + k)``: intercept, Fourier terms of the column index from ``start``
        (zero for rows not ``seasonal``), covariates."""
        n, t_len = x.shape[:2]
        terms = fourier(np.arange(start, start + t_len), self.season_)
        terms = np.where(seasonal[:, None, None], terms[None], 0.0)
        return np.concatenate([np.ones((n, t_len, 1)), terms, x], axis=2)

    def _fit_batch(self, ys: list[np.ndarray], xs: list[np.ndarray]) -> Any:
        z, transforms = self._model_scale(ys)
        x = vec.right_align(xs, z.shape[1]) if xs[0].shape[1] else np.zeros((*z.shape, 0))
        seasonal = np.array([len(y) >= self.season_ + 2 for y in ys])
        return vec.fit_regression(z, self._design(x, 0, seasonal)), transforms, seasonal

    def _predict_batch(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        fit, transforms, seasonal = state
        mean, variance = vec.forecast_regression(fit, self._design(x_future, fit.n_cols, seasonal))
        return normal_quantiles_batch(mean, variance, quantiles, transforms)

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _Fitted:
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _Sarimax

        z, logged = to_model_scale(y, self.params["transform"])
        keep = np.flatnonzero(np.ptp(x, axis=0) > 0) if x.shape[1] else np.array([], dtype=int)
        exog = np.hstack([self._fourier(np.arange(z.size), z.size), x[:, keep]])
        order, seasonal_order, trend = self.params["order"], NO_SEASON, "c"
        seasonal_terms = True
        if order == "auto":
            order, seasonal_order, drift = choose_order(z, exog, season=self.season_)
            trend = "c" if order[1] + seasonal_order[1] == 0 or drift else "n"
            if seasonal_order[1]:  # seasonal differencing takes the place of the Fourier terms
                seasonal_terms = False
                exog = x[:, keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _Sarimax(
                z,
                exog=exog if exog.shape[1] else None,
                order=tuple(order),
                seasonal_order=seasonal_order,
                trend=trend,
                concentrate_scale=True,
            )
            result = model.fit(disp=False, maxiter=int(self.params["max_iter"]))
        return _Fitted(result, y, logged, keep, seasonal_terms)

    def _forecast_series(
        self, state: _Fitted, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        n = state.result.model.nobs
        keep = state.keep if state.keep is not None else np.array([], dtype=int)
        terms = self._fourier(np.arange(n, n + h), n) if state.seasonal_terms else np.empty((h, 0))
        exog = np.hstack([terms, x_future[:, keep]])
        fc = state.result.get_forecast(h, exog=exog if exog.shape[1] else None)
        return normal_quantiles(
            np.asarray(fc.predicted_mean), np.asarray(fc.var_pred_mean), quantiles, state.logged
        )


def ses_variance(x: np.ndarray, alpha: float) -> float:
    """The mean squared one-step error of simple exponential smoothing of ``x`` at ``alpha``,
    started at ``x[0]`` (as statsmodels' ``ThetaModel`` fits it): ``sse / (n - 1)``, as
    :func:`fcplan.models.vectorized.fit_theta`."""
    x = np.asarray(x, dtype="float64")
    if x.size < 2:
        return 0.0
    level, sse = x[0], 0.0
    for value in x[1:]:
        error = value - level
        sse += error * error
        level += alpha * error
    return sse / (x.size - 1)


#: Whether :class:`Theta`'s one-step variance (statsmodels path) is that of its SES on the
#: deseasonalised series (:func:`ses_variance`), as on the numpy path and in statsforecast. statsmodels' own
#: ``ThetaModelResults.sigma2`` fits an ARIMA(0,1,1) to the series *with* its season: on daily
#: data the weekly swings count as noise, the band was 1.3-1.9x too wide (80 % coverage 1.00 on
#: hyndsight_daily's test windows) and the member scored 0.1029 wQL there against statsforecast
#: Theta's 0.0685 with the same point forecast (0.0789 with the SES variance). Off by default: in
#: the engine (fcplan alone, 3 windows) the short daily panels were unchanged but ewr_daily (+0.8 %)
#: and retail_eu_2y (-1.0 %), while flights_origin_daily went 0.0467 -> 0.0470 with its 80 % coverage
#: 0.754 -> 0.714 and elec_hourly 0.0277 -> 0.0278 with 0.889 -> 0.931: there the ensemble's band
#: had leaned on Theta's width. See benchmarks/DEVSUITE.md, session 15, i25-hynd.
THETA_SES_VARIANCE = False


class Theta(_Vectorised):
    """The Theta method (statsmodels ``ThetaModel``, additive deseasonalisation; or
    :func:`fcplan.models.vectorized.fit_theta` on many series).

    Params: ``theta`` (2.0), ``transform`` ("sqrt"), ``max_length`` (730), ``n_jobs`` (1),
    ``backend`` ("auto").
    """

    name = "theta"

    def __init__(
        self, transform: str = "sqrt", theta: float = 2.0, n_jobs: int = 1, max_length: int | None = 730,
        backend: str = "auto",
    ) -> None:
        super().__init__(transform=transform, theta=theta, n_jobs=n_jobs, max_length=max_length, backend=backend)

    def _fit_batch(self, ys: list[np.ndarray], xs: list[np.ndarray]) -> Any:
        z, transforms = self._model_scale(ys)
        return vec.fit_theta(z, self.season_), transforms

    def _predict_batch(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        fit, transforms = state
        mean, variance = vec.forecast_theta(fit, h, float(self.params["theta"]))
        return normal_quantiles_batch(mean, variance, quantiles, transforms)

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _Fitted:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        z, logged = to_model_scale(y, self.params["transform"])
        m = self.season_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ThetaModel(
                z, period=m if m > 1 else None, deseasonalize=m > 1 and z.size >= 2 * m, method="additive"
            )
            result = model.fit()
            fitted = _Fitted(result, y, logged)
            if THETA_SES_VARIANCE:  # on the data the SES was fitted on: less the seasonal indices, if any
                with contextlib.suppress(Exception):
                    fitted.sigma2 = ses_variance(model._deseasonalize_data()[0], float(result.params.iloc[1]))
            if fitted.sigma2 is None:
                # statsmodels' variance fit (a SARIMAX) now, with the fit: the fit's time then tells where
                # to run it (fcplan.models.engine._placed_away), and a worker process that fits it does it
                # too (statsmodels keeps it with the result); a failure is met again by the forecast
                with contextlib.suppress(Exception):
                    result.sigma2  # noqa: B018
        return fitted

    def _forecast_series(
        self, state: _Fitted, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        theta = float(self.params["theta"])
        result = state.result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean = np.asarray(result.forecast(h, theta=theta), dtype="float64")
        # SES is an IMA(1,1): Var(h) = sigma2 (1 + (h-1) alpha^2). statsmodels' own
        # prediction_intervals uses (1 + (alpha-1)^2), far too wide for small alpha.
        alpha = float(result.params.iloc[1])
        sigma2 = state.sigma2 if state.sigma2 is not None else float(result.sigma2)
        variance = sigma2 * (1.0 + np.arange(h) * alpha**2)
        return normal_quantiles(mean, variance, quantiles, state.logged)
