"""Conformalized quantiles (CQR per level) from rolling-origin residuals.

The ensemble's quantile forecasts on the backtest windows are compared with the
actuals. For each quantile level ``q`` and horizon bucket, the residual of that
quantile in units of the forecast's own band, ``r = (y - pred_q) / unit`` with
``unit = max(pred_hi - pred_lo, WIDTH_FLOOR * scale)`` (``pred_lo``, ``pred_hi`` the
forecast at the levels of :data:`UNIT_BAND`, ``scale`` the series' scale), has a ``q``-quantile ``c``: adding
``c * unit`` to the forecast quantile makes it cover a share ``q`` of the backtest
actuals (Romano et al. 2019, one level at a time; normalised by the band, so steps the
members find harder, such as late steps or a volatile series, keep their wider bands).
The quantile is the pinball-optimal (interpolated) one, not the outward-rounded
conformal order statistic: the target is a calibrated ``q``-quantile, not a coverage
guarantee, and rounding outward made every band wider than nominal on windows of a few
dozen points. Residuals are weighted by recency, :data:`RECENCY_DECAY` per window of
age (weighted conformal prediction under drift, Barber et al. 2023): older calibration
windows describe a regime the forecast is further from. The points of one window share its
shocks (a holiday, a storm, a level that moved), so the quantile is taken twice,
:data:`WINDOW_SHARE` of the way from the quantile of all the residuals pooled to the mean of
each window's own quantile (each window weighing its points' total recency weight): a window
whose residuals all moved one way counts as one draw of that shift, with its window's weight,
instead of its points making up the pooled tail on their own (on the dev suite's hourly
electricity panel, the residuals of Christmas week set the band's lower edge for the days
after it). With windows alike, both are about the same quantile. The offset is shrunk
toward 0 (the ensemble's own spread) when the evidence is thin, and an offset that would *narrow*
a band is only used once there are :data:`MIN_NARROW_WINDOWS` windows of evidence.

Shapes: ``pred`` ``(n, n_q)`` (sorted quantiles at ``levels``), ``actuals``,
``steps`` (0-based horizon step), ``scales`` (the series' scale) and ``windows``
(backtest window id, older windows lower) are ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fcplan.core.quantiles import MEDIAN, median_index
from fcplan.models.flag_widening import FlagPrior, Flags, FlagWidening, fit_flag_widening

#: At most this many horizon buckets (early / middle / late steps), each with at
#: least :data:`MIN_BUCKET_POINTS` scored points.
MAX_BUCKETS = 3
MIN_BUCKET_POINTS = 30
#: Evidence at which an offset keeps half its size: points (shrinkage n / (n + N0)) and
#: windows (W / (W + W0)): the points of one window share its shocks, so windows count too.
SHRINK_POINTS = 10
SHRINK_WINDOWS = 1
#: Backtest windows needed before an offset may narrow a band, and the windows at which a
#: narrowing offset keeps half its size beyond that.
MIN_NARROW_WINDOWS = 4
SHRINK_NARROW_WINDOWS = 4
#: Weight of a residual per window of age (the newest window 1, the one before it 0.7, ...):
#: half-life about two windows. On the dev suite, 0.5-0.8 gave about the same mean wQL, better
#: than 1 (all windows alike; more, older windows made it worse still); 0.5 was up to 4 % worse
#: on series with level shifts (benchmarks/calibration.py's panels): too few windows count.
RECENCY_DECAY = 0.7
#: How far the offset moves from the quantile of the pooled residuals toward the mean of the
#: windows' own quantiles (0: pooled only). On the dev suite (3 test windows a panel), 0.5 gave
#: a mean wQL 0.6 % lower than 0 (elec_hourly -5 %, tuna_weekly +1 %) and on the forward check
#: (each backtest window calibrated on the older ones) 0.2 % lower; on benchmarks/calibration.py's
#: panels the same or lower (simulator -1.1 %, online_retail -0.7 %). 1 made tuna_weekly 2 % worse;
#: the median of the windows' quantiles put flights_origin's coverage under 0.72.
WINDOW_SHARE = 0.5
#: Residuals are in units of the forecast's band, but never of one narrower than this many
#: series scales (a band of 0, say all quantiles at 0 on an intermittent series, still widens).
WIDTH_FLOOR = 0.2
#: The band whose width is the residuals' unit: the 10-90 % band, interpolated between the
#: levels asked for (clipped to the outermost), whatever they are. It was the outermost
#: levels asked for, so that asking for 0.999 too moved every other level's offset.
UNIT_BAND = (0.1, 0.9)


def certain_zero(pred: np.ndarray) -> np.ndarray:
    """``(n,)``: where a forecast ``(n, n_q)`` is certain of no demand, every quantile at or below
    0 (a closed day, say). Such a point is neither evidence for the offsets nor shifted by them
    (nor widened for its flags): a closed day's residual is 0 at every level, so as evidence
    it reads as covered by every upper quantile and under every lower one (with one closed
    weekday in seven, the 0.7 offset fitted on all days landed on about the 0.65 quantile of
    the open days' residuals), and shifted it would book orders on days the forecast is sure
    are shut. A band of zero width at any other level is still widened (see
    :data:`WIDTH_FLOOR`). NaN counts as demand."""
    pred = np.asarray(pred, dtype="float64")
    if pred.ndim < 2 or pred.shape[-1] == 0:
        return np.zeros(pred.shape[:1], dtype=bool)
    return np.nan_to_num(pred, nan=1.0).max(axis=-1) <= 0


def horizon_buckets(steps: np.ndarray, max_buckets: int = MAX_BUCKETS) -> tuple[int, ...]:
    """Exclusive upper step of each horizon bucket: contiguous, about equal ranges of
    steps, as many as leave every bucket :data:`MIN_BUCKET_POINTS` points."""
    steps = np.asarray(steps, dtype=int)
    horizon = int(steps.max()) + 1 if steps.size else 1
    for n in range(min(max_buckets, horizon), 1, -1):
        ends = tuple(round(horizon * (b + 1) / n) for b in range(n))
        counts = np.histogram(steps, bins=[0, *ends])[0]
        if counts.min() >= MIN_BUCKET_POINTS:
            return ends
    return (horizon,)


def _bucket_of(steps: np.ndarray, ends: tuple[int, ...]) -> np.ndarray:
    """Bucket index of each step (steps past the last bucket fall in it)."""
    return np.minimum(np.searchsorted(ends, steps, side="right"), len(ends) - 1)


def _weighted_quantile(r: np.ndarray, q: float, weights: np.ndarray) -> float:
    """The ``q``-quantile of ``r`` whose points weigh ``weights``: each point at the middle
    of its share of the cumulative weight, linear in between (the plain sample quantile,
    ``(k - 0.5) / n``, when the weights are equal)."""
    order = np.argsort(r, kind="stable")
    r, w = np.asarray(r, dtype="float64")[order], np.asarray(weights, dtype="float64")[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, r))


def window_quantile(
    r: np.ndarray, q: float, weights: np.ndarray, windows: np.ndarray, share: float = WINDOW_SHARE
) -> float:
    """The ``q``-quantile of the residuals ``r`` of points of ``windows`` weighing ``weights``:
    ``share`` of the way from the pooled weighted quantile to the mean of each window's own
    (plain) quantile, each window weighing its points' total weight (see the module docstring)."""
    r, weights, windows = np.asarray(r, dtype="float64"), np.asarray(weights, dtype="float64"), np.asarray(windows)
    pooled = _weighted_quantile(r, q, weights)
    ids, inverse = np.unique(windows, return_inverse=True)
    if share == 0 or len(ids) < 2:
        return pooled
    inverse = inverse.ravel()
    own = np.array([_weighted_quantile(r[inverse == i], q, np.ones(np.sum(inverse == i))) for i in range(len(ids))])
    mass = np.bincount(inverse, weights=weights, minlength=len(ids))
    return (1 - share) * pooled + share * float(own @ mass / mass.sum())


def recency_weights(windows: np.ndarray, decay: float = RECENCY_DECAY) -> np.ndarray:
    """``(n,)`` weight of each point: ``decay`` to the power of its window's age (0 for the
    newest window id, 1 for the one before it, ...)."""
    ids, inverse = np.unique(np.asarray(windows), return_inverse=True)
    return decay ** (len(ids) - 1 - inverse).astype("float64")


def band_units(
    values: np.ndarray, levels: Sequence[float], band: tuple[float, float], scales: np.ndarray
) -> np.ndarray:
    """``(n,)``: the width of each row's ``band`` (its quantiles at the two levels of
    ``band``, interpolated between ``levels``), at least :data:`WIDTH_FLOOR` series scales."""
    lv = np.asarray(levels, dtype="float64")
    values = np.asarray(values, dtype="float64")

    def at(level: float) -> np.ndarray:  # np.interp of every row at one level
        hi = int(np.clip(np.searchsorted(lv, level), 1, len(lv) - 1)) if len(lv) > 1 else 0
        lo = max(hi - 1, 0)
        t = 0.0 if hi == lo else float(np.clip((level - lv[lo]) / (lv[hi] - lv[lo]), 0.0, 1.0))
        return values[:, lo] * (1 - t) + values[:, hi] * t

    lo, hi = at(band[0]), at(band[1])
    scale = np.nan_to_num(np.asarray(scales, dtype="float64"), nan=0.0)
    return np.maximum(np.nan_to_num(hi - lo, nan=0.0), WIDTH_FLOOR * scale)


@dataclass(frozen=True)
class Calibration:
    """Additive offsets per horizon bucket and level, in units of each forecast's ``band``
    (see :func:`band_units`; None, as in calibrations pickled before it: the series' scale).

    ``offsets`` ``(n_buckets, n_q)`` at ``levels`` (0 at the median); ``bucket_ends`` the
    exclusive last step of each bucket (later steps use the last bucket); ``windows`` and
    ``points`` the evidence it was fitted on; ``widening`` the extra spread of steps whose
    known-ahead flags the backtest rarely saw (:mod:`fcplan.models.flag_widening`)."""

    levels: tuple[float, ...]
    offsets: np.ndarray
    bucket_ends: tuple[int, ...]
    windows: int
    points: int
    widening: FlagWidening | None = None
    band: tuple[float, float] | None = None

    @property
    def flags(self) -> Flags | None:
        """The flag columns whose active values :meth:`apply` wants (None: none)."""
        widening = getattr(self, "widening", None)  # absent from calibrations pickled before it
        return widening.flags if widening is not None else None

    def offsets_at(self, levels: Sequence[float]) -> np.ndarray:
        """``(n_buckets, len(levels))`` offsets, interpolated between the fitted levels."""
        return np.stack([np.interp(levels, self.levels, row) for row in self.offsets])

    def apply(
        self, values: np.ndarray, steps: np.ndarray, scales: np.ndarray, levels: Sequence[float],
        flags: np.ndarray | None = None,
    ) -> np.ndarray:
        """Calibrated, sorted quantiles ``(n, n_q)`` of ``values`` ``(n, n_q)`` at ``levels``;
        a quantile never crosses the median it was calibrated around, and a forecast certain of
        zero (:func:`certain_zero`) is left as it is. ``flags`` ``(n, k)``:
        where each flag of :attr:`flags` is active (None: nowhere)."""
        values = np.asarray(values, dtype="float64")
        bucket = _bucket_of(np.asarray(steps, dtype=int), self.bucket_ends)
        scale = np.nan_to_num(np.asarray(scales, dtype="float64"), nan=0.0)
        scale = np.where(certain_zero(values), 0.0, scale)  # a closed day is left as it is
        band = getattr(self, "band", None)  # absent from calibrations pickled before it
        unit = scale if band is None else band_units(values, levels, band, scale)
        out = values + self.offsets_at(levels)[bucket] * unit[:, None]
        lv = np.asarray(levels, dtype="float64")
        mid = median_index(levels)
        if abs(lv[mid] - MEDIAN) <= 1e-12:
            median = values[:, mid : mid + 1]
            out = np.where(lv > MEDIAN, np.maximum(out, median), np.where(lv < MEDIAN, np.minimum(out, median), out))
        out = np.sort(out, axis=1)
        widening = getattr(self, "widening", None)
        return out if widening is None else widening.apply(out, flags, scale, levels)


def _shrink(offset: float, q: float, points: int, windows: int) -> float:
    """Shrink an offset toward 0 by its evidence; a narrowing one needs more windows."""
    widens = offset * (1.0 if q > MEDIAN else -1.0) >= 0
    weight = points / (points + SHRINK_POINTS) * windows / (windows + SHRINK_WINDOWS)
    if not widens:
        if windows < MIN_NARROW_WINDOWS:
            return 0.0
        weight *= (windows - MIN_NARROW_WINDOWS + 1) / (windows - MIN_NARROW_WINDOWS + 1 + SHRINK_NARROW_WINDOWS)
    return offset * weight


def fit_conformal(
    pred: np.ndarray,
    actuals: np.ndarray,
    levels: Sequence[float],
    steps: np.ndarray,
    scales: np.ndarray,
    windows: np.ndarray,
    flags: np.ndarray | None = None,
    prior: FlagPrior | None = None,
    series: np.ndarray | None = None,
) -> Calibration:
    """Fit per-bucket, per-level offsets on backtest residuals (see the module docstring).
    Points with a NaN actual or a forecast certain of zero (:func:`certain_zero`) are
    ignored; with no points every offset is 0. Given the
    history's ``prior`` on its flags and ``flags`` ``(n, k)`` (where each is active on the
    backtest points), steps with rarely seen flags get wider bands
    (:mod:`fcplan.models.flag_widening`), the evidence measured from each point's series and
    window (``series`` ``(n,)``: each point's series id)."""
    pred = np.asarray(pred, dtype="float64")
    y = np.asarray(actuals, dtype="float64")
    scale = np.nan_to_num(np.asarray(scales, dtype="float64"), nan=0.0)
    ok = np.isfinite(y) & np.isfinite(pred).all(axis=1) & (scale > 0) & ~certain_zero(pred)
    band = UNIT_BAND
    unit = band_units(np.where(ok[:, None], pred, 0.0), levels, band, scale)
    steps = np.asarray(steps, dtype=int)
    ends = horizon_buckets(steps[ok])
    windows = np.asarray(windows)
    n_windows = int(np.unique(windows[ok]).size)
    weight = np.zeros(len(y))
    weight[ok] = recency_weights(windows[ok])
    offsets = np.zeros((len(ends), len(levels)))
    bucket = _bucket_of(steps, ends)
    for b in range(len(ends)):
        mask = ok & (bucket == b)
        n = int(mask.sum())
        if n == 0:
            continue
        for j, q in enumerate(levels):
            if abs(q - MEDIAN) < 1e-12:
                continue
            r = (y[mask] - pred[mask, j]) / unit[mask]
            offsets[b, j] = _shrink(window_quantile(r, q, weight[mask], windows[mask], WINDOW_SHARE), q, n, n_windows)
    widening = None
    if prior is not None and flags is not None:
        with np.errstate(all="ignore"):
            r = np.where(ok, (y - pred[:, median_index(levels)]) / np.where(ok, scale, 1.0), 0.0)
        # a series' window. Without ``series`` (evidence recorded before it), its scale on that window's
        # training data tells the series apart, but count series' scales coincide (1,000 Poisson series of
        # 200 days: 64-364 distinct scales): their windows' levels were medians over several series
        who = pd.factorize(np.asarray(series))[0] if series is not None else scale
        widening = fit_flag_widening(prior, flags, r, ok, np.column_stack([windows, who]))
    return Calibration(tuple(float(q) for q in levels), offsets, ends, n_windows, int(ok.sum()), widening, band)
