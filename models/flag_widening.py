"""Wider bands on forecast steps whose known-ahead flags the calibration rarely saw.

The conformal offsets (:mod:`fcplan.models.conformal`) are fitted on backtest points. A
known-ahead *flag* (a holiday, event or promotion column: a covariate with a default
value that at least :data:`DEFAULT_SHARE` of the history's rows take; it is *active*
where it differs from that value) that was active on few or none of those points leaves
the offsets blind to its effect: Thanksgiving, say, in a history that starts in January.

Each flag ``f`` gets an extra variance below and above the median, ``v_f = (down, up)``, in
squared series scales. With ``side(x)`` the part of ``x`` below (down) or above (up) 0 and
``S(x) = 2 mean(side(x)^2)`` (the semi-variance, doubled: the variance where ``x`` is symmetric):

* **evidence**, from the backtest points where ``f`` is active (``n_f`` of them): the excess
  ``e_f = S(r_f) - S(r_0)`` of their median residuals ``r = (y - median) / scale`` over those
  of the points with no flag active, each residual less its window's level (the median
  residual of the unflagged points of the same series and backtest window,
  :data:`WINDOW_LEVEL`): a level the models missed on a whole window is the offsets' to cover;
* **prior**, from the history: each step's deviation from its seasonal neighbours (the
  median of the steps 1 and 2 seasons before and after that carry no flag),
  ``d = (y - baseline) / scale``. A flag active on ``n_h > 0`` history steps (which the
  models could learn from): ``p_f = max(0, var(d_f) - mean(d_0^2)) + mean(d_f)^2 / n_h`` on
  both sides (the spread of its effect around its mean, plus the error of a mean learnt
  from ``n_h`` occurrences). A flag never active in the history is an event of an unknown
  kind: as disruptive, on each side, as the most disruptive kind of event seen,
  ``max_g (S(d_g) - S(d_0))`` over the flags ``g`` seen on at most :data:`EVENT_SHARE` of
  the history's steps, and at least
  ``(NOVEL_FACTOR^2 - 1) mean(d_0^2)`` (``NOVEL_FACTOR`` times an ordinary step's deviation);
* ``v_f = max(0, (n_f e_f + PRIOR_POINTS p_f) / (n_f + PRIOR_POINTS))`` for a flag active on
  fewer than :data:`COMMON_POINTS` backtest points, 0 for the others (the offsets saw
  them often enough: bands where flags are common are left as they are).

A step where the flags ``A`` are active gets an extra spread ``s = scale * sqrt(sum v_f)``
(``f`` in ``A``, the side of each level): its quantile ``x`` at level ``q`` moves away from
the median ``m`` to ``m + sign(q - 0.5) * sqrt((x - m)^2 + (z_q s)^2)``, ``z_q`` the standard
normal quantile (independent errors add their variances).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import MEDIAN
from fcplan.models.scales import panel_scales

#: A covariate is a flag when at least this share of the history's rows take one value.
DEFAULT_SHARE = 0.5
#: A flag active on at least this many backtest points is left to the conformal offsets.
COMMON_POINTS = 30
#: Backtest points at which the evidence and the history's prior weigh the same.
PRIOR_POINTS = 5
#: An event never seen deviates at least this many times as much as an ordinary step.
NOVEL_FACTOR = 2.0
#: Flags active on at most this share of the history's rows are events: an event of a kind
#: never seen is compared with them (not with common flags such as a work-day flag).
EVENT_SHARE = 0.1
#: Seasons longer than this (52 weeks) are too long for neighbours: adjacent steps are used.
MAX_NEIGHBOUR_SEASON = 24
#: The evidence is each point's residual less its window's level: the median residual of the
#: unflagged points of the same series and backtest window. A window's points share one level
#: error (a schedule change, a shift the models had not caught up with), which the conformal
#: offsets already cover; a flagged point in such a window is not evidence of the flag.
WINDOW_LEVEL = True


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
        if counts.iloc[0] >= DEFAULT_SHARE * len(panel):  # a constant column: a flag never active yet
            names.append(col)
            defaults.append(float(counts.index[0]))
    return Flags(tuple(names), tuple(defaults))


@dataclass(frozen=True)
class FlagPrior:
    """What the history says of each flag (see the module docstring): active steps
    ``history_points`` ``(k,)``, prior extra variance ``variance`` ``(k, 2)`` (down, up)."""

    flags: Flags
    history_points: np.ndarray
    variance: np.ndarray


def _neighbour_baseline(frame: pd.DataFrame, flagged: np.ndarray, lag: int) -> np.ndarray:
    """Per row of ``frame`` (``unique_id, y``, sorted by series and time), the median of its
    series' unflagged steps ``lag`` and ``2 lag`` before and after it (NaN without any)."""
    masked = pd.Series(np.where(flagged, np.nan, frame[Y].to_numpy("float64")), index=frame.index)
    by = masked.groupby(frame[UNIQUE_ID].to_numpy(), sort=False)
    shifted = np.column_stack([by.shift(off).to_numpy("float64") for off in (2 * lag, lag, -lag, -2 * lag)])
    base = np.full(len(frame), np.nan)
    enough = np.isfinite(shifted).any(axis=1)
    base[enough] = np.nanmedian(shifted[enough], axis=1)
    return base


def flag_prior(panel: pd.DataFrame, flags: Flags, season: int) -> FlagPrior:
    """:class:`FlagPrior` of ``flags`` from ``panel`` (``unique_id, ds, y`` + the flags)."""
    k = len(flags.columns)
    if k == 0:
        return FlagPrior(flags, np.zeros(0, dtype=int), np.zeros((0, 2)))
    lag = season if 1 < season <= MAX_NEIGHBOUR_SEASON else 1
    frame = panel.sort_values([UNIQUE_ID, DS], kind="stable").reset_index(drop=True)
    active = flags.active(frame)
    scale = frame[UNIQUE_ID].map(panel_scales(frame, season)).to_numpy("float64")
    with np.errstate(all="ignore"):
        d = (frame[Y].to_numpy("float64") - _neighbour_baseline(frame, active.any(axis=1), lag)) / scale
    ok = np.isfinite(d) & (scale > 0)
    plain = ok & ~active.any(axis=1)
    ordinary = float(np.mean(d[plain] ** 2)) if plain.any() else 1.0
    ordinary_sides = semi_variances(d[plain]) if plain.any() else np.full(2, ordinary)
    points = active.sum(axis=0)
    variance = np.empty((k, 2))
    kinds = []
    for j in range(k):
        dj = d[ok & active[:, j]]
        if dj.size:
            variance[j] = max(0.0, float(np.var(dj)) - ordinary) + float(np.mean(dj)) ** 2 / dj.size
            if points[j] <= EVENT_SHARE * len(frame):
                kinds.append(semi_variances(dj) - ordinary_sides)
    novel = np.maximum(np.max(kinds, axis=0) if kinds else 0.0, (NOVEL_FACTOR**2 - 1) * ordinary)
    variance[points == 0] = novel
    return FlagPrior(flags, points, variance)


def semi_variances(x: np.ndarray) -> np.ndarray:
    """``(2,)``: twice the mean square of the part of ``x`` below 0, and above 0 (each the
    variance of ``x`` where it is symmetric about 0); 0 for an empty ``x``."""
    x = np.asarray(x, dtype="float64")
    if x.size == 0:
        return np.zeros(2)
    return 2 * np.array([np.mean(np.minimum(x, 0.0) ** 2), np.mean(np.maximum(x, 0.0) ** 2)])


@dataclass(frozen=True)
class FlagWidening:
    """Extra variance (squared series scales) ``variance`` ``(k, 2)``, below and above the
    median, of each flag of ``flags`` on a forecast step where it is active; ``points``
    ``(k,)`` the backtest points it was active on."""

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
        extra = np.asarray(active, dtype="float64") @ self.variance  # (n, 2)
        rows = (extra > 0).any(axis=1)
        if not rows.any():
            return values
        lv = np.asarray(levels, dtype="float64")
        mid = int(np.argmin(np.abs(lv - MEDIAN)))
        z = np.array([NormalDist().inv_cdf(min(max(q, 1e-6), 1 - 1e-6)) for q in lv])
        z = z - z[mid]  # the central level stays where it is
        side = extra[rows][:, (z > 0).astype(int)]  # (rows, n_q): the down or up variance of each level
        spread2 = side * np.nan_to_num(np.asarray(scales, dtype="float64")[rows])[:, None] ** 2
        center = values[rows, mid : mid + 1]
        gap = values[rows] - center
        out = values.copy()
        out[rows] = center + np.sign(z) * np.sqrt(gap**2 + z**2 * spread2)
        return np.sort(out, axis=1)


def window_level(residuals: np.ndarray, plain: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``(n,)``: per point, the median of the ``plain`` points' ``residuals`` in its group
    (a series' backtest window; 0 where the group has no plain point). One grouped pass, no
    loop over the groups (a thousand series x the windows on a large panel)."""
    _, group = np.unique(np.asarray(groups), axis=0, return_inverse=True)
    group = group.reshape(-1)
    medians = pd.Series(residuals[plain]).groupby(group[plain]).median()
    return medians.reindex(group).fillna(0.0).to_numpy("float64")


def fit_flag_widening(
    prior: FlagPrior, active: np.ndarray, residuals: np.ndarray, ok: np.ndarray,
    groups: np.ndarray | None = None,
) -> FlagWidening | None:
    """:class:`FlagWidening` from the history's ``prior`` and the backtest points: ``active``
    ``(n, k)`` flags, ``residuals`` ``(n,)`` median residuals in series scales, ``ok`` ``(n,)``
    the points scored. None when there are no flags. ``groups`` ``(n,)`` or ``(n, m)``: each
    point's series window (see :data:`WINDOW_LEVEL`)."""
    k = len(prior.flags.columns)
    if k == 0:
        return None
    ok = np.asarray(ok, dtype=bool)
    active = np.asarray(active, dtype=bool) & ok[:, None]
    r = np.asarray(residuals, dtype="float64")
    plain = ok & ~active.any(axis=1)
    if WINDOW_LEVEL and groups is not None:
        r = r - window_level(r, plain, groups)
    base = semi_variances(r[plain] if plain.any() else r[ok])
    points = active.sum(axis=0)
    variance = np.zeros((k, 2))
    for j in range(k):
        n = int(points[j])
        if n >= COMMON_POINTS:
            continue
        evidence = semi_variances(r[active[:, j]]) - base if n else np.zeros(2)
        variance[j] = np.maximum(0.0, (n * evidence + PRIOR_POINTS * prior.variance[j]) / (n + PRIOR_POINTS))
    return FlagWidening(prior.flags, variance, points)
