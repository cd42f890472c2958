"""Global quantile MLP: the adapter (frames -> tensors -> forecast arrays).

One sample per (series, origin): the last ``context_length`` values scaled by
the series' scale at the origin (mean ``|y|`` over its last 28 steps),
their observed flags, the covariates over the context, the known-future
covariates and holidays of the next ``max_horizon`` steps, the calendar of the
first target step and ``log1p(scale)``. The network
(:class:`~fcplan.models.neural.modules.MLPQuantileNet`) outputs all ``levels`` for all
``max_horizon`` steps at once, non-crossing by construction, trained with the
pinball loss across all series. Horizons beyond ``max_horizon`` are forecast
block by block, feeding the median back (intervals then do not widen: refit
with a larger ``max_horizon`` instead). torch is imported only when fitting or
predicting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fcplan.core.calendar import HOLIDAY_COLUMNS
from fcplan.core.frequency import season_length
from fcplan.models.base import Forecaster
from fcplan.models.features import (
    Grid,
    build_grid,
    interpolate_levels,
    is_subdaily,
    last_value_forecast,
    series_scale,
)
from fcplan.models.neural.windows import origin_pairs, prediction_grid, split_covariates, step_features

log = logging.getLogger(__name__)

DEFAULT_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


class MLPQuantile(Forecaster):
    """Global multi-horizon quantile MLP trained with the pinball loss.

    Training cost scales with the data: about ``passes`` passes over the training
    windows (see :func:`fcplan.models.neural.training.step_budget`), at most ``epochs *
    batches_per_epoch`` batches (500 by default, the budget of a large panel: more on
    mid-size panels cost 40 % of flights_sparse_daily's CPU time for no better wQL) and
    ``max_train_s`` seconds. 10 passes (20 before), fcplan alone on the dev suite, 3 windows
    each: wQL tuna_weekly 0.2317 -> 0.2284, cheese_weekly 0.1415 -> 0.1408, flights_sparse_daily
    0.3194 -> 0.3203, the other panels unchanged (no network weight there); CPU a window
    flights_sparse 19.1 -> 17.1 s, cheese 8.0 -> 6.1 s. Large panels keep their 500 batches."""

    #: Training-time cap when neither ``max_train_s`` nor ``fit(time_limit=...)`` sets one.
    DEFAULT_TRAIN_S: ClassVar[float] = 60.0
    name: ClassVar[str] = "mlp"
    uses_covariates: ClassVar[bool] = True
    updatable: ClassVar[bool] = True

    def __init__(
        self,
        max_horizon: int = 28,
        context_length: int | None = None,
        levels: Sequence[float] = DEFAULT_LEVELS,
        hidden: int = 64,
        n_layers: int = 2,
        dropout: float = 0.0,
        epochs: int = 10,
        batches_per_epoch: int = 50,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        passes: float | None = 10.0,
        past_covariates: Sequence[str] = (),
        country: str | None = None,
        max_history: int = 730,
        max_train_s: float | None = None,
        num_threads: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(
            max_horizon=max_horizon, context_length=context_length, levels=tuple(levels), hidden=hidden,
            n_layers=n_layers, dropout=dropout, epochs=epochs, batches_per_epoch=batches_per_epoch,
            batch_size=batch_size, learning_rate=learning_rate, passes=passes,
            past_covariates=tuple(past_covariates),
            country=country, max_history=max_history, max_train_s=max_train_s, num_threads=num_threads,
            seed=seed,
        )

    # ------------------------------------------------------------ arrays
    def _context(self) -> int:
        """``context_length``, by default four seasons (at least 28 steps) but no more than
        the fitted history (older steps would be padding in every sample); once fitted, the
        network's (kept by :meth:`with_history`)."""
        fixed = getattr(self, "context_", None)
        if fixed:
            return int(fixed)
        given = self.params["context_length"]
        if given:
            return int(given)
        return max(28, min(4 * season_length(self.freq_), self.grid_.n_past))

    def _samples(
        self, grid: Grid, steps: tuple[np.ndarray, np.ndarray], scales: np.ndarray, rows: np.ndarray,
        origins: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inputs ``(B, F)``, scale ``(B,)``, scaled targets and observed mask ``(B, H)`` of
        the samples at (``rows``, ``origins``); ``steps`` from :meth:`_step_features`,
        ``scales`` ``(n, T)`` from :func:`series_scale`."""
        return self._padded(grid, steps).samples(scales, rows, origins)

    def _padded(self, grid: Grid, steps: tuple[np.ndarray, np.ndarray]) -> _Padded:
        """The arrays :meth:`_samples` gathers from, padded once (see :class:`_Padded`)."""
        return _Padded.of(grid, steps, self._context(), self.params["max_horizon"])

    def _step_features(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """Per-step inputs: calendar encoding ``(n, T, E)`` and holidays + known-future
        covariates ``(n, T, K)``."""
        steps = step_features(grid, self.known_idx_, [], is_subdaily(self.freq_), self.params["country"])
        n_known = len(self.known_idx_) + (len(HOLIDAY_COLUMNS) if self.params["country"] else 0)
        split = steps.shape[-1] - n_known
        return np.ascontiguousarray(steps[..., :split]), np.ascontiguousarray(steps[..., split:])

    def _layout(self, n_known: int) -> tuple[int, int]:
        """Where the known-future inputs ``(H, n_known)`` sit in a sample of :meth:`_samples`:
        ``(first column, number of columns)``."""
        context = self._context()
        return context * (2 + len(self.covariates_)), self.params["max_horizon"] * n_known

    def _network(self, n_inputs: int, n_known: int) -> Any:
        """The torch module mapping samples ``(B, n_inputs)`` to ``(B, H, Q)``."""
        from fcplan.models.neural.modules import MLPQuantileNet

        p = self.params
        return MLPQuantileNet(n_inputs, p["max_horizon"], len(p["levels"]), p["hidden"], p["n_layers"], p["dropout"])

    # ---------------------------------------------------------------- fit
    def _fit(self, panel: pd.DataFrame) -> None:
        import torch

        from fcplan.models.neural.modules import pinball_loss
        from fcplan.models.neural.training import fit_network

        p = self.params
        torch.set_num_threads(p["num_threads"])
        self.context_: int | None = None
        self.grid_ = build_grid(panel, self.series_ids_, self.freq_, self.covariates_, p["max_history"])
        self.context_ = self._context()
        self.known_idx_, _ = split_covariates(self.covariates_, p["past_covariates"])
        self.known_ = [self.covariates_[j] for j in self.known_idx_]
        steps = self._step_features(self.grid_)
        scales = series_scale(self.grid_.y)
        pairs = origin_pairs(self.grid_)
        self.net_: Any = None
        if len(pairs) < 2:
            log.warning("%s: too little history to train; forecasting each series' last value", self.name)
            return
        padded = self._padded(self.grid_, steps)
        probe = padded.samples(scales, pairs[:1, 0], pairs[:1, 1])[0]
        torch.manual_seed(p["seed"])
        net = self._network(probe.shape[1], steps[1].shape[-1])
        levels = torch.tensor(sorted(p["levels"]), dtype=torch.float32)

        def batch_loss(model: Any, rng: np.random.Generator) -> Any:
            pick = pairs[rng.integers(len(pairs), size=p["batch_size"])]
            x, _, target, mask = padded.samples(scales, pick[:, 0], pick[:, 1])
            pred = model(torch.as_tensor(x, dtype=torch.float32))
            return pinball_loss(pred, torch.as_tensor(target, dtype=torch.float32),
                                torch.as_tensor(mask, dtype=torch.float32), levels)

        train_s = self.train_seconds(p["max_train_s"], self.DEFAULT_TRAIN_S)
        self.loss_history_ = fit_network(net, batch_loss, len(pairs), {**p, "max_train_s": train_s}, self.name)
        self.net_ = net

    def _update(self, panel: pd.DataFrame) -> None:
        self.grid_ = build_grid(panel, self.series_ids_, self.freq_, self.covariates_, self.params["max_history"])

    # ------------------------------------------------------------ predict
    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        import torch

        grid = prediction_grid(self, h, future)
        if self.net_ is None:
            return last_value_forecast(grid, h, len(quantiles))
        torch.set_num_threads(self.params["num_threads"])
        steps = self._step_features(grid)
        horizon, levels = self.params["max_horizon"], sorted(self.params["levels"])
        if h > horizon:
            log.warning("%s: h=%d exceeds max_horizon=%d; later steps feed back the median and their "
                        "intervals do not widen (refit with a larger max_horizon)", self.name, h, horizon)
        n = len(self.series_ids_)
        rows = np.arange(n)
        out = np.empty((n, h, len(levels)))
        done = 0
        while done < h:
            origins = np.full(n, grid.n_past - 1 + done)
            x, scale, _, _ = self._samples(grid, steps, series_scale(grid.y), rows, origins)
            with torch.no_grad():
                pred = self.net_(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
            width = min(horizon, h - done)
            out[:, done : done + width] = pred[:, :width] * scale[:, None, None]
            median = interpolate_levels(out[:, done : done + width], levels, [0.5])[..., 0]
            grid.y[:, grid.n_past + done : grid.n_past + done + width] = median
            done += width
        return interpolate_levels(out, levels, quantiles)


@dataclass(frozen=True)
class _Padded:
    """A grid's arrays as :meth:`MLPQuantile._samples` reads them, padded once so that a
    batch is plain gathers: ``y`` with ``context`` NaN columns before and ``horizon + 1``
    after (the steps outside the grid read as unobserved), the covariates, known-future steps and
    calendar with zeros there and NaN replaced as the samples have them (``nan_to_num``).
    Gives the same samples as gathering from the grid with :func:`take`, without its
    bounds checks on every batch (most of a network's training time on many series)."""

    y: np.ndarray
    x: np.ndarray
    known: np.ndarray
    calendar: np.ndarray
    context: int
    horizon: int

    @classmethod
    def of(cls, grid: Grid, steps: tuple[np.ndarray, np.ndarray], context: int, horizon: int) -> _Padded:
        calendar, known = steps
        lead, tail = context, horizon + 1

        def pad(values: np.ndarray, fill: float) -> np.ndarray:
            out = np.full((values.shape[0], lead + values.shape[1] + tail, *values.shape[2:]), fill)
            out[:, lead : lead + values.shape[1]] = values
            return out

        return cls(pad(grid.y, np.nan), pad(np.nan_to_num(grid.x), 0.0), pad(np.nan_to_num(known), 0.0),
                   pad(np.nan_to_num(calendar), 0.0), context, horizon)

    def samples(
        self, scales: np.ndarray, rows: np.ndarray, origins: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """See :meth:`MLPQuantile._samples`."""
        scale = scales[rows, origins]
        width = self.y.shape[1]
        at = rows * width + origins + self.context  # the origin's cell in the flattened padded arrays
        ctx = at[:, None] - np.arange(self.context - 1, -1, -1)[None, :]
        tgt = at[:, None] + 1 + np.arange(self.horizon)[None, :]
        y = self.y.reshape(-1)
        lags = y.take(ctx) / scale[:, None]
        parts = [
            np.nan_to_num(lags), np.isfinite(lags).astype(float),
            _flat(self.x).take(ctx, axis=0).reshape(len(rows), -1),
            _flat(self.known).take(tgt, axis=0).reshape(len(rows), -1),
            _flat(self.calendar).take(at + 1, axis=0),
            np.log1p(scale)[:, None],
        ]
        target = y.take(tgt) / scale[:, None]
        mask = np.isfinite(target)
        return np.concatenate(parts, axis=1), scale, np.nan_to_num(target), mask.astype(float)


def _flat(values: np.ndarray) -> np.ndarray:
    """``(n, T, k) -> (n * T, k)`` (a view of a contiguous array)."""
    return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])
