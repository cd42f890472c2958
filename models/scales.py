"""A series' scale, the unit of the calibration's residuals (:mod:`fcplan.models.conformal`)
and of the flag widening's spreads (:mod:`fcplan.models.flag_widening`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcplan.core.panel import UNIQUE_ID, Y
from fcplan.models.metrics import seasonal_scale


def series_scale(y: np.ndarray, season: int) -> float:
    """A series' scale: its MASE scale (mean seasonal absolute difference), 0 when its
    history does not vary (constant, all-zero or too short: such a series is neither
    evidence for the calibration nor recalibrated)."""
    scale = seasonal_scale(y, season)
    return scale if np.isfinite(scale) else 0.0


def panel_scales(panel: pd.DataFrame, season: int) -> pd.Series:
    """``unique_id -> scale`` (:func:`series_scale`) of a panel with ``unique_id, y``."""
    return panel.groupby(UNIQUE_ID, sort=False)[Y].agg(lambda s: series_scale(s.to_numpy("float64"), season))


def calibration_scales(pred: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Each point's unit of calibration: its series' scale, but 0 where the forecast is
    certain of no demand (every quantile of ``pred`` ``(n, n_q)`` is 0: a closed day, say).

    A point of scale 0 is neither evidence for the calibration's offsets nor shifted by them.
    A closed day's residual is 0 at every level, so as evidence it reads as covered by every
    upper quantile and under every lower one: with one closed weekday in seven, the offset of
    the 0.7 quantile fitted on all days lands on about the 0.65 quantile of the open days'
    residuals (bands too narrow where there is demand), and applied back it would book
    orders on days the forecast is sure are shut."""
    scales = np.nan_to_num(np.asarray(scales, dtype="float64"), nan=0.0)
    pred = np.asarray(pred, dtype="float64")
    if pred.size == 0:
        return scales
    certain = np.nan_to_num(pred, nan=1.0).max(axis=-1) <= 0
    return np.where(certain, 0.0, scales)
