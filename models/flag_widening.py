"""Wider bands on forecast steps whose known-ahead flags the calibration rarely saw.

The conformal offsets (:mod:`fcplan.models.conformal`) are fitted on backtest points. A
known-ahead *flag* (a holiday, event or promotion column: a covariate with a default
value that at least :data:`DEFAULT_SHARE` of the history's rows take; it is *active*
where it differs from that value) that was active on few or none of those points leaves
the offsets blind to its effect: Thanksgiving, say, in a history that starts in January.

Each flag ``f`` gets an extra variance ``v_f`` in squared series scales:

* **evidence**, from the backtest points where ``f`` is active (``n_f`` of them): the excess
  of their mean squared median residual over that of the points with no flag active,
  ``e_f = mean(r_f^2) - mean(r_0^2)``, ``r = (y - median) / scale``;
* **prior**, from the history: each step's deviation from its seasonal neighbours (the
  median of the steps 1 and 2 seasons before and after that carry no flag),
  ``d = (y - baseline) / scale``. A flag active on ``n_h > 0`` history steps:
  ``p_f = max(0, var(d_f) - mean(d_0^2)) + mean(d_f)^2 / n_h`` (the spread of its effect
  around its mean, plus the error of a mean learnt from ``n_h`` occurrences). A flag never
  active in the history: the excess of every flagged step pooled,
  ``max(0, mean(d_any^2) - mean(d_0^2))``, and at least ``(NOVEL_FACTOR^2 - 1) mean(d_0^2)``
  (an unseen event deviates at least ``NOVEL_FACTOR`` times as much as an ordinary step);
* ``v_f = max(0, (n_f e_f + PRIOR_POINTS p_f) / (n_f + PRIOR_POINTS))`` for a flag active on
  fewer than :data:`COMMON_POINTS` backtest points, 0 for the others (the offsets saw
  them often enough: bands where flags are common are left as they are).

A step where the flags ``A`` are active gets an extra spread ``s = scale * sqrt(sum v_f)``
(``f`` in ``A``): its quantile ``x`` at level ``q`` moves away from the median ``m`` to
``m + sign(q - 0.5) * sqrt((x - m)^2 + (z_q s)^2)``, ``z_q`` the standard normal quantile
(independent errors add their variances).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import MEDIAN

#: A covariate is a flag when at least this share of the history's rows take one value.
DEFAULT_SHARE = 0.5
#: A flag active on at least this many backtest points is left to the conformal offsets.
COMMON_POINTS = 30
#: Backtest points at which the evidence and the history's prior weigh the same.
PRIOR_POINTS = 5
#: An event never seen deviates at least this many times as much as an ordinary step.
NOVEL_FACTOR = 2.0
#: Seasons longer than this (52 weeks) are too long for neighbours: adjacent steps are used.
MAX_NEIGHBOUR_SEASON = 24


@dataclass(frozen=True)
class Flags:
    """The flag columns of a panel and each one's default (inactive) value."""

    columns: tuple[str, ...]
    defaults: tuple[float, ...]

    def active(self, frame: pd.DataFrame) -> np.ndarray:
        """``(len(frame), n_flags)`` bool: where each flag differs from its default (a
        column ``frame`` lacks, or a missing value, counts as inactive)."""
        out = np.zeros((len(frame), len(self.columns)), dtype=bool)
        for j, (col, default) in enumerate(zip(self.columns, self.defaults, strict=True)):
            if col in frame.columns:
                values = pd.to_numeric(frame[col], errors="coerce").to_numpy("float64")
                out[:, j] = np.isfinite(values) & (values != default)
        return out


def find_flags(panel: pd.DataFrame, columns: Sequence[str]) -> Flags:
    """The numeric ``columns`` of ``panel`` with a default value (see :data:`DEFAULT_SHARE`)."""
    names, defaults = [], []
    for col in columns:
        values = pd.to_numeric(panel[col], errors="coerce").dropna()
        if values.empty:
            continue
        counts = values.value_counts()
        if counts.iloc[0] >= DEFAULT_SHARE * len(panel):  # constant: a flag never active so far
            names.append(col)
            defaults.append(float(counts.index[0]))
    return Flags(tuple(names), tuple(defaults))


@dataclass(frozen=True)
class FlagPrior:
    """What the history says of each flag (see the module docstring): active steps
    ``history_points`` ``(k,)``, prior extra variance ``variance`` ``(k,)``."""

    flags: Flags
    history_points: np.ndarray
    variance: np.ndarray


def _neighbour_baseline(y: np.ndarray, flagged: np.ndarray, lag: int) -> np.ndarray:
    """Median of the unflagged steps ``lag`` and ``2 lag`` before and after each step."""
    n = y.size
    shifted = np.full((4, n), np.nan)
    for i, off in enumerate((-2 * lag, -lag, lag, 2 * lag)):
        src = np.arange(n) + off
        ok = (src >= 0) & (src < n)
        vals = np.where(flagged[src[ok]], np.nan, y[src[ok]])
        shifted[i, ok] = vals
    with np.errstate(all="ignore"):
        enough = np.isfinite(shifted).sum(axis=0) > 0
        base = np.full(n, np.nan)
        base[enough] = np.nanmedian(shifted[:, enough], axis=0)
    return base


def flag_prior(panel: pd.DataFrame, flags: Flags, season: int) -> FlagPrior:
    """:class:`FlagPrior` of ``flags`` from ``panel`` (``unique_id, ds, y`` + the flags)."""
    from fcplan.models.conformal import series_scale

    k = len(flags.columns)
    if k == 0:
        return FlagPrior(flags, np.zeros(0, dtype=int), np.zeros(0))
    lag = season if 1 < season <= MAX_NEIGHBOUR_SEASON else 1
    devs, acts = [], []
    for _, part in panel.sort_values([UNIQUE_ID, DS], kind="stable").groupby(UNIQUE_ID, sort=False):
        y = part[Y].to_numpy("float64")
        active = flags.active(part)
        scale = series_scale(y, season)
        if scale <= 0:
            continue
        devs.append((y - _neighbour_baseline(y, active.any(axis=1), lag)) / scale)
        acts.append(active)
    if not devs:
        return FlagPrior(flags, np.zeros(k, dtype=int), np.zeros(k))
    d, active = np.concatenate(devs), np.concatenate(acts)
    ok = np.isfinite(d)
    plain = ok & ~active.any(axis=1)
    ordinary = float(np.mean(d[plain] ** 2)) if plain.any() else 1.0
    flagged = ok & active.any(axis=1)
    pooled = float(np.mean(d[flagged] ** 2)) - ordinary if flagged.any() else 0.0
    novel = max(pooled, (NOVEL_FACTOR**2 - 1) * ordinary)
    points = active.sum(axis=0)
    variance = np.empty(k)
    for j in range(k):
        dj = d[ok & active[:, j]]
        if dj.size == 0:
            variance[j] = novel
        else:
            variance[j] = max(0.0, float(np.var(dj)) - ordinary) + float(np.mean(dj)) ** 2 / dj.size
    return FlagPrior(flags, points, variance)


@dataclass(frozen=True)
class FlagWidening:
    """Extra variance (squared series scales) ``variance`` ``(k,)`` of each flag of ``flags``
    on a forecast step where it is active; ``points`` ``(k,)`` the backtest points it was active on."""

    flags: Flags
    variance: np.ndarray
    points: np.ndarray

    def apply(self, values: np.ndarray, active: np.ndarray | None, scales: np.ndarray,
              levels: Sequence[float]) -> np.ndarray:
        """``values`` ``(n, n_q)`` (sorted quantiles at ``levels``), widened where ``active``
        ``(n, k)`` has a flag with extra variance (rows without one are left as they are)."""
        values = np.asarray(values, dtype="float64")
        if active is None or not active.size or not (self.variance > 0).any():
            return values
        extra = np.asarray(active, dtype="float64") @ self.variance
        rows = extra > 0
        if not rows.any():
            return values
        lv = np.asarray(levels, dtype="float64")
        mid = int(np.argmin(np.abs(lv - MEDIAN)))
        z = np.array([NormalDist().inv_cdf(min(max(q, 1e-6), 1 - 1e-6)) for q in lv])
        z = z - z[mid]  # the central level stays where it is
        spread = np.sqrt(extra[rows]) * np.nan_to_num(np.asarray(scales, dtype="float64")[rows])
        center = values[rows, mid : mid + 1]
        gap = values[rows] - center
        out = values.copy()
        out[rows] = center + np.sign(z) * np.sqrt(gap**2 + (z * spread[:, None]) ** 2)
        return np.sort(out, axis=1)


def fit_flag_widening(
    prior: FlagPrior, active: np.ndarray, residuals: np.ndarray, ok: np.ndarray
) -> FlagWidening | None:
    """:class:`FlagWidening` from the history's ``prior`` and the backtest points: ``active``
    ``(n, k)`` flags, ``residuals`` ``(n,)`` median residuals in series scales, ``ok`` ``(n,)``
    the points scored. None when there are no flags."""
    k = len(prior.flags.columns)
    if k == 0:
        return None
    active = np.asarray(active, dtype=bool) & np.asarray(ok, dtype=bool)[:, None]
    r2 = np.where(ok, np.asarray(residuals, dtype="float64"), 0.0) ** 2
    plain = ok & ~active.any(axis=1)
    base = float(r2[plain].mean()) if plain.any() else float(r2[ok].mean()) if ok.any() else 0.0
    points = active.sum(axis=0)
    variance = np.zeros(k)
    for j in range(k):
        n = int(points[j])
        if n >= COMMON_POINTS:
            continue
        evidence = float(r2[active[:, j]].mean()) - base if n else 0.0
        variance[j] = max(0.0, (n * evidence + PRIOR_POINTS * prior.variance[j]) / (n + PRIOR_POINTS))
    return FlagWidening(prior.flags, variance, points)
