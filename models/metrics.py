"""Forecast accuracy metrics on arrays (pure numpy).

Shapes: ``y`` is ``(n,)`` actuals; ``q_pred`` is ``(n, n_q)`` predicted quantiles
at ``quantiles`` (``(n_q,)``, ascending); ``point`` is ``(n,)``. NaN actuals are
ignored everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _clean(y: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(y)
    return (y[ok], *(np.asarray(o, dtype="float64")[ok] for o in others))


def pinball_loss(y: np.ndarray, q_pred: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Pinball loss per point and level, ``(n, n_q)``."""
    q = np.asarray(quantiles, dtype="float64")[None, :]
    diff = np.asarray(y, dtype="float64")[:, None] - np.asarray(q_pred, dtype="float64")
    return np.maximum(q * diff, (q - 1.0) * diff)


def weighted_quantile_losses(y: np.ndarray, q_pred: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Amazon Forecast's wQL per level: ``2 * sum(pinball) / sum(|y|)``, ``(n_q,)``."""
    y, q_pred = _clean(y, q_pred)
    denom = np.abs(y).sum()
    losses = 2.0 * pinball_loss(y, q_pred, quantiles).sum(axis=0)
    return losses / denom if denom > 0 else np.where(losses > 0, np.inf, 0.0)


def wql(y: np.ndarray, q_pred: np.ndarray, quantiles: Sequence[float]) -> float:
    """Mean weighted quantile loss over the levels (lower is better; 0 is perfect)."""
    return float(np.mean(weighted_quantile_losses(y, q_pred, quantiles)))


def window_wql(actuals: np.ndarray, quantiles: Sequence[float], groups: np.ndarray | None = None):
    """wQL averaged over groups (backtest windows), as a function of the predictions:
    returns ``loss(pred (n, n_q)) -> float`` for the ensemble's weight search, which calls
    it many times on the same actuals (NaN actuals ignored)."""
    ok = np.isfinite(actuals)
    y = actuals[ok]
    labels = (
        np.zeros(y.size, dtype=int)
        if groups is None
        else np.unique(np.asarray(groups)[ok], return_inverse=True)[1]
    )
    n_groups = int(labels.max()) + 1 if labels.size else 0
    denom = np.bincount(labels, weights=np.abs(y), minlength=n_groups)
    denom = np.where(denom > 0, denom, 1.0)

    q = np.asarray(quantiles, dtype="float64")[None, :]
    every = bool(ok.all())

    def loss(pred: np.ndarray) -> float:
        # :func:`pinball_loss` of the observed points, with two temporaries instead of five
        diff = y[:, None] - np.asarray(pred if every else pred[ok], dtype="float64")
        pin = q * diff
        np.maximum(pin, np.multiply(diff, q - 1.0, out=diff), out=pin)
        pin = pin.mean(axis=1)
        return float(np.mean(2.0 * np.bincount(labels, weights=pin, minlength=n_groups) / denom))

    return loss


def wape(y: np.ndarray, point: np.ndarray) -> float:
    """Weighted absolute percentage error ``sum|y - point| / sum|y|``."""
    y, point = _clean(y, point)
    denom = np.abs(y).sum()
    err = np.abs(y - point).sum()
    return float(err / denom) if denom > 0 else (0.0 if err == 0 else float("inf"))


def seasonal_scale(y_train: np.ndarray, season: int) -> float:
    """MASE scale: mean ``|y_t - y_{t-season}|`` of the training data (naive lag-1 when
    too short); NaN when it cannot be computed or is 0."""
    y = np.asarray(y_train, dtype="float64")
    m = season if y.size > season else 1
    if y.size <= m:
        return float("nan")
    diffs = np.abs(y[m:] - y[:-m])
    diffs = diffs[np.isfinite(diffs)]
    scale = float(diffs.mean()) if diffs.size else float("nan")
    return scale if scale > 0 else float("nan")


def mase(y: np.ndarray, point: np.ndarray, scale: np.ndarray, series: np.ndarray | None = None) -> float:
    """Mean absolute scaled error, averaged over series.

    ``scale`` is ``(n,)`` (each point's series scale from :func:`seasonal_scale`);
    ``series`` ``(n,)`` labels which series each point belongs to (one series when
    None). Series with NaN scale are skipped; NaN when none is left.
    """
    y = np.asarray(y, dtype="float64")
    labels = np.zeros(y.size) if series is None else np.asarray(series)
    if labels.size != y.size:
        raise ValueError(f"series has {labels.size} labels, expected one per actual ({y.size})")
    scale = np.asarray(scale, dtype="float64")
    ok = np.isfinite(y) & np.isfinite(scale)
    if not ok.any():
        return float("nan")
    scaled = np.abs(y - np.asarray(point, dtype="float64"))[ok] / scale[ok]
    _, inverse = np.unique(labels[ok], return_inverse=True)
    per_series = np.bincount(inverse, weights=scaled) / np.bincount(inverse)
    return float(per_series.mean())


def coverage(y: np.ndarray, q_pred: np.ndarray) -> float:
    """Share of actuals within the outermost quantile pair ``[q_pred[:, 0], q_pred[:, -1]]``;
    NaN with a single level (a median alone has no band to cover)."""
    y, q_pred = _clean(y, q_pred)
    if y.size == 0 or np.asarray(q_pred).shape[-1] < 2:
        return float("nan")
    inside = (y >= q_pred[:, 0]) & (y <= q_pred[:, -1])
    return float(inside.mean())


def quantile_coverage(y: np.ndarray, q_pred: np.ndarray) -> np.ndarray:
    """Per level, the share of actuals at or below the predicted quantile, ``(n_q,)``
    (a calibrated 0.9 quantile covers about 0.9)."""
    y, q_pred = _clean(y, q_pred)
    if y.size == 0:
        return np.full(np.asarray(q_pred).shape[-1], np.nan)
    return (y[:, None] <= q_pred).mean(axis=0)


def bands(quantiles: Sequence[float]) -> list[tuple[int, int, str]]:
    """The central bands among ``quantiles`` (ascending): ``(lower index, upper index, name)``
    for each pair of levels ``q`` and ``1 - q``, widest first, named by the nominal
    coverage in percent (``0.1``/``0.9`` -> ``"coverage_80"``)."""
    levels = np.asarray(quantiles, dtype="float64")
    out = []
    for i, q in enumerate(levels):
        if q >= 0.5:
            break
        match = np.flatnonzero(np.abs(levels - (1.0 - q)) < 1e-9)
        if match.size:
            out.append((i, int(match[0]), f"coverage_{round(100 * (1 - 2 * q), 1):g}"))
    return out


def band_coverage(y: np.ndarray, q_pred: np.ndarray, quantiles: Sequence[float]) -> dict[str, float]:
    """Share of actuals inside each central band (see :func:`bands`): ``{"coverage_80": 0.81, ...}``."""
    y, q_pred = _clean(y, q_pred)
    return {
        name: float(((y >= q_pred[:, lo]) & (y <= q_pred[:, hi])).mean()) if y.size else float("nan")
        for lo, hi, name in bands(quantiles)
    }
