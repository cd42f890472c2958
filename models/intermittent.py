"""A member for intermittent counts: TSB (Teunter, Syntetos & Babai 2011) with quantiles.

TSB smooths the *probability* that a period has demand (every period) apart from the
demand *size* (only in periods with demand), so that a series that stops selling decays
towards zero, unlike Croston's method. The forecast is a distribution, not only its mean:
zero with probability ``1 - p`` and otherwise a demand size, so the quantiles of a series
that sells on half its days are 0 up to the median and its usual sizes above it, which a
Gaussian band on the square-root scale cannot give.

* ``p``: the TSB occurrence probability, times a seasonal index of occurrence (the share
  of periods with demand at each position of the season, shrunk towards the overall share);
* sizes: the positive values of the last ``size_window`` periods (the whole history when
  they are fewer than :data:`MIN_SIZES`), scaled to the TSB size level ``z``;
* the smoothing constants ``(alpha, beta)``: per series, the pair of a small grid with the
  least in-sample one-step squared error of ``p z`` (as statsforecast's models pick theirs
  by in-sample error), all series and pairs at once in numpy.

Series with demand in more than :data:`MAX_OCCURRENCE` of their periods are not
intermittent: they fall back to seasonal naive, so that the member is a specialist the
ensemble weighs where it helps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcplan.models.baselines import _BatchedBaseline, _History, seasonal_naive_quantiles
from fcplan.models.vectorized import right_align

#: ``alpha`` (size) and ``beta`` (occurrence) smoothing constants tried per series.
ALPHAS = (0.05, 0.1, 0.2, 0.3)
BETAS = (0.02, 0.05, 0.1, 0.2)
#: Pseudo-periods of the overall occurrence share that shrink each season position's share.
SEASON_PRIOR = 2.0
#: Fewest positive values the size distribution is built from.
MIN_SIZES = 10
#: Series with demand in more than this share of their periods fall back (not intermittent).
MAX_OCCURRENCE = 0.95
#: TSB joins the default pool only where a series has demand in at most this share of its
#: periods: Syntetos and Boylan's (2005) cut between smooth/erratic and intermittent/lumpy
#: demand, a mean interval between demands over 1.32 periods (1 / 1.32 = 0.758). At
#: MAX_OCCURRENCE (0.95) it joined the real Online Retail panel (demand on 77 % and 82 % of
#: its days: closed Saturdays, bank holidays), took a third of the newest window's weight and
#: raised the staffing benchmark's cost 1.2004 -> 1.2051 x perfect; flights_sparse_daily (23 of
#: 34 series under the cut) is unchanged.
POOL_OCCURRENCE = 1 / 1.32


def tsb_states(y: np.ndarray, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TSB on ``y`` ``(n, T)`` (NaN: not observed yet) for each constant pair ``(G,)``:
    the final occurrence probability and size level ``(n, G)``, and the in-sample mean
    squared one-step error of ``p z`` ``(n, G)``."""
    n, t_len = y.shape
    g = alphas.size
    observed = np.isfinite(y)
    first = np.where(observed.any(axis=1), np.argmax(observed, axis=1), t_len)
    # initial values: the occurrence share and mean size of the first (up to) 2 x 14 points
    p = np.zeros((n, g))
    z = np.zeros((n, g))
    for i in range(n):
        head = y[i, first[i] : first[i] + 28]
        head = head[np.isfinite(head)]
        pos = head[head > 0]
        p[i] = (pos.size / head.size) if head.size else 0.0
        z[i] = pos.mean() if pos.size else 0.0
    sse = np.zeros((n, g))
    count = np.zeros((n, 1))
    for t in range(t_len):
        v = y[:, t : t + 1]
        ok = np.isfinite(v)
        if not ok.any():
            continue
        vv = np.where(ok, v, 0.0)
        err = vv - p * z
        sse += np.where(ok, err * err, 0.0)
        count += ok
        occ = (vv > 0).astype("float64")
        p = np.where(ok, p + betas * (occ - p), p)
        z = np.where(ok & (vv > 0), z + alphas * (vv - z), z)
    return p, z, sse / np.maximum(count, 1.0)


def occurrence_share(y: np.ndarray) -> np.ndarray:
    """``(n,)``: each series' share of observed periods with demand (``y`` ``(n, T)``, NaN: not observed)."""
    observed = np.isfinite(y)
    return np.where(observed, y > 0, False).sum(axis=1) / np.maximum(observed.sum(axis=1), 1)


def season_index(y: np.ndarray, season: int, h: int, prior: float = SEASON_PRIOR) -> np.ndarray:
    """``(n, h)``: each future step's occurrence share at its season position over the
    series' overall share, shrunk by ``prior`` pseudo-periods towards 1 (ones when
    ``season`` <= 1)."""
    n, t_len = y.shape
    if season <= 1:
        return np.ones((n, h))
    observed = np.isfinite(y)
    occ = np.where(observed, y > 0, False).astype("float64")
    rate = occurrence_share(y)
    # position in the season of column t, counted back from the last column
    pos = (np.arange(t_len) - t_len) % season
    index = np.ones((n, season))
    for s in range(season):
        cols = pos == s
        hits = occ[:, cols].sum(axis=1)
        seen = observed[:, cols].sum(axis=1)
        share = (hits + prior * rate) / np.maximum(seen + prior, 1e-9)
        index[:, s] = np.where(rate > 0, share / np.maximum(rate, 1e-12), 1.0)
    future_pos = np.arange(h) % season
    return index[:, future_pos]


def tsb_quantiles(
    y: np.ndarray, h: int, season: int, quantiles: list[float], size_window: int
) -> np.ndarray:
    """``(n, h, n_q)`` TSB quantiles of the series ``y`` ``(n, T)`` (see the module doc)."""
    alphas, betas = (np.array(v, dtype="float64") for v in np.meshgrid(ALPHAS, BETAS))
    alphas, betas = alphas.ravel(), betas.ravel()
    p_all, z_all, mse = tsb_states(y, alphas, betas)
    pick = np.argmin(mse, axis=1)
    rows = np.arange(y.shape[0])
    p, z = p_all[rows, pick], z_all[rows, pick]
    prob = np.clip(p[:, None] * season_index(y, season, h), 0.0, 1.0)  # (n, h)
    levels = np.asarray(quantiles, dtype="float64")
    out = np.zeros((y.shape[0], h, levels.size))
    for i in range(y.shape[0]):
        values = y[i][np.isfinite(y[i])]
        recent = values[-size_window:]
        sizes = recent[recent > 0]
        if sizes.size < MIN_SIZES:
            sizes = values[values > 0]
        if sizes.size == 0:
            continue
        sizes = sizes * (z[i] / sizes.mean()) if z[i] > 0 else sizes
        # P(Y <= y) = (1 - p) + p F(y): the level-tau quantile is 0 where tau <= 1 - p,
        # else the size quantile at (tau - (1 - p)) / p
        pr = prob[i][:, None]
        inner = np.clip((levels[None, :] - (1.0 - pr)) / np.maximum(pr, 1e-12), 0.0, 1.0)
        q = np.quantile(sizes, inner.ravel()).reshape(inner.shape)
        out[i] = np.where(levels[None, :] <= 1.0 - pr, 0.0, q)
    return out


class TSB(_BatchedBaseline):
    """TSB for intermittent counts, with quantiles (see :mod:`fcplan.models.intermittent`).

    Params: ``size_window`` (sizes from the last so many periods, default 90),
    ``max_length`` (365), ``n_jobs`` (1). Series with negative values or demand in more than
    :data:`MAX_OCCURRENCE` of their periods get seasonal naive.
    """

    name = "tsb"

    def __init__(self, size_window: int = 90, n_jobs: int = 1, max_length: int | None = 365) -> None:
        super().__init__(size_window=size_window, n_jobs=n_jobs, max_length=max_length)

    def _long_enough(self, h: int) -> int:
        return 1

    def _batch_rows(self, y: np.ndarray, h: int, quantiles: list[float]) -> np.ndarray:
        observed = np.isfinite(y)
        negative = np.where(observed, y < 0, False).any(axis=1)
        intermittent = (occurrence_share(y) <= MAX_OCCURRENCE) & ~negative
        out = np.empty((y.shape[0], h, len(quantiles)))
        if intermittent.any():
            out[intermittent] = tsb_quantiles(
                y[intermittent], h, self.season_, quantiles, int(self.params["size_window"])
            )
        for i in np.flatnonzero(~intermittent):
            out[i] = seasonal_naive_quantiles(y[i][observed[i]], h, self.season_, quantiles)
        return out

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _History:
        return _History(y)

    def _forecast_series(self, state: Any, h: int, x_future: np.ndarray, quantiles: list[float]) -> np.ndarray:
        return self._batch_rows(right_align([np.asarray(state.y, dtype="float64")]), h, quantiles)[0]
