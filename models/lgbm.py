"""Global LightGBM quantile regression, trained across all series (as the M5 winners).

Direct multi-horizon: one row per (series, origin, step) with the step as a
feature, the target scaled by the series' scale at the origin (see
:func:`fcplan.models.features.tabular_features`). Direct rather than recursive because
each quantile model then learns the spread *at that step* from real errors; a
recursive model fed its own median would forecast intervals that do not widen
with the horizon, and it accumulates its bias. One booster per quantile level
of ``levels`` (``objective="quantile", alpha=q``); other requested levels are
interpolated in normal-score space.

Covariates: all numeric covariates of the fitted panel are *known-future* (they
enter at the target date), except those named in ``past_covariates``, which
enter only as values at the origin. ``yearly=True`` adds last year's value around the target date
(relative to last year's level at the origin; see :func:`fcplan.models.features.tabular_features`);
``None`` (default) turns it on when the longest series covers two years (on 1,000 weekly
series of 2+ years it lowered wQL by 1.5%; on 600-day daily panels it moved it by 2% either way).

Cost is bounded by the data: at most ``max_rows`` training rows, ``n_estimators`` trees for
each of the ``levels``, histograms of ``max_bin`` bins. The defaults (50,000 rows, 3 levels,
63 bins) fit 1,000 weekly series 4-5x faster than (100,000, 7, 255); wQL within 1% on
simulated daily, online-retail and weekly panels.
``train_horizon``: the steps the boosters learn (default: twice ``max_horizon`` on one short
series, see :data:`SMALL_PANEL_STEPS`); only the first ``max_horizon`` are forecast without a warning.
``seeds`` > 1 grows that many boosters per level on the same rows, each with another seed (its
row and feature subsampling), and averages their quantiles, at ``seeds`` times the training
cost. Off (1) by default: three seeds lowered the wQL of LightGBM alone (fit on each dev-suite
window's history) by 8 % on tuna_weekly, 2 % on cheese_weekly and 1 % on 300 simulated weekly
series, but tripled its time on the small panels where it helped; three boosters of 34 trees at
a learning rate of 0.3 (the cost of one) helped the weekly panels less and made elec_hourly,
flights_origin_daily and flights_sparse_daily 3-6 % worse.
Known covariates also enter ``event_window`` steps before and after the target date
(an event's lead and lag: pre-holiday build-up, post-promotion dip).
A known covariate missing from ``future`` at prediction time is taken as 0 with a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fcplan.core.frequency import season_length
from fcplan.core.panel import PanelError
from fcplan.models.base import Forecaster
from fcplan.models.features import (
    Grid,
    TabularSpec,
    build_grid,
    extend_grid,
    first_observed,
    future_covariates,
    interpolate_levels,
    is_subdaily,
    last_value_forecast,
    tabular_features,
    year_length,
)

log = logging.getLogger(__name__)

#: Below this many training rows the model forecasts each series' last value.
MIN_ROWS = 20
#: One series whose origins x this many times ``max_horizon`` steps fit in ``max_rows`` trains its
#: boosters on that many steps (``train_horizon``; the step feature runs on): the steps past the
#: horizon add rows of the same origins and target dates (a holiday is a target twice as often), at
#: about 1.4x the fit's time. Engine on the short single daily series (h=14, 3 windows;
#: benchmarks/DEVSUITE.md, session 17): hyndsight_daily wQL -1.8 %, births_2y -16 %, elec_daily -4 %,
#: births_short -4 %, the others within 1.3 %. Not on panels of several series: tuna_weekly +6.7 %,
#: flights_origin_daily (3 series) +2.0 %.
SMALL_PANEL_STEPS = 2


class LightGBMQuantile(Forecaster):
    """Global direct multi-horizon LightGBM, one booster per quantile level."""

    #: Training-time cap when neither ``max_train_s`` nor ``fit(time_limit=...)`` sets one.
    DEFAULT_TRAIN_S: ClassVar[float] = 120.0
    name: ClassVar[str] = "lightgbm"
    uses_covariates: ClassVar[bool] = True
    updatable: ClassVar[bool] = True

    def __init__(
        self,
        levels: Sequence[float] = (0.1, 0.5, 0.9),
        max_horizon: int = 28,
        lags: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 14, 21, 28),
        n_seasonal: int = 4,
        past_covariates: Sequence[str] = (),
        country: str | None = None,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_data_in_leaf: int = 20,
        max_rows: int = 50_000,
        max_history: int = 730,
        max_train_s: float | None = None,
        num_threads: int = 1,
        seed: int = 0,
        yearly: bool | None = None,
        max_bin: int = 63,
        event_window: int = 2,
        seeds: int = 1,
        train_horizon: int | None = None,
    ) -> None:
        super().__init__(
            train_horizon=train_horizon, seeds=seeds, yearly=yearly, max_bin=max_bin, event_window=event_window,
            levels=tuple(levels),
            max_horizon=max_horizon, lags=tuple(lags), n_seasonal=n_seasonal,
            past_covariates=tuple(past_covariates), country=country, n_estimators=n_estimators,
            learning_rate=learning_rate, num_leaves=num_leaves, min_data_in_leaf=min_data_in_leaf,
            max_rows=max_rows, max_history=max_history, max_train_s=max_train_s,
            num_threads=num_threads, seed=seed,
        )

    # ---------------------------------------------------------------- fit
    def _spec(self) -> TabularSpec:
        p = self.params
        unknown = [c for c in p["past_covariates"] if c not in self.covariates_]
        if unknown:
            raise PanelError(
                f"past_covariates {unknown} are not columns of the panel (covariates: {self.covariates_}); "
                "fix the names or drop them"
            )
        past = tuple(j for j, c in enumerate(self.covariates_) if c in p["past_covariates"])
        known = tuple(j for j in range(len(self.covariates_)) if j not in past)
        return TabularSpec(
            lags=p["lags"], season=season_length(self.freq_), n_seasonal=p["n_seasonal"], known=known,
            past=past, subdaily=is_subdaily(self.freq_), country=p["country"],
            year=year_length(self.freq_) if self._yearly() else 0, event_window=p["event_window"],
        )

    def _yearly(self) -> bool:
        if self.params["yearly"] is not None:
            return bool(self.params["yearly"])
        return self.span_ >= 2 * year_length(self.freq_) > 0

    def _training_rows(self, grid: Grid, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Sample up to ``max_rows`` (series, origin, step) triples whose target is observed."""
        n_past = grid.n_past
        first = first_observed(grid.y[:, :n_past])
        origin_ok = (np.arange(n_past)[None, :] >= first[:, None]) & (np.arange(n_past)[None, :] < n_past - 1)
        pairs = np.argwhere(origin_ok)
        n_steps = self.train_horizon_ = self._train_horizon(len(pairs), grid.y.shape[0])
        total = len(pairs) * n_steps
        if total == 0:
            return np.array([], int), np.array([], int), np.array([], int)
        pick = np.arange(total) if total <= self.params["max_rows"] else np.sort(
            rng.choice(total, self.params["max_rows"], replace=False)
        )
        rows, origins = pairs[pick // n_steps, 0], pairs[pick // n_steps, 1]
        steps = pick % n_steps + 1
        keep = origins + steps < n_past
        keep[keep] = np.isfinite(grid.y[rows[keep], origins[keep] + steps[keep]])
        return rows[keep], origins[keep], steps[keep]

    def _train_horizon(self, origins: int, n_series: int) -> int:
        """Steps the boosters learn: ``train_horizon``, or by default :data:`SMALL_PANEL_STEPS` x
        ``max_horizon`` for one series whose ``origins`` x that many rows fit in ``max_rows``, else
        ``max_horizon``."""
        p = self.params
        if p.get("train_horizon") is not None:  # a model pickled before the param: None
            return max(int(p["train_horizon"]), p["max_horizon"])
        wide = SMALL_PANEL_STEPS * p["max_horizon"]
        return wide if n_series == 1 and origins * wide <= p["max_rows"] else p["max_horizon"]

    def _layout(self, panel: pd.DataFrame) -> Grid:
        """The panel's :class:`Grid` (kept for prediction), its span and feature spec."""
        grid = build_grid(panel, self.series_ids_, self.freq_, self.covariates_, self.params["max_history"])
        self.span_ = int(np.isfinite(grid.y).any(axis=0).sum())
        self.spec_ = self._spec()
        self.grid_ = grid
        return grid

    def _fit(self, panel: pd.DataFrame) -> None:
        import lightgbm as lgb

        p = self.params
        grid = self._layout(panel)
        rng = np.random.default_rng(p["seed"])
        rows, origins, steps = self._training_rows(grid, rng)
        self.boosters_: dict[float, list[Any]] = {}
        if len(rows) < MIN_ROWS:
            log.warning("%s: only %d training rows; forecasting each series' last value",
                        self.name, len(rows))
            return
        features, scale, names = tabular_features(grid, self.spec_, rows, origins, steps, self.train_horizon_)
        target = grid.y[rows, origins + steps] / scale
        self.feature_names_ = names
        seeds = max(1, int(p["seeds"]))
        jobs = [(q, k) for q in p["levels"] for k in range(seeds)]
        # the Dataset's binning params are the first booster's, as lgb.train merges them into an
        # unconstructed Dataset; constructed here once, each booster only reads it
        first = self._booster_params(jobs[0][0], p["seed"])
        dataset = lgb.Dataset(features, target, feature_name=names, free_raw_data=False,
                              params={"verbose": -1, "num_threads": p["num_threads"], "max_bin": p["max_bin"],
                                      **first, "num_iterations": p["n_estimators"]}).construct()
        budget = self.train_seconds(p["max_train_s"], self.DEFAULT_TRAIN_S) / len(p["levels"]) / seeds

        def train(job: tuple[float, int]) -> Any:
            q, k = job
            return lgb.train(self._booster_params(q, p["seed"] + k), dataset, num_boost_round=p["n_estimators"],
                             callbacks=[_stop_at(time.perf_counter() + budget)])

        for (q, _), booster in zip(jobs, _map_boosters(train, jobs, p["num_threads"]), strict=True):
            self.boosters_.setdefault(q, []).append(booster)

    def _booster_params(self, q: float, seed: int) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "quantile", "alpha": q, "learning_rate": p["learning_rate"],
            "num_leaves": p["num_leaves"], "min_data_in_leaf": p["min_data_in_leaf"],
            "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
            "num_threads": p["num_threads"], "seed": seed, "deterministic": True,
            "force_row_wise": True, "verbose": -1,
        }

    def _update(self, panel: pd.DataFrame) -> None:
        # the feature spec (and the span it was chosen on) stays the boosters'
        self.grid_ = build_grid(panel, self.series_ids_, self.freq_, self.covariates_, self.params["max_history"])

    # ------------------------------------------------------------ predict
    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        known = [self.covariates_[j] for j in self.spec_.known]
        future_covariates(future, known, self.name)
        grid = extend_grid(self.grid_, h, self.freq_, future)
        n = len(self.series_ids_)
        if not self.boosters_:
            return last_value_forecast(grid, h, len(quantiles))
        if h > self.params["max_horizon"]:
            log.warning("%s: h=%d exceeds max_horizon=%d; steps beyond it reuse the last step's model "
                        "(refit with a larger max_horizon)", self.name, h, self.params["max_horizon"])
        rows = np.repeat(np.arange(n), h)
        origins = np.full(n * h, grid.n_past - 1)
        steps = np.tile(np.arange(1, h + 1), n)
        features, scale, _ = tabular_features(grid, self.spec_, rows, origins, steps,
                                              getattr(self, "train_horizon_", self.params["max_horizon"]))
        levels = sorted(self.boosters_)
        values = np.stack([np.mean([b.predict(features) for b in self.boosters_[q]], axis=0) for q in levels],
                          axis=-1) * scale[:, None]
        return interpolate_levels(values, levels, quantiles).reshape(n, h, len(quantiles))


#: Boosters of one fit trained at once, each in a thread of its own (LightGBM frees the GIL while it
#: grows a tree), where each booster uses one thread (``num_threads=1``, the default) and the
#: machine has more than one core: when the engine's other process leaves a core idle (its share
#: of a backtest window done, or the final fit's other members cheap), this process's boosters use
#: it. Each booster reads the same constructed Dataset and grows its trees alone, with its own seed,
#: so the boosters are the same as one after the other (deterministic: ``deterministic=True``).
PARALLEL_BOOSTERS = True


def _map_boosters(train: Callable[[Any], Any], jobs: Sequence[Any], num_threads: int) -> list[Any]:
    """``[train(job) for job in jobs]``, in threads where :data:`PARALLEL_BOOSTERS` allows."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    if not PARALLEL_BOOSTERS or len(jobs) < 2 or num_threads != 1 or (os.cpu_count() or 1) < 2:
        return [train(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="fcplan-booster") as pool:
        return list(pool.map(train, jobs))


def _stop_at(deadline: float) -> Callable[[Any], None]:
    """A LightGBM callback that stops boosting once ``time.perf_counter()`` passes ``deadline``."""
    import lightgbm as lgb

    def callback(env: Any) -> None:
        if time.perf_counter() > deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    return callback
