"""The one forecaster interface (template method, as AutoGluon's abstract model).

Public ``fit``/``predict_quantiles`` validate and reshape; subclasses implement
only ``_fit`` and ``_predict`` and never override the public methods.

``_predict`` works on arrays: it returns ``(n_series, h, n_quantiles)`` in the
order of ``self.series_ids_``; the base class sorts the last axis (quantiles
never cross), applies the sanity guard and builds the forecast frame.
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fcplan.core.frequency import infer_freq
from fcplan.core.panel import DS, MODEL, UNIQUE_ID, Y, covariate_columns, future_index, validate_future, validate_panel
from fcplan.core.quantiles import quantile_columns

log = logging.getLogger(__name__)

DEFAULT_LEVELS: tuple[float, ...] = (0.1, 0.5, 0.9)


class NotFittedError(RuntimeError):
    pass


class Forecaster(ABC):
    """Base class of every model in the pool.

    Subclasses set ``name`` and implement ``_fit(panel)`` and
    ``_predict(h, future, quantiles) -> ndarray[n_series, h, n_quantiles]``.
    ``__init__`` only stores parameters (``self.params``); fitted state ends in ``_``.
    """

    name: ClassVar[str] = "base"
    #: True when the model uses known-future covariates passed as ``future``.
    uses_covariates: ClassVar[bool] = False
    #: True when :meth:`with_history` can move the fitted model to a newer history.
    updatable: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def train_seconds(self, max_train_s: float | None, default: float) -> float:
        """The training-time cap of an iterative model: the smaller of its ``max_train_s``
        hyperparameter and the ``time_limit`` given to :meth:`fit`; ``default`` when
        neither is set."""
        caps = [c for c in (max_train_s, getattr(self, "time_limit_", None)) if c is not None]
        return float(min(caps)) if caps else float(default)

    # ---------------------------------------------------------------- public
    def fit(self, panel: pd.DataFrame, freq: str | None = None, time_limit: float | None = None) -> Forecaster:
        """Fit on a panel (``unique_id, ds, y`` + numeric covariates).

        ``time_limit``: seconds the fit may spend training (as AutoGluon's
        ``fit(..., time_limit=...)``); models that train iteratively stop by then
        (see :meth:`train_seconds`), the others ignore it."""
        panel = validate_panel(panel)
        self.time_limit_ = time_limit
        self._remember(panel, freq)
        self._fit(panel)
        self.fitted_ = True
        return self

    def with_history(self, panel: pd.DataFrame, freq: str | None = None) -> Forecaster:
        """A copy of this fitted model that keeps what it learned and forecasts from ``panel``
        (typically the same series' history, now longer) instead of the panel it was fitted
        on: a global model fitted on a backtest window's training data forecasts the next
        window without a refit (as AutoGluon-TS does without ``refit_full``). ``panel`` must
        have the covariates it was fitted with. Only models with ``updatable`` do this."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(panel) first")
        if not self.updatable:
            raise NotImplementedError(f"{type(self).__name__} cannot move to a new history: refit it")
        panel = validate_panel(panel)
        if covariate_columns(panel) != self.covariates_:
            raise ValueError(f"{self.name}: the panel's covariates {covariate_columns(panel)} are not the "
                             f"fitted {self.covariates_}; refit it")
        moved = copy.copy(self)
        moved._remember(panel, freq or self.freq_)
        moved._update(panel)
        return moved

    def _remember(self, panel: pd.DataFrame, freq: str | None) -> None:
        """What every model keeps of the panel it forecasts from (series, ends, scales)."""
        self.freq_ = freq or infer_freq(panel)
        self.series_ids_: list[str] = panel[UNIQUE_ID].drop_duplicates().tolist()
        self.last_ds_ = panel.groupby(UNIQUE_ID, sort=False)[DS].max()
        self.covariates_: list[str] = covariate_columns(panel)
        y = panel[Y].to_numpy()
        finite = y[np.isfinite(y)]
        self.nonnegative_ = bool(finite.size == 0 or finite.min() >= 0)
        by_series = panel[Y].abs().groupby(panel[UNIQUE_ID], sort=False)
        self.scale_ = by_series.max().fillna(0.0)
        # the mean of the last 7 observed values: of the last 7 rows it was 0 where those were all empty
        # (a history ending in a week of missing days fell back to a flat 0)
        observed = panel[panel[Y].notna()]
        tails = observed.groupby(UNIQUE_ID, sort=False).tail(7)
        level = tails[Y].groupby(tails[UNIQUE_ID], sort=False).mean()
        self.fallback_level_ = level.reindex(self.series_ids_).fillna(0.0)  # 0: a series never observed

    def predict_quantiles(
        self,
        h: int,
        future: pd.DataFrame | None = None,
        quantiles: Sequence[float] = DEFAULT_LEVELS,
    ) -> pd.DataFrame:
        """Forecast frame ``unique_id, ds, model, "<q>"...`` for the next ``h`` steps.

        ``future`` holds ``unique_id, ds`` and the known-future covariates for
        each series and step; models with ``uses_covariates`` need it when they
        were fitted with covariates.
        """
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(panel) first")
        if h < 1:
            raise ValueError(f"horizon must be at least 1, got {h}")
        levels = [float(q) for q in quantiles]
        index = self._future_frame(h, future)
        values = np.asarray(self._predict(h, index, levels), dtype="float64")
        expected = (len(self.series_ids_), h, len(levels))
        if values.shape != expected:
            raise RuntimeError(f"{self.name}._predict returned shape {values.shape}, expected {expected}")
        values = self._guard(values)
        if self.nonnegative_:
            values = np.clip(values, 0.0, None)
        values = np.sort(values, axis=-1)
        frame = index[[UNIQUE_ID, DS]].copy()
        frame.insert(2, MODEL, self.name)
        frame[quantile_columns(levels)] = values.reshape(-1, len(levels))
        return frame

    # ------------------------------------------------------------ internals
    def _future_frame(self, h: int, future: pd.DataFrame | None) -> pd.DataFrame:
        history_ends = self.last_ds_.rename(DS).reset_index()
        if future is not None:
            frame = validate_future(future, history_ends, h, self.freq_)
        else:
            frame = future_index(history_ends, h, self.freq_)
        # the frame follows history_ends' series (future_index), ds ascending: already in order when
        # those are the model's series in its order (as _remember keeps them)
        if history_ends[UNIQUE_ID].tolist() == self.series_ids_:
            return frame.reset_index(drop=True)
        order = {uid: i for i, uid in enumerate(self.series_ids_)}
        frame = frame.assign(_o=frame[UNIQUE_ID].map(order)).sort_values(["_o", DS], kind="stable")
        return frame.drop(columns="_o").reset_index(drop=True)

    def _guard(self, values: np.ndarray) -> np.ndarray:
        """Sanity guard: a series whose forecast is non-finite or far outside its
        history falls back to its last value repeated (flat), and the log says so;
        ``guarded_`` marks those series."""
        scale = self.scale_.reindex(self.series_ids_).to_numpy(dtype="float64")
        limit = 10.0 * np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        bad = ~np.isfinite(values).all(axis=(1, 2)) | (np.abs(values).max(axis=(1, 2), initial=0) > limit)
        self.guarded_ = bad  # the series of the latest forecast that fell back (an ensemble forecasts them
        # from its other members)
        if bad.any():
            ids = [self.series_ids_[i] for i in np.flatnonzero(bad)]
            log.warning(
                "%s: forecast of %d series far outside their history (e.g. %s); they fall back to a flat baseline",
                self.name,
                len(ids),
                ids[:3],
            )
            values = values.copy()
            values[bad] = self._fallback(bad, values.shape[1], values.shape[2])
        return values

    def _fallback(self, mask: np.ndarray, h: int, n_q: int) -> np.ndarray:
        level = self.fallback_level_.reindex(self.series_ids_).to_numpy(dtype="float64")
        return np.repeat(np.nan_to_num(level[mask])[:, None, None], h, axis=1).repeat(n_q, axis=2)

    # ------------------------------------------------------------- subclass
    @abstractmethod
    def _fit(self, panel: pd.DataFrame) -> None:
        """Fit on a validated, sorted panel (covariates included)."""

    def _update(self, panel: pd.DataFrame) -> None:
        """Take ``panel`` (validated) as the history to forecast from, keeping the fitted
        parameters (see :meth:`with_history`; models with ``updatable`` implement it)."""
        raise NotImplementedError

    @abstractmethod
    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        """Return ``(n_series, h, n_quantiles)`` in ``self.series_ids_`` order.

        ``future`` has ``unique_id, ds`` (+ known-future covariates), sorted in
        that order, ``h`` rows per series.
        """
