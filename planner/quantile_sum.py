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
quantiles, exactly.
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
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must be between 0 (independent days) and 1 (comonotone), got {rho}")
    a, first, b, second, levels = _rows(a, first, b, second, levels)
    m = first.shape[0]
    taus = np.broadcast_to(np.asarray(tau, dtype="float64"), (m,))
    # Comonotone days, or one day alone: the quantiles add up exactly.
    out = a * interpolate_quantile(first, levels, taus) + b * interpolate_quantile(second, levels, taus)
    mixed = (a > 0) & (b > 0) if rho < 1.0 else np.zeros(m, dtype=bool)
    if not mixed.any():
        return out
    a, b, taus, first, second = a[mixed], b[mixed], taus[mixed], first[mixed], second[mixed]
    m = int(mixed.sum())
    sums = np.sort(sum_samples(a, first, b, second, levels, rho=rho, n=n), axis=1)
    pos = np.clip(taus * n * n - 0.5, 0.0, n * n - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n * n - 1)
    w = pos - lo
    rows = np.arange(m)
    out[mixed] = sums[rows, lo] + w * (sums[rows, hi] - sums[rows, lo])
    return out


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
    u = (np.arange(n) + 0.5) / n
    z = ndtri(u)
    # The pair (i, j) puts X at level u_i and Y at Phi(rho z_i + sqrt(1 - rho^2) z_j).
    pair_u = ndtr(rho * z[:, None] + np.sqrt(1.0 - rho**2) * z[None, :]).ravel()
    qx = np.repeat(quantiles_at(first, levels, u), n, axis=1)  # (m, n*n), i-major
    qy = quantiles_at(second, levels, pair_u)
    return a[:, None] * qx + b[:, None] * qy
