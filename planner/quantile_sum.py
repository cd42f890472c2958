"""The quantile of a sum of two days' orders, each known by its quantiles.

An overnight shift packs the evening of day D and the morning of D+1, so it needs
the ``tau``-quantile of ``a * X_D + b * X_{D+1}``. Adding the two quantiles,
``a * Q_D(tau) + b * Q_{D+1}(tau)``, is that quantile only when the days move in
lockstep (comonotone); otherwise their errors partly cancel and it books too many
packers (too few below the median).

:func:`quantile_of_sum` computes it under a Gaussian copula with correlation ``rho``
between the days (``rho = 0``: independent, the default; ``rho = 1``: the old sum).
It is a deterministic convolution, not a random sample: each day's distribution is
represented by its quantile function (linear between the forecast's levels, clamped
outside them, as :func:`fcplan.planner.staffing.interpolate_quantile`) at ``n``
equally likely levels ``(i + 0.5) / n``; the ``n x n`` pairs are equally likely and
the quantile of their sums is read at plotting positions ``(i + 0.5) / n**2``.
With ``a`` or ``b`` zero, or ``rho = 1``, it is the weighted sum of the interpolated
quantiles, exactly. :func:`quantile_of_days` does the same for several days (the orders
of a closed weekend that the next open day's first shift packs), one day at a time.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from fcplan.planner.staffing import interpolate_quantile

#: Levels per day of the grid (n x n equally likely pairs).
GRID = 64


def quantiles_at(values: np.ndarray, levels: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``(m, L)``: each row of ``values`` (m, k), given at ``levels`` (k,), at the levels
    ``taus`` (L,); linear between levels and clamped outside them (as ``interpolate_quantile``)."""
    values = np.sort(values, axis=1)
    k = values.shape[1]
    if k == 1:
        return np.repeat(values, len(taus), axis=1)
    t = np.clip(taus, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, t, side="left"), 1, k - 1)
    lo = hi - 1
    w = (t - levels[lo]) / (levels[hi] - levels[lo])
    return values[:, lo] + w * (values[:, hi] - values[:, lo])


def _rows(
    a: np.ndarray | float, first: np.ndarray, b: np.ndarray | float, second: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arguments as float arrays: weights ``(m,)``, quantiles ``(m, k)``, levels ``(k,)``."""
    first = np.atleast_2d(np.asarray(first, dtype="float64"))
    second = np.atleast_2d(np.asarray(second, dtype="float64"))
    m = first.shape[0]
    a = np.broadcast_to(np.asarray(a, dtype="float64"), (m,))
    b = np.broadcast_to(np.asarray(b, dtype="float64"), (m,))
    return a, first, b, second, np.asarray(levels, dtype="float64")


def quantile_of_sum(
    a: np.ndarray | float,
    first: np.ndarray,
    b: np.ndarray | float,
    second: np.ndarray,
    levels: np.ndarray,
    tau: np.ndarray | float,
    *,
    rho: float = 0.0,
    n: int = GRID,
) -> np.ndarray:
    """``(m,)`` the ``tau``-quantile of ``a * X + b * Y`` per row.

    ``first``/``second``: ``(m, k)`` quantiles of ``X`` and ``Y`` at ``levels`` (k,);
    ``a``, ``b``: ``(m,)`` or scalar weights >= 0; ``tau``: ``(m,)`` or scalar;
    ``rho`` in [0, 1]: the correlation of the days' normal scores.
    """
    a, first, b, second, levels = _rows(a, first, b, second, levels)
    return quantile_of_days(np.stack([a, b], axis=1), np.stack([first, second], axis=1), levels, tau, rho=rho, n=n)


def _read(samples: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``(m,)``: each row of equally likely ``samples`` (m, S) at its level ``taus`` (m,), read at
    plotting positions ``(i + 0.5) / S`` and linear between them."""
    sums = np.sort(samples, axis=1)
    m, size = sums.shape
    pos = np.clip(taus * size - 0.5, 0.0, size - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, size - 1)
    w = pos - lo
    rows = np.arange(m)
    return sums[rows, lo] + w * (sums[rows, hi] - sums[rows, lo])


def sum_samples(
    a: np.ndarray | float,
    first: np.ndarray,
    b: np.ndarray | float,
    second: np.ndarray,
    levels: np.ndarray,
    *,
    rho: float = 0.0,
    n: int = GRID,
) -> np.ndarray:
    """``(m, n*n)`` equally likely values of ``a * X + b * Y`` per row (unsorted): the grid
    of :func:`quantile_of_sum`, for expectations such as the cost of a headcount."""
    a, first, b, second, levels = _rows(a, first, b, second, levels)
    u, pair_u = _grid(n, rho)
    qx = np.repeat(quantiles_at(first, levels, u), n, axis=1)  # (m, n*n), i-major
    qy = quantiles_at(second, levels, pair_u)
    return a[:, None] * qx + b[:, None] * qy


def _grid(n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """``(u, pair_u)``: the ``n`` levels of the first variable and the ``n*n`` (i-major) of the
    second: the pair (i, j) puts X at level u_i and Y at Phi(rho z_i + sqrt(1 - rho^2) z_j)."""
    u = (np.arange(n) + 0.5) / n
    z = ndtri(u)
    return u, ndtr(rho * z[:, None] + np.sqrt(1.0 - rho**2) * z[None, :]).ravel()


def _days(weights: np.ndarray, values: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arguments as float arrays: weights ``(m, d)``, quantiles ``(m, d, k)``, levels ``(k,)``."""
    values = np.asarray(values, dtype="float64")
    return (np.atleast_2d(np.asarray(weights, dtype="float64")), values[None] if values.ndim == 2 else values,
            np.asarray(levels, dtype="float64"))


def days_samples(
    weights: np.ndarray, values: np.ndarray, levels: np.ndarray, *, rho: float = 0.0, n: int = GRID
) -> np.ndarray:
    """``(m, n*n)`` equally likely values of ``sum_d weights[:, d] * X_d`` per row: the orders of
    several days (a closed weekend's and the next open day's) that one shift packs.

    ``weights`` (m, d) >= 0; ``values`` (m, d, k): each day's quantiles at ``levels`` (k,).
    Two days are :func:`sum_samples` exactly. More are added one day at a time, oldest first:
    the sum so far is kept as its ``n`` quantile-bin means (the mean of each ``1/n`` of
    probability) and joined to the next day as :func:`sum_samples` joins two days, with
    correlation ``rho`` between the sum so far and the next day (a first-order chain: exact
    for independent days up to the grid, an approximation of an AR(1) copula otherwise).
    A day of weight 0 adds nothing."""
    weights, values, levels = _days(weights, values, levels)
    m, d = weights.shape
    if d == 1:
        return sum_samples(weights[:, 0], values[:, 0], 0.0, values[:, 0], levels, rho=rho, n=n)
    out = sum_samples(weights[:, 0], values[:, 0], weights[:, 1], values[:, 1], levels, rho=rho, n=n)
    _, pair_u = _grid(n, rho)
    for day in range(2, d):
        so_far = np.sort(out, axis=1).reshape(m, n, n).mean(axis=2)  # (m, n): the sum at the levels u
        out = np.repeat(so_far, n, axis=1) + weights[:, day, None] * quantiles_at(values[:, day], levels, pair_u)
    return out


def quantile_of_days(
    weights: np.ndarray,
    values: np.ndarray,
    levels: np.ndarray,
    tau: np.ndarray | float,
    *,
    rho: float = 0.0,
    n: int = GRID,
) -> np.ndarray:
    """``(m,)`` the ``tau``-quantile of ``sum_d weights[:, d] * X_d`` per row (:func:`days_samples`);
    one day of positive weight, or ``rho = 1``: the weighted sum of its quantiles, exactly."""
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must be between 0 (independent days) and 1 (comonotone), got {rho}")
    weights, values, levels = _days(weights, values, levels)
    m, d = weights.shape
    taus = np.broadcast_to(np.asarray(tau, dtype="float64"), (m,))
    out = sum(weights[:, day] * interpolate_quantile(values[:, day], levels, taus) for day in range(d))
    out = np.asarray(out, dtype="float64")
    mixed = (weights > 0).sum(axis=1) > 1 if rho < 1.0 else np.zeros(m, dtype=bool)
    if mixed.any():
        out[mixed] = _read(days_samples(weights[mixed], values[mixed], levels, rho=rho, n=n), taus[mixed])
    return out
