"""A count regression per series: log-link Poisson GLM with negative-binomial quantiles.

For each series::

    log E[y_t] = a + b * t + season(t) + yearly(t) + c' f(x_t)

* ``season``: one effect per weekday (daily data), or per hour of the day plus
  Fourier terms of the hour of the week (hourly data);
* ``yearly``: Fourier terms of the time of year (10 pairs for daily data, as
  Prophet, 6 for weekly), once there is a year of data;
* ``f(x)``: the known-future covariates (promotions, holidays), ``log1p`` of the
  non-negative ones, so a covariate that is a relative uplift enters as the
  log of its multiplier;
* ``t`` in years, so ``b`` is the log growth per year;
* daily data: for each known 0/1 flag, an indicator of the :data:`AFTER_DAYS` days after
  its unusual days (a holiday; a work-day flag's 0 on a weekday), so the days between
  Christmas and New Year or after a holiday get their own effect
  (:func:`fcplan.models.features.after_flags`).

Fitted by iteratively reweighted least squares with a small ridge penalty and
exponentially decaying weights on old observations (``half_life`` in years), so a
level that moved is followed. Quantiles come from a negative binomial with the
fitted mean and a dispersion estimated from the Pearson residuals (a gamma with
the same variance when ``y`` is not integer): the interval is as wide as count
noise plus what the regression leaves unexplained. Multiplicative structure —
weekday times season times promotion — is what count data of orders show, and
what additive models on ``sqrt(y)`` (``fcplan.models.stats``) approximate.

Series with negative values fall back to seasonal naive (the fit refuses them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from fcplan.models.baselines import MAX_REQUIRED_SEASON, LocalForecaster, interpolate_gaps
from fcplan.models.features import AFTER_DAYS, after_flags, flag_columns, phase_modes
from fcplan.models.stats import fourier

#: Periods per year of the frequencies the regression knows (others get no yearly terms).
_PER_YEAR = {"D": 365.2425, "W": 365.2425 / 7, "H": 24 * 365.2425}
#: Fourier pairs of the yearly cycle (Prophet's default for daily data), at most one
#: pair per 8 steps of a year (6 for weekly data).
YEARLY_TERMS = 10
#: Fourier pairs of the weekly cycle of hourly data.
WEEKLY_TERMS = 3
#: Each phase of the season (weekday of daily data, hour of hourly data) gets its own
#: dispersion (:func:`phase_dispersion`), shrunk toward the pooled one as if the pooled one
#: were this many more (weighted) points of the phase. On the online-retail panel a Sunday's
#: error is about twice a weekday's relative to its level (median absolute error 36 % of the
#: level against 14-19 %, 24 windows of 14 days), which one dispersion for every day
#: spreads over all of them: Sundays' bands too narrow, the other days' too wide.
PHASE_PRIOR = 20.0
#: ``log(mean)`` of a forecast is capped at this much above the largest fitted value.
MAX_LOG_LIFT = np.log(4.0)
#: A level covariate (see :func:`level_columns`) enters as ``log(max(x, MIN_LEVEL))``.
MIN_LEVEL = 1e-6


@functools.lru_cache(maxsize=64)
def periods_per_year(freq: str) -> float | None:
    """How many steps of ``freq`` make a year (None for frequencies without a yearly cycle)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.upper()
    key = "W" if name.startswith("W") else name
    per_year = _PER_YEAR.get(key)
    return per_year / offset.n if per_year is not None else None


def design(
    t: np.ndarray, x: np.ndarray, season: int, per_year: float | None, yearly: int
) -> np.ndarray:
    """Columns of the regression (no intercept) at steps ``t`` with covariates ``x`` (n, k)."""
    cols = []
    if per_year:
        cols.append((t / per_year)[:, None])
    if 1 < season <= 24:
        phase = t.astype(np.int64) % season
        cols.append((phase[:, None] == np.arange(1, season)[None, :]).astype(float))
    if season == 24:  # hourly data: the hours of the week
        cols.append(fourier(t, 24 * 7, WEEKLY_TERMS))
    if yearly and per_year:
        arg = 2 * np.pi * np.outer(t / per_year, np.arange(1, yearly + 1))
        cols.append(np.hstack([np.sin(arg), np.cos(arg)]))
    cols.append(x)
    return np.hstack(cols) if cols else np.empty((t.size, 0))


def covariate_transform(x: np.ndarray, nonnegative: np.ndarray, positive: np.ndarray | None = None) -> np.ndarray:
    """``log1p`` of the non-negative covariates (by column), ``log`` of the ``positive`` ones
    (levels such as a price: a constant elasticity), the others unchanged."""
    out = np.array(x, dtype="float64", copy=True)
    logp = nonnegative if positive is None else nonnegative & ~positive
    out[:, logp] = np.log1p(np.clip(out[:, logp], 0.0, None))
    if positive is not None and positive.any():
        out[:, positive] = np.log(np.clip(out[:, positive], MIN_LEVEL, None))
    return out


def level_columns(x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` positive everywhere: levels (a price, a price index), not flags
    or shares, which can be 0."""
    return x.min(axis=0) > 0 if x.shape[1] else np.zeros(0, dtype=bool)


def fit_poisson(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, ridge: float, max_iter: int = 25, tol: float = 1e-7
) -> np.ndarray:
    """Coefficients (intercept first) of a weighted Poisson log-link regression with a
    ridge penalty on every coefficient but the intercept, by IRLS. ``X`` has no
    intercept column and standardised columns."""
    n, p = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    penalty = np.full(p + 1, ridge * weights.sum() / n)
    penalty[0] = 0.0
    cap = np.log(max(float(y.max()), 1.0)) + 5.0
    mu = y + 0.1 * max(float(np.average(y, weights=weights)), 0.1)
    eta = np.log(mu)
    beta = np.zeros(p + 1)
    last = np.inf
    for _ in range(max_iter):
        w = weights * mu
        z = eta + (y - mu) / mu
        lhs = A.T @ (A * w[:, None]) + np.diag(penalty)
        beta = np.linalg.solve(lhs, A.T @ (w * z))
        eta = np.clip(A @ beta, -30.0, cap)
        mu = np.exp(eta)
        deviance = float(np.sum(weights * (mu - y * eta)))
        if abs(last - deviance) <= tol * (abs(deviance) + 1.0):
            break
        last = deviance
    return beta


def dispersion(y: np.ndarray, mu: np.ndarray, weights: np.ndarray, integer: bool) -> float:
    """Negative-binomial size ``r`` (variance ``mu + mu**2 / r``; for non-integer data
    ``mu**2 / r``) from the weighted Pearson residuals; large when there is no excess."""
    excess = (y - mu) ** 2 - (mu if integer else 0.0)
    inv = float(np.sum(weights * excess) / max(float(np.sum(weights * mu**2)), 1e-12))
    return 1.0 / inv if inv > 1e-8 else 1e8


def phase_dispersion(
    y: np.ndarray, mu: np.ndarray, weights: np.ndarray, integer: bool, phase: np.ndarray, season: int,
    prior: float = 0.0,
) -> np.ndarray:
    """``(season,)`` negative-binomial sizes, one per phase of the season (``phase`` of each
    point, ``0 .. season - 1``): the overdispersion (``1 / r``) of :func:`dispersion` on the
    phase's own points, averaged with the pooled one's, weighing ``prior`` against the phase's
    total observation weight. A phase without a fitted mean (a closed weekday) keeps the pooled size."""
    pooled = 1.0 / dispersion(y, mu, weights, integer)
    excess = (y - mu) ** 2 - (mu if integer else 0.0)
    out = np.empty(season)
    for k in range(season):
        at = phase == k
        num = float(np.sum(weights[at] * excess[at]))
        den = float(np.sum(weights[at] * mu[at] ** 2))
        n = float(np.sum(weights[at]))
        if den <= 1e-12 or n <= 0:
            out[k] = 1.0 / pooled if pooled > 1e-8 else 1e8
            continue
        inv = (n * num / den + prior * pooled) / (n + prior)
        out[k] = 1.0 / inv if inv > 1e-8 else 1e8
    return out


def count_quantiles(
    mu: np.ndarray, r: float | np.ndarray, quantiles: list[float], integer: bool
) -> np.ndarray:
    """``(..., n_q)`` quantiles of a negative binomial (or gamma) with means ``mu`` (``(h,)``,
    or ``(n, h)`` with sizes ``r`` ``(n, 1)``), size ``r``."""
    q = np.asarray(quantiles, dtype="float64")
    m = np.maximum(mu, 1e-9)[..., None]
    r = np.asarray(r, dtype="float64")[..., None] if np.ndim(r) else r
    if integer:
        return stats.nbinom.ppf(q, r, r / (r + m)).astype("float64")
    return stats.gamma.ppf(q, r, scale=m / r)


@dataclass
class _GLMState:
    beta: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    nonnegative: np.ndarray
    positive: np.ndarray
    used: np.ndarray
    r: float | np.ndarray
    integer: bool
    n: int
    yearly: int
    cap: float
    y: np.ndarray
    #: the known 0/1 flags whose days-after indicator (:func:`after_flags`) enters the design,
    #: their usual value by weekday and their last ``AFTER_DAYS`` rows of the fit
    flags: np.ndarray | None = None
    modes: np.ndarray | None = None
    tail: np.ndarray | None = None


class CountGLM(LocalForecaster):
    """Poisson log-link regression per series with negative-binomial quantiles (see module).

    Params: ``half_life`` (years of decay of the observation weights, default 2;
    0 = equal weights), ``yearly_terms`` (Fourier pairs, default 10), ``ridge``
    (penalty per observation on standardised coefficients, default 1e-3),
    ``max_iter`` (IRLS steps, 25), ``max_length`` (3 years of points), ``n_jobs`` (1),
    ``phase_dispersion`` (one dispersion per weekday of daily data / hour of hourly data,
    see :data:`PHASE_PRIOR`; default True; False: one for all steps).
    """

    name = "glm"
    uses_covariates = True
    min_seasons: ClassVar[float] = 4.0
    #: Observations needed where the season is longer than the design's seasonal effects go
    #: (weekly data: no week-of-year dummies, yearly terms only from a year of data): the
    #: intercept, trend and covariates need no whole seasons, and four of weekly data's
    #: capped 24-step seasons (98 weeks) left every series of a panel of one or two years
    #: on the seasonal-naive fallback in its backtest windows.
    min_points_unseasonal: ClassVar[int] = 26
    #: A regression needs no consecutive observations: the missing timestamps are left out of
    #: the fit (interpolating them would pair made-up counts with the zeros the covariates hold
    #: there, a price of 0), so only a series missing most of its timestamps falls back.
    max_gap_share: ClassVar[float] = 0.5

    def __init__(
        self, yearly_terms: int = YEARLY_TERMS, half_life: float = 2.0, ridge: float = 1e-3, max_iter: int = 25,
        n_jobs: int = 1, max_length: int | None = 1096, phase_dispersion: bool = True,
    ) -> None:
        super().__init__(yearly_terms=yearly_terms, half_life=half_life, ridge=ridge, max_iter=max_iter,
                         n_jobs=n_jobs, max_length=max_length, phase_dispersion=phase_dispersion)

    def _min_length(self) -> int:
        if self.season_ > MAX_REQUIRED_SEASON:
            return self.min_points_unseasonal
        return super()._min_length()

    def _fill_gaps(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y, x  # the gaps (NaN) are left out of the fit

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _GLMState:
        if np.nanmin(y) < 0:
            raise ValueError("negative values: a count regression needs y >= 0")
        per_year = periods_per_year(self.freq_)
        n = y.size
        seen = np.isfinite(y)
        flags = modes = tail = None
        if self.season_ == 7 and per_year and round(per_year) == 365 and x.shape[1]:
            # daily data with known flags: the week after each flag's unusual days (Christmas to
            # New Year, the bridge days after a holiday) gets its own effect
            flags = np.flatnonzero(flag_columns(x[seen]))
            if flags.size:
                phase = np.arange(n) % self.season_
                modes = phase_modes(x[seen][:, flags], phase[seen], self.season_)
                # a gap's covariates are the regular grid's 0s, not the flag's value: a work-day flag's 0
                # there is no holiday; it takes the usual value of its weekday (no unusual day starts there)
                known = x[:, flags].copy()
                known[~seen] = modes[phase[~seen]]
                tail = known[-AFTER_DAYS:]
                x = np.hstack([x, after_flags(known, phase, modes)])
            else:
                flags = None
        full_y, y, xs = interpolate_gaps(y), y[seen], x[seen]
        used = np.ptp(xs, axis=0) > 0 if x.shape[1] else np.zeros(0, dtype=bool)
        nonnegative = (xs.min(axis=0) >= 0) if x.shape[1] else np.zeros(0, dtype=bool)
        positive = level_columns(xs)
        terms = min(int(self.params["yearly_terms"]), int(per_year // 8)) if per_year else 0
        yearly = terms if per_year and n >= per_year else 0
        raw = self._design(0, x, nonnegative, positive, used, yearly)[seen]
        center = raw.mean(axis=0)
        scale = raw.std(axis=0)
        scale[scale == 0] = 1.0
        X = (raw - center) / scale
        half_life = float(self.params["half_life"])
        ages = (n - 1 - np.flatnonzero(seen)) / (per_year or n)
        weights = 0.5 ** (ages / half_life) if half_life > 0 else np.ones(y.size)
        beta = fit_poisson(
            X, y, weights, float(self.params["ridge"]), int(self.params["max_iter"])
        )
        eta = beta[0] + X @ beta[1:]
        integer = bool(np.allclose(y, np.round(y)))
        r: float | np.ndarray = dispersion(y, np.exp(eta), weights, integer)
        if self.params.get("phase_dispersion") and 1 < self.season_ <= 24:
            r = phase_dispersion(y, np.exp(eta), weights, integer, np.flatnonzero(seen) % self.season_,
                                 self.season_, PHASE_PRIOR)
        return _GLMState(beta, center, scale, nonnegative, positive, used, r, integer, n, yearly,
                         float(eta.max()) + MAX_LOG_LIFT, full_y, flags, modes, tail)

    def _design(
        self, start: int, x: np.ndarray, nonnegative: np.ndarray, positive: np.ndarray, used: np.ndarray,
        yearly: int,
    ) -> np.ndarray:
        """Unscaled regression columns of the steps ``start, start + 1, ...`` (one per row of ``x``);
        covariates constant in the fitting window are zeroed (they carry no information)."""
        t = np.arange(start, start + len(x), dtype="float64")
        xt = covariate_transform(x, nonnegative, positive) * used
        return design(t, xt, self.season_, periods_per_year(self.freq_), yearly)

    def _mean(self, state: _GLMState, h: int, x_future: np.ndarray) -> np.ndarray:
        """``(h,)`` forecast means of one series."""
        if state.flags is not None:
            past = len(state.tail)
            both = np.vstack([state.tail, x_future[:, state.flags]])
            phase = np.arange(state.n - past, state.n + h) % self.season_
            x_future = np.hstack([x_future, after_flags(both, phase, state.modes)[past:]])
        raw = self._design(state.n, x_future, state.nonnegative, state.positive, state.used, state.yearly)
        X = (raw - state.center) / state.scale
        return np.exp(np.minimum(state.beta[0] + X @ state.beta[1:], state.cap))

    def _sizes(self, state: _GLMState, h: int) -> np.ndarray:
        """``(h,)`` negative-binomial sizes of the forecast steps (one per phase, or one for all)."""
        if np.ndim(state.r):
            return np.asarray(state.r)[np.arange(state.n, state.n + h) % len(state.r)]
        return np.full(h, float(state.r))

    def _forecast_series(
        self, state: _GLMState, h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> np.ndarray:
        return count_quantiles(self._mean(state, h, x_future), self._sizes(state, h), quantiles, state.integer)

    def _forecast_many(
        self, states: list[_GLMState], h: int, x_future: np.ndarray, quantiles: list[float]
    ) -> list[np.ndarray | Exception]:
        """The means series by series, their quantiles in one call per distribution (the
        quantile functions cost most of a forecast, mostly per call)."""
        out: list[np.ndarray | Exception | None] = [None] * len(states)
        means: dict[int, np.ndarray] = {}
        for k, (state, x) in enumerate(zip(states, x_future, strict=True)):
            try:
                means[k] = self._mean(state, h, x)
            except Exception as exc:
                out[k] = exc
        for integer in (True, False):
            which = [k for k in means if states[k].integer == integer]
            if which:
                mu = np.stack([means[k] for k in which])
                r = np.stack([self._sizes(states[k], h) for k in which])
                for k, values in zip(which, count_quantiles(mu, r, quantiles, integer), strict=True):
                    out[k] = values
        return out  # type: ignore[return-value]
