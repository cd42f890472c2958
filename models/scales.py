"""A series' scale, the unit of the calibration's residuals (:mod:`fcplan.models.conformal`)
and of the flag widening's spreads (:mod:`fcplan.models.flag_widening`)."""

from __future__ import annotations

import itertools

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


def seasonal_scales(ids: pd.Series, y: np.ndarray, season: int) -> pd.Series:
    """:func:`fcplan.models.metrics.seasonal_scale` of each series of a long panel (``ids``
    and ``y`` row by row, each series' rows in time order): ``id -> scale`` (NaN where it
    cannot be computed), the ids in order of first appearance as ``groupby(sort=False)``
    gives them. Series by series on numpy slices, without pandas' per-group overhead (the
    scales of every model on every backtest window)."""
    codes, uniques = pd.factorize(ids)
    order = np.argsort(codes, kind="stable")
    values = np.asarray(y, dtype="float64")[order]
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(uniques)))]
    scales = [seasonal_scale(values[a:b], season) for a, b in itertools.pairwise(bounds)]
    return pd.Series(np.array(scales, dtype="float64"), index=pd.Index(uniques, name=ids.name))


def panel_scales(panel: pd.DataFrame, season: int) -> pd.Series:
    """``unique_id -> scale`` (:func:`series_scale`) of a panel with ``unique_id, y``."""
    scales = seasonal_scales(panel[UNIQUE_ID], panel[Y].to_numpy("float64"), season)
    return scales.where(np.isfinite(scales), 0.0).rename(Y)

