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
