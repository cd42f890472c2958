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

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from fcplan.models import vectorized as vec
from fcplan.models.baselines import LocalForecaster

#: ``backend="auto"`` fits all series at once in numpy from this many series on (the
#: engine's pilot fit of 8 series then measures the path the whole panel takes).
NUMPY_FROM_SERIES = 8
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

    def _batched(self, n_series: int) -> bool:
        backend = self.params["backend"]
        if backend not in BACKENDS:
            raise ValueError(f"{self.name}: unknown backend {backend!r}; use one of {BACKENDS}")
        return backend == "numpy" or (backend == "auto" and n_series >= NUMPY_FROM_SERIES)

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
        return vec.fit_ets(z, m, bool(self.params["damped"])), transforms

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


class SARIMAX(_Vectorised):
    """Regression with ARMA errors (statsmodels ``SARIMAX``) on seasonal Fourier terms
    and the panel's covariates (promotions, holidays), which must be known in advance.

    Params: ``order`` ((1, 0, 1)), ``max_iter`` (50), ``transform`` ("sqrt"),
    ``max_length`` (365 points), ``n_jobs`` (1), ``backend`` ("auto"; the numpy path
    fits AR(1) errors by Cochrane-Orcutt instead of ARMA by likelihood). Covariates
    constant over the training window are dropped for that series.
    """

    name = "sarimax"
    uses_covariates = True

    def __init__(
        self, transform: str = "sqrt", order: tuple[int, int, int] = (1, 0, 1), max_iter: int = 50, n_jobs: int = 1,
        max_length: int | None = 365, backend: str = "auto",
    ) -> None:
        super().__init__(transform=transform, order=tuple(order), max_iter=max_iter, n_jobs=n_jobs,
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _Sarimax(
                z,
                exog=exog if exog.shape[1] else None,
                order=tuple(self.params["order"]),
                trend="c",
                concentrate_scale=True,
            )
            result = model.fit(disp=False, maxiter=int(self.params["max_iter"]))
        return _Fitted(result, y, logged, keep)

    def _forecast_series(
        self, state: _Fitted, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        n = state.result.model.nobs
        keep = state.keep if state.keep is not None else np.array([], dtype=int)
        exog = np.hstack([self._fourier(np.arange(n, n + h), n), x_future[:, keep]])
        fc = state.result.get_forecast(h, exog=exog if exog.shape[1] else None)
        return normal_quantiles(
            np.asarray(fc.predicted_mean), np.asarray(fc.var_pred_mean), quantiles, state.logged
        )


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
            result = ThetaModel(
                z, period=m if m > 1 else None, deseasonalize=m > 1 and z.size >= 2 * m, method="additive"
            ).fit()
        return _Fitted(result, y, logged)

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
        variance = float(result.sigma2) * (1.0 + np.arange(h) * alpha**2)
        return normal_quantiles(mean, variance, quantiles, state.logged)
