"""Global recursive LightGBM (as AutoGluon's RecursiveTabular beside its DirectTabular).

One booster learns the *next* step from the tabular features at the step before it
(:func:`fcplan.models.features.tabular_features` with ``step = 1``: lags, seasonal lags,
rolling statistics, last year's values, calendar, holidays, known covariates with their
leads and lags), trained across all series on the median (``objective="quantile"``,
``alpha=0.5``). Forecasts run step by step: each step's median becomes the next step's
lag, for all series at once (no per-series loop). It complements the direct model
(:class:`fcplan.models.lgbm.LightGBMQuantile`): its lags are always the latest values,
which suits strongly autocorrelated series (hourly load, daily traffic), while the direct
model learns the spread at each step from real errors and does not accumulate its bias.

Intervals come from the model's own multi-step errors on a holdout: the booster is
first fitted without the last ``holdout`` steps (default: ``min(max_horizon, n / 5)``),
forecasts them recursively, and the errors (relative to each series' scale) give, per
step, empirical quantiles of the error around the median; with few series the steps
near each step are pooled, each error rescaled by ``sqrt(step)``. The booster is then
refitted on the whole history. Steps past the holdout reuse its last step's errors,
widened by ``sqrt(step / holdout)``. Cost: two boosters of one row per (series, step)
(at most ``max_rows``), about the cost of one of the direct model's three.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import norm

from fcplan.models.features import (
    Grid,
    extend_grid,
    first_observed,
    future_covariates,
    last_value_forecast,
    series_scale,
    tabular_features,
)
from fcplan.models.lgbm import MIN_ROWS, LightGBMQuantile

log = logging.getLogger(__name__)

#: Errors wanted behind each step's quantiles; with fewer series, neighbouring steps pool.
MIN_ERRORS = 40
#: Below this many holdout errors in all, the spread is a normal one from the one-step
#: training residuals (widened by ``sqrt(step)``).
MIN_HOLDOUT_ERRORS = 10


class RecursiveLightGBM(LightGBMQuantile):
    """Global recursive one-step LightGBM; quantiles from its holdout errors."""

    name: ClassVar[str] = "lightgbm_recursive"
    updatable: ClassVar[bool] = False  # its residual errors are per series of the fitted panel

    # ---------------------------------------------------------------- fit
    def _holdout(self, n_past: int) -> int:
        return int(max(1, min(self.params["max_horizon"], n_past // 5)))

    def _one_step_rows(self, grid: Grid, end: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``max_rows`` (series, origin) pairs whose next value is observed before column ``end``."""
        first = first_observed(grid.y[:, :end])
        cols = np.arange(end - 1)
        ok = (cols[None, :] >= first[:, None]) & np.isfinite(grid.y[:, 1:end])
        pairs = np.argwhere(ok)
        if len(pairs) > self.params["max_rows"]:
            pairs = pairs[np.sort(rng.choice(len(pairs), self.params["max_rows"], replace=False))]
        return pairs[:, 0], pairs[:, 1]

    def _train(self, grid: Grid, end: int, rng: np.random.Generator) -> tuple[Any, np.ndarray] | None:
        """A one-step booster on targets before column ``end`` and its scaled residuals (None if
        too few rows)."""
        import lightgbm as lgb

        p = self.params
        rows, origins = self._one_step_rows(grid, end, rng)
        if len(rows) < MIN_ROWS:
            return None
        steps = np.ones(len(rows), dtype=int)
        features, scale, names = tabular_features(grid, self.spec_, rows, origins, steps)
        target = grid.y[rows, origins + 1] / scale
        dataset = lgb.Dataset(features, target, feature_name=names, free_raw_data=False,
                              params={"verbose": -1, "num_threads": p["num_threads"], "max_bin": p["max_bin"]})
        booster = lgb.train(self._booster_params(0.5, p["seed"]), dataset, num_boost_round=p["n_estimators"])
        return booster, target - booster.predict(features)

    def _fit(self, panel: pd.DataFrame) -> None:
        grid = self._layout(panel)
        self.booster_: Any = None
        rng = np.random.default_rng(self.params["seed"])
        n_past = grid.n_past
        holdout = self._holdout(n_past)
        self.errors_ = np.full((len(grid.ids), holdout), np.nan)
        early = self._train(grid, n_past - holdout, rng) if n_past - holdout > 2 else None
        if early is not None:
            past = replace(grid, y=np.where(np.arange(n_past) < n_past - holdout, grid.y, np.nan),
                           n_past=n_past - holdout)
            median, scale = self._recurse(early[0], past, holdout)
            self.errors_ = (grid.y[:, n_past - holdout:] - median) / scale[:, None]
        final = self._train(grid, n_past, rng)
        if final is None:
            log.warning("%s: too few training rows; forecasting each series' last value", self.name)
            return
        self.booster_, residuals = final
        self.residual_std_ = float(np.std(residuals)) if len(residuals) else 0.0

    # ------------------------------------------------------------ predict
    def _recurse(self, booster: Any, grid: Grid, h: int) -> tuple[np.ndarray, np.ndarray]:
        """``(n, h)`` medians, each step fed back as the next one's lag, and the series' scale
        at the origin."""
        y = grid.y.copy()
        n, origin = len(grid.ids), grid.n_past - 1
        rows, ones = np.arange(n), np.ones(n, dtype=int)
        scale0 = series_scale(y[:, : origin + 1])[:, -1]
        for s in range(h):
            stepped = replace(grid, y=y)
            features, scale, _ = tabular_features(stepped, self.spec_, rows, np.full(n, origin + s), ones)
            step = booster.predict(features) * scale
            y[:, origin + s + 1] = np.clip(step, 0.0, None) if self.nonnegative_ else step
        return y[:, origin + 1: origin + 1 + h], scale0

    def _offsets(self, h: int, quantiles: list[float]) -> np.ndarray:
        """``(h, n_q)`` quantiles of the scaled error around the median at each step."""
        errors = self.errors_
        holdout = errors.shape[1]
        finite = int(np.isfinite(errors).sum())
        steps = np.arange(1, h + 1)
        levels = np.asarray(quantiles, dtype="float64")
        if finite < MIN_HOLDOUT_ERRORS:
            return np.sqrt(steps)[:, None] * self.residual_std_ * norm.ppf(levels)[None, :]
        per_step = max(1, finite // holdout)
        width = int(np.ceil(MIN_ERRORS / per_step))
        out = np.empty((h, len(levels)))
        for s in steps:
            at = min(s, holdout)
            lo, hi = max(1, at - width), min(holdout, at + width)
            near = np.arange(lo, hi + 1)
            rescaled = errors[:, near - 1] * np.sqrt(s / near)[None, :]
            values = rescaled[np.isfinite(rescaled)]
            q = np.quantile(values, levels)
            out[s - 1] = q - np.quantile(values, 0.5)
        return out

    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        known = [self.covariates_[j] for j in self.spec_.known]
        future_covariates(future, known, self.name)
        grid = extend_grid(self.grid_, h, self.freq_, future)
        if self.booster_ is None:
            return last_value_forecast(grid, h, len(quantiles))
        median, scale = self._recurse(self.booster_, grid, h)
        offsets = self._offsets(h, quantiles)
        return median[:, :, None] + scale[:, None, None] * offsets[None, :, :]
