"""Local statistical models vectorised across series in numpy (as statsforecast does it
in numba): exponential smoothing, the Theta method and a regression with AR(1) errors,
each fitted on all series at once.

Inputs are right-aligned matrices: ``z`` ``(n, T)`` on the model scale, NaN before each
series starts (a series' values sit in its last columns), ``x`` ``(n, T, k)`` covariates.
Smoothing parameters come from a small grid, the best per series by in-sample one-step
squared error (every series x grid point is one lane of the same array operation), so
the cost is ``T`` numpy steps over ``n x grid`` lanes whatever the number of series.
Forecasts are Gaussian on the model scale: ``(mean (n, h), variance (n, h))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Smoothing grid: level, trend (never above the level's), damping, season.
ALPHAS = (0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8, 0.95)
BETAS = (0.0, 0.02, 0.1)
PHIS = (0.9, 0.98)
GAMMAS = (0.0, 0.05, 0.2)
#: Faster seasonal smoothing, tried where the season is a year (monthly, quarterly data: the
#: pattern moves from year to year, and the initial season comes from the first year alone;
#: statsmodels' ETS fits gamma 0.67-0.71 on AirPassengers). On weekly cycles of daily data
#: and daily cycles of hourly data these lanes chase the last cycle's noise (member alone:
#: flights_origin_daily wQL 0.0617 -> 0.0663, flights_sparse_daily 0.3481 -> 0.3557,
#: elec_hourly 0.0373 -> 0.0384), so there the grid stays :data:`GAMMAS`.
YEARLY_GAMMAS = (0.3, 0.5, 0.7, 0.9)
#: Ridge penalty of the regressions (relative to the number of observations).
RIDGE = 1e-3
#: :func:`fit_regression`'s drifting level of the residuals is kept where its one-step error
#: variance, times ``exp(DRIFT_PENALTY * log(n) / n)`` (BIC's price of one more parameter),
#: beats both other error models; without the price it also won on noise (SARIMAX alone:
#: visnights_quarterly 0.0669 -> 0.0690, cheese_weekly 0.2164 -> 0.2172).
DRIFT_PENALTY = 1.0


def right_align(values: list[np.ndarray], width: int | None = None) -> np.ndarray:
    """``(n, T)`` matrix with row ``i`` = ``values[i]`` in its last columns, NaN before
    (``values[i]`` may be ``(T_i,)`` or ``(T_i, k)``: then ``(n, T, k)``, 0 before)."""
    width = width or max((len(v) for v in values), default=1)
    tail = values[0].shape[1:] if values else ()
    out = np.full((len(values), width, *tail), np.nan if not tail else 0.0)
    for i, v in enumerate(values):
        v = v[-width:]
        if len(v):
            out[i, width - len(v):] = v
    return out


def _started(z: np.ndarray) -> np.ndarray:
    ok = np.isfinite(z)
    return np.where(ok.any(axis=1), np.argmax(ok, axis=1), z.shape[1])


def _initial_level(z: np.ndarray, first: np.ndarray, m: int) -> np.ndarray:
    cols = first[:, None] + np.arange(max(m, 1))[None, :]
    vals = np.take_along_axis(z, np.clip(cols, 0, z.shape[1] - 1), axis=1)
    vals = np.where(cols < z.shape[1], vals, np.nan)
    return np.nan_to_num(np.nanmean(np.where(np.isfinite(vals), vals, np.nan), axis=1))


@dataclass(frozen=True)
class ETSFit:
    """Per series (``(n,)`` each): the chosen parameters, the final states and the one-step
    error variance. ``season``: ``(m, n)`` seasonal states by slot of the column index."""

    alpha: np.ndarray
    beta: np.ndarray
    phi: np.ndarray
    gamma: np.ndarray
    level: np.ndarray
    trend: np.ndarray
    season: np.ndarray
    sigma2: np.ndarray
    m: int
    n_cols: int


def _grid(damped: bool, seasonal: bool, yearly: bool = False) -> np.ndarray:
    gammas = ((*GAMMAS, *YEARLY_GAMMAS) if yearly else GAMMAS) if seasonal else (0.0,)
    rows = []
    for a in ALPHAS:
        for b in BETAS:
            if b > a:
                continue
            for p in (PHIS if damped else (1.0,)) if b > 0 else (1.0,):
                for g in gammas:
                    if g <= 1 - a:
                        rows.append((a, b, p, g))
    return np.array(rows).T


def fit_ets(z: np.ndarray, m: int, damped: bool = True, yearly: bool = False) -> ETSFit:
    """Additive ETS (error correction form, damped trend, additive season of period ``m``
    when ``1 < m``) on every row of ``z`` ``(n, T)`` at once; NaN = no observation. ``yearly``:
    the season is a year (monthly, quarterly): the grid adds :data:`YEARLY_GAMMAS`."""
    n, t_len = z.shape
    seasonal = m > 1
    m_eff = m if seasonal else 1
    alpha, beta, phi, gamma = (g[None, :] for g in _grid(damped, seasonal, yearly))
    first = _started(z)
    level0 = _initial_level(z, first, m_eff)
    lanes = alpha.shape[1]
    level = np.repeat(level0[:, None], lanes, axis=1)
    trend = np.zeros((n, lanes))
    season = np.zeros((m_eff, n, lanes))
    if seasonal:  # first season's deviations from its mean, at their slots
        for j in range(m_eff):
            col = np.minimum(first + j, t_len - 1)
            dev = np.nan_to_num(z[np.arange(n), col] - level0)
            season[col % m_eff, np.arange(n)] = dev[:, None]
    warm = first + m_eff
    sse = np.zeros((n, lanes))
    count = np.zeros(n)
    for t in range(t_len):
        slot = t % m_eff
        s = season[slot]
        pred = level + phi * trend + s
        obs = z[:, t]
        seen = np.isfinite(obs)
        err = np.where(seen[:, None], np.nan_to_num(obs)[:, None] - pred, 0.0)
        scored = seen & (t >= warm)
        sse += np.where(scored[:, None], err * err, 0.0)
        count += scored
        level = level + phi * trend + alpha * err
        trend = phi * trend + beta * err
        season[slot] = s + gamma * err
    best = np.argmin(sse, axis=1)
    rows = np.arange(n)
    sigma2 = sse[rows, best] / np.maximum(count, 1)
    return ETSFit(
        alpha[0, best], beta[0, best], phi[0, best], gamma[0, best], level[rows, best], trend[rows, best],
        season[:, rows, best], sigma2, m_eff, t_len,
    )


def forecast_ets(fit: ETSFit, h: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, variance)`` ``(n, h)`` of the next ``h`` steps (Hyndman et al. 2008, class 1)."""
    steps = np.arange(1, h + 1)
    powers = fit.phi[:, None] ** steps[None, :]
    damp = np.cumsum(powers, axis=1)  # phi + ... + phi^j
    slots = (fit.n_cols - 1 + steps) % fit.m
    mean = fit.level[:, None] + damp * fit.trend[:, None] + fit.season[slots].T
    c = fit.alpha[:, None] + fit.beta[:, None] * damp + fit.gamma[:, None] * (steps % fit.m == 0)[None, :]
    c = np.where(fit.m > 1, c, fit.alpha[:, None] + fit.beta[:, None] * damp)
    spread = np.concatenate([np.ones((len(mean), 1)), 1.0 + np.cumsum(c[:, :-1] ** 2, axis=1)], axis=1)
    return mean, fit.sigma2[:, None] * spread


# -------------------------------------------------------------------- Theta
@dataclass(frozen=True)
class ThetaFit:
    level: np.ndarray
    alpha: np.ndarray
    slope: np.ndarray
    n_obs: np.ndarray
    sigma2: np.ndarray
    season: np.ndarray
    m: int
    n_cols: int


def seasonal_indices(z: np.ndarray, m: int) -> np.ndarray:
    """``(m, n)`` additive seasonal indices by slot of the column index (classical
    decomposition: deviations from a centred moving average), zero for rows without a
    significant autocorrelation at lag ``m`` (the 90% test statsmodels' Theta uses)."""
    n, t_len = z.shape
    if m <= 1:
        return np.zeros((1, n))
    ok = np.isfinite(z)
    filled = np.where(ok, z, 0.0)
    kernel = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    width = len(kernel)
    csum = np.stack([np.convolve(row, kernel, mode="valid") for row in filled]) if n else np.zeros((0, 0))
    cnt = np.stack([np.convolve(row, np.ones(width), mode="valid") for row in ok.astype(float)]) if n else csum
    trend = np.full_like(z, np.nan)
    half = width // 2
    trend[:, half: half + csum.shape[1]] = np.where(cnt == width, csum, np.nan)
    dev = z - trend
    slots = np.arange(t_len) % m
    idx = np.zeros((m, n))
    for s in range(m):
        cols = dev[:, slots == s]
        have = np.isfinite(cols)
        idx[s] = np.where(have, cols, 0.0).sum(axis=1) / np.maximum(have.sum(axis=1), 1)
    idx -= idx.mean(axis=0, keepdims=True)
    # seasonality test on the autocorrelation at lag m
    mu = np.nanmean(np.where(ok, z, np.nan), axis=1, keepdims=True)
    c = np.where(ok, z - mu, 0.0)
    denom = (c * c).sum(axis=1)
    acf = np.stack([(c[:, k:] * c[:, : t_len - k]).sum(axis=1) for k in range(1, m + 1)], axis=1) / np.maximum(
        denom, 1e-12
    )[:, None]
    nobs = ok.sum(axis=1)
    bound = 1.645 * np.sqrt((1 + 2 * (acf[:, :-1] ** 2).sum(axis=1)) / np.maximum(nobs, 1))
    significant = (np.abs(acf[:, -1]) > bound) & (nobs >= 2 * m)
    return idx * significant[None, :]


def ses_grid(x: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simple exponential smoothing of every row of ``x`` ``(n, T)`` (NaN = no observation,
    ``first``: each row's first observed column) with the best ``alpha`` of the grid:
    ``(final level, alpha, sum of squared one-step errors)``, each ``(n,)``."""
    alpha = np.array(ALPHAS)[None, :]
    level = np.repeat(_initial_level(x, first, 1)[:, None], alpha.shape[1], axis=1)
    sse = np.zeros_like(level)
    for col in range(x.shape[1]):
        obs = x[:, col]
        seen = np.isfinite(obs)
        err = np.where(seen[:, None], np.nan_to_num(obs)[:, None] - level, 0.0)
        sse += np.where((seen & (col > first))[:, None], err * err, 0.0)
        level = level + alpha * err
    best = np.argmin(sse, axis=1)
    rows = np.arange(len(x))
    return level[rows, best], alpha[0, best], sse[rows, best]


def fit_theta(z: np.ndarray, m: int) -> ThetaFit:
    """The Theta method (SES with drift, Hyndman & Billah 2003) on deseasonalised rows."""
    t_len = z.shape[1]
    season = seasonal_indices(z, m)
    slots = np.arange(t_len) % max(m, 1)
    x = z - season[slots].T
    ok = np.isfinite(x)
    first = _started(x)
    t = np.arange(t_len)[None, :] - first[:, None]
    nobs = ok.sum(axis=1)
    tm = np.where(ok, t, 0).sum(1) / np.maximum(nobs, 1)
    xm = np.where(ok, x, 0).sum(1) / np.maximum(nobs, 1)
    dt = np.where(ok, t - tm[:, None], 0.0)
    slope = (dt * np.where(ok, x - xm[:, None], 0.0)).sum(1) / np.maximum((dt * dt).sum(1), 1e-12)
    level, alpha, sse = ses_grid(x, first)
    sigma2 = sse / np.maximum(nobs - 1, 1)
    return ThetaFit(level, alpha, slope, nobs, sigma2, season, max(m, 1), t_len)


def forecast_theta(fit: ThetaFit, h: int, theta: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(1, h + 1)[None, :]
    a = fit.alpha[:, None]
    drift = (1 - 1 / theta) * fit.slope[:, None] * (steps - 1 + 1 / a - (1 - a) ** fit.n_obs[:, None] / a)
    slots = (fit.n_cols - 1 + steps[0]) % fit.m
    mean = fit.level[:, None] + drift + fit.season[slots].T
    return mean, fit.sigma2[:, None] * (1 + (steps - 1) * a**2)


# ------------------------------------------------ regression with AR(1) errors
@dataclass(frozen=True)
class RegressionFit:
    """Per series: coefficients ``(n, k)``; the error model, AR(1) (``rho``, last residual)
    or, where ``smooth``, a local level of the residuals (``alpha``, ``level``); the
    one-step error variance ``sigma2``."""

    coef: np.ndarray
    rho: np.ndarray
    last_resid: np.ndarray
    sigma2: np.ndarray
    n_cols: int
    smooth: np.ndarray
    alpha: np.ndarray
    level: np.ndarray
    #: per step, where ``smooth``: the residual level's drift (0: none)
    drift: np.ndarray | None = None


def _solve(design: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    k = design.shape[2]
    xtw = design * weight[:, :, None]
    gram = np.einsum("ntk,ntj->nkj", xtw, design)
    rhs = np.einsum("ntk,nt->nk", xtw, np.nan_to_num(target))
    ridge = RIDGE * np.maximum(weight.sum(axis=1), 1.0)[:, None, None] * np.eye(k)[None]
    return np.linalg.solve(gram + ridge, rhs[..., None])[..., 0]


def fit_regression(z: np.ndarray, design: np.ndarray, iterations: int = 2, drift: bool = True) -> RegressionFit:
    """``z ~ design @ coef + e``, ``e_t = rho e_{t-1} + u_t`` for every row at once
    (Cochrane-Orcutt: ``iterations`` rounds of least squares on quasi-differences).
    ``design`` ``(n, T, k)``; a column constant over a row's observations is dropped for
    that row (its coefficient is 0). The errors may instead follow a smoothed level of the
    residuals, with a drift where ``drift`` and it pays (see :data:`DRIFT_PENALTY`)."""
    ok = np.isfinite(z)
    wt = ok.astype(float)
    low = np.where(ok[..., None], design, np.inf).min(axis=1)
    varying = low < np.where(ok[..., None], design, -np.inf).max(axis=1)
    varying[:, 0] = True  # the intercept
    design = design * varying[:, None, :]
    coef = _solve(design, z, wt)
    rho = np.zeros(len(z))
    for _ in range(iterations):
        resid = np.where(ok, z - np.einsum("ntk,nk->nt", design, coef), np.nan)
        both = ok[:, 1:] & ok[:, :-1]
        e1, e0 = np.where(both, resid[:, 1:], 0), np.where(both, resid[:, :-1], 0)
        rho = np.clip((e1 * e0).sum(1) / np.maximum((e0 * e0).sum(1), 1e-12), -0.5, 0.98)
        zq = z[:, 1:] - rho[:, None] * z[:, :-1]
        dq = design[:, 1:] - rho[:, None, None] * design[:, :-1]
        coef = _solve(dq, zq, both.astype(float))
    resid = np.where(ok, z - np.einsum("ntk,nk->nt", design, coef), np.nan)
    both = ok[:, 1:] & ok[:, :-1]
    innov = np.where(both, resid[:, 1:] - rho[:, None] * resid[:, :-1], 0.0)
    k = design.shape[2]
    sigma2 = (innov**2).sum(1) / np.maximum(both.sum(1) - k - 1, 1)
    # a level that wanders (random walk + noise, the ARIMA(0,1,1) case) is followed better
    # by smoothing the residuals: keep whichever error model has the smaller one-step error
    start = _started(resid)
    level, alpha, sse = ses_grid(resid, start)
    ses_sigma2 = sse / np.maximum(ok.sum(1) - k - 1, 1)
    use_drift = drift
    drift = np.zeros(len(z))
    if use_drift:
        # or a level that drifts (SES with drift, the ARIMA(0,1,1)-with-drift case: trending series):
        # the drift is the residuals' least-squares slope, SES follows what is left
        t = np.arange(z.shape[1], dtype=float)[None, :]
        n_obs = np.maximum(ok.sum(1), 1)
        tm = np.where(ok, t, 0).sum(1) / n_obs
        rm = np.where(ok, resid, 0).sum(1) / n_obs
        dt = np.where(ok, t - tm[:, None], 0.0)
        slope = (dt * np.where(ok, resid - rm[:, None], 0.0)).sum(1) / np.maximum((dt * dt).sum(1), 1e-12)
        d_level, d_alpha, d_sse = ses_grid(resid - slope[:, None] * t, start)
        d_sigma2 = d_sse / np.maximum(ok.sum(1) - k - 2, 1)
        d_crit = d_sigma2 * np.exp(DRIFT_PENALTY * np.log(n_obs) / n_obs)  # BIC's price of the drift
        use = (d_crit < ses_sigma2) & (d_crit < sigma2)
        drift = np.where(use, slope, 0.0)
        level = np.where(use, d_level + slope * (z.shape[1] - 1), level)
        alpha = np.where(use, d_alpha, alpha)
        ses_sigma2 = np.where(use, d_sigma2, ses_sigma2)
    smooth = ses_sigma2 < sigma2
    return RegressionFit(
        coef, rho, np.nan_to_num(resid[:, -1]), np.where(smooth, ses_sigma2, sigma2), z.shape[1], smooth, alpha,
        level, np.where(smooth, drift, 0.0),
    )


def forecast_regression(fit: RegressionFit, design_future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, variance)`` ``(n, h)`` given the future design ``(n, h, k)``."""
    h = design_future.shape[1]
    steps = np.arange(1, h + 1)[None, :]
    decay = fit.rho[:, None] ** steps
    ar_mean = decay * fit.last_resid[:, None]
    ar_var = np.cumsum(fit.rho[:, None] ** (2 * (steps - 1)), axis=1)
    ses_var = 1 + (steps - 1) * fit.alpha[:, None] ** 2
    smooth = fit.smooth[:, None]
    drift = np.zeros(len(fit.coef)) if fit.drift is None else fit.drift
    level = fit.level[:, None] + drift[:, None] * steps
    mean = np.einsum("nhk,nk->nh", design_future, fit.coef) + np.where(smooth, level, ar_mean)
    return mean, fit.sigma2[:, None] * np.where(smooth, ses_var, ar_var)
