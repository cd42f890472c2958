"""The accuracy benchmark's peers, as quantile forecast frames (``unique_id, ds`` + one column per level).

statsforecast's SeasonalNaive, AutoETS, AutoARIMA and AutoTheta (each fit on its own, so
that one model failing on a panel does not hide the others), and AutoGluon-TS with its
``medium_quality`` preset minus the models that load pretrained weights (Chronos, Toto):
no downloads, trained from scratch, seeded, no time limit unless one is given.
Both need pandas < 3 (the ``bench`` extra, ``make .venv-bench/.installed``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns

log = logging.getLogger(__name__)
STATSFORECAST_MODELS = ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta")
#: AutoGluon models that need pretrained weights (a download); excluded from its presets.
PRETRAINED = ["Chronos", "Chronos2", "ChronosModel", "Chronos2Model", "Toto", "Toto2", "TotoModel", "Toto2Model"]
#: statsforecast processes across series.
PEER_JOBS = min(2, os.cpu_count() or 1)


def _sorted_nonnegative(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    frame[cols] = np.sort(np.clip(frame[cols].to_numpy("float64"), 0, None), axis=1)
    return frame


def statsforecast_forecasts(
    train: pd.DataFrame,
    future: pd.DataFrame,
    horizon: int,
    levels: Sequence[float],
    freq: str = "D",
    season_length: int = 7,
    models: Sequence[str] = STATSFORECAST_MODELS,
) -> dict[str, pd.DataFrame]:
    """Each statsforecast model's quantile frame, keyed by model name; a model that fails
    on this panel is logged and left out. ``future``: ``unique_id, ds`` + covariates."""
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    covs = [c for c in train.columns if c not in (*KEYS, Y)]
    pct = sorted({round(abs(1 - 2 * q) * 100) for q in levels if q != 0.5})
    cols = quantile_columns(levels)
    out = {}
    for name in models:
        model = getattr(sf_models, name)(season_length=season_length)
        sf = StatsForecast(models=[model], freq=freq, n_jobs=PEER_JOBS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = sf.forecast(df=train, h=horizon, level=pct, X_df=future[[*KEYS, *covs]] if covs else None)
        except Exception as exc:  # a peer that cannot fit this panel is reported, not fatal
            log.warning("statsforecast %s failed on this panel: %s", name, exc)
            continue
        fc = fc.reset_index() if UNIQUE_ID not in fc.columns else fc
        frame = fc[KEYS].copy()
        for q, col in zip(levels, cols, strict=True):
            side = "" if q == 0.5 else f"-{'lo' if q < 0.5 else 'hi'}-{round(abs(1 - 2 * q) * 100)}"
            frame[col] = fc[f"{name}{side}"]
        out[name] = _sorted_nonnegative(frame, cols)
    return out


def autogluon_forecast(
    train: pd.DataFrame,
    future: pd.DataFrame,
    horizon: int,
    levels: Sequence[float],
    freq: str,
    seed: int = 0,
    time_limit_s: float | None = None,
    preset: str = "medium_quality",
) -> pd.DataFrame:
    """AutoGluon-TS's quantile frame: ``preset`` without pretrained models, the covariates
    of ``future`` as known covariates, seeded; ``time_limit_s`` None means none."""
    from autogluon.timeseries import TimeSeriesDataFrame, TimeSeriesPredictor

    covs = [c for c in train.columns if c not in (*KEYS, Y)]

    def tsdf(frame: pd.DataFrame) -> TimeSeriesDataFrame:
        renamed = frame.rename(columns={UNIQUE_ID: "item_id", DS: "timestamp"})
        return TimeSeriesDataFrame.from_data_frame(renamed, id_column="item_id", timestamp_column="timestamp")

    with tempfile.TemporaryDirectory(prefix="devsuite-ag-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = TimeSeriesPredictor(
            prediction_length=horizon, freq=freq, quantile_levels=list(levels), known_covariates_names=covs,
            target=Y, eval_metric="WQL", path=str(Path(tmp) / "predictor"), verbosity=0,
        )
        predictor.fit(tsdf(train), presets=preset, excluded_model_types=PRETRAINED, random_seed=seed,
                      time_limit=time_limit_s)
        pred = predictor.predict(tsdf(train), known_covariates=tsdf(future) if covs else None)
    pred = pred.reset_index().rename(columns={"item_id": UNIQUE_ID, "timestamp": DS})
    cols = quantile_columns(levels)
    frame = pred[KEYS].copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    for q, col in zip(levels, cols, strict=True):
        frame[col] = pred[str(q)].to_numpy()
    return _sorted_nonnegative(frame, cols)
