"""DeepAR (Salinas et al. 2020) with a negative-binomial likelihood: the adapter.

Training: random windows of ``context_length + prediction_length`` steps from
any series; each window is divided by its scale ``v = 1 + mean(y in the
context)`` (the paper's mean scaling); at step ``t`` the GRU
(:class:`~fcplan.models.neural.modules.DeepARNet`) sees the lagged targets
``y[t - lag] / v`` and their observed flags, the calendar encoding, holiday
flags, known-future covariates at ``t``, past-only covariates at ``t - 1`` and
``log v``, and the loss is the negative-binomial negative log-likelihood of
the observed ``y[t]`` over the whole window (gaps are skipped).

Prediction: the GRU reads the last ``context_length`` steps, then draws
``n_samples`` sample paths ancestrally (each draw fed back as the next lag);
quantiles are taken over the paths. Counts must be non-negative. torch is
imported only when fitting or predicting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fcplan.core.frequency import season_length
from fcplan.core.panel import PanelError
from fcplan.models.base import Forecaster
from fcplan.models.features import Grid, build_grid, first_observed, is_subdaily, last_value_forecast, take
from fcplan.models.neural.windows import prediction_grid, split_covariates, step_features

log = logging.getLogger(__name__)

#: Series per chunk when sampling paths (bounds memory: chunk * n_samples paths).
PREDICT_CHUNK = 256


class DeepAR(Forecaster):
    """Global autoregressive GRU with a negative-binomial output, sampled ancestrally.

    Training cost scales with the data: about ``passes`` passes over the training
    windows (see :func:`fcplan.models.neural.training.step_budget`), at most ``epochs *
    batches_per_epoch`` batches and ``max_train_s`` seconds (5 passes; 10 before, halved with
    :class:`~fcplan.models.neural.mlp.MLPQuantile`'s: births_daily's wQL unchanged)."""

    #: Training-time cap when neither ``max_train_s`` nor ``fit(time_limit=...)`` sets one.
    DEFAULT_TRAIN_S: ClassVar[float] = 120.0
    name: ClassVar[str] = "deepar"
    uses_covariates: ClassVar[bool] = True

    def __init__(
        self,
        context_length: int | None = None,
        prediction_length: int = 28,
        lags: Sequence[int] | None = None,
        hidden: int = 32,
        n_layers: int = 2,
        dropout: float = 0.1,
        epochs: int = 30,
        batches_per_epoch: int = 50,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        passes: float | None = 5.0,
        n_samples: int = 100,
        past_covariates: Sequence[str] = (),
        country: str | None = None,
        max_history: int = 730,
        max_train_s: float | None = None,
        num_threads: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(
            context_length=context_length, prediction_length=prediction_length,
            lags=None if lags is None else tuple(lags), hidden=hidden, n_layers=n_layers, dropout=dropout,
            epochs=epochs, batches_per_epoch=batches_per_epoch, batch_size=batch_size,
            learning_rate=learning_rate, passes=passes, n_samples=n_samples,
            past_covariates=tuple(past_covariates),
            country=country, max_history=max_history, max_train_s=max_train_s, num_threads=num_threads,
            seed=seed,
        )

    # ------------------------------------------------------------ arrays
    def _setup(self) -> None:
        p, season = self.params, season_length(self.freq_)
        self.context_ = int(p["context_length"] or max(28, 2 * season))
        lags = p["lags"] if p["lags"] is not None else (1, season, 2 * season)
        self.lags_ = sorted({int(lag) for lag in lags if lag >= 1})
        self.known_idx_, self.past_idx_ = split_covariates(self.covariates_, p["past_covariates"])
        self.known_ = [self.covariates_[j] for j in self.known_idx_]

    def _steps(self, grid: Grid) -> np.ndarray:
        """``(n, T, E)`` exogenous inputs of every step."""
        return step_features(grid, self.known_idx_, self.past_idx_, is_subdaily(self.freq_),
                             self.params["country"])

    def _inputs(self, lagged: np.ndarray, exo: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``lagged (B, T, L)`` raw lagged targets, ``exo (B, T, E)``, ``v (B,)`` -> ``(B, T, F)``."""
        scaled = lagged / v[:, None, None]
        log_v = np.broadcast_to(np.log(v)[:, None, None], (*lagged.shape[:2], 1))
        return np.concatenate(
            [np.nan_to_num(scaled), np.isfinite(scaled).astype(float), np.nan_to_num(exo), log_v], axis=-1
        )

    def _window(self, grid: Grid, exo: np.ndarray, rows: np.ndarray,
                cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs ``(B, W, F)``, targets ``(B, W)`` (NaN unobserved) and scale ``v (B,)`` of
        windows whose columns are ``cols (B, W)``; the first ``context_`` columns set ``v``."""
        r = rows[:, None]
        target = take(grid.y, r, cols)
        context = target[:, : self.context_]
        count = np.isfinite(context).sum(axis=1)
        v = 1.0 + np.where(count > 0, np.nansum(context, axis=1) / np.maximum(count, 1), 0.0)
        lagged = np.stack([take(grid.y, r, cols - lag) for lag in self.lags_], axis=-1)
        return self._inputs(lagged, take(exo, r, cols), v), target, v

    # ---------------------------------------------------------------- fit
    def _fit(self, panel: pd.DataFrame) -> None:
        import torch

        from fcplan.models.neural.modules import DeepARNet, negbin_log_prob
        from fcplan.models.neural.training import fit_network

        if not self.nonnegative_:
            raise PanelError(
                "deepar uses a negative-binomial likelihood and needs non-negative counts, but the panel's "
                f"y has negative values (min {panel['y'].min():g}); use lightgbm or mlp for such series"
            )
        p = self.params
        torch.set_num_threads(p["num_threads"])
        self._setup()
        self.grid_ = build_grid(panel, self.series_ids_, self.freq_, self.covariates_, p["max_history"])
        exo = self._steps(self.grid_)
        width = self.context_ + p["prediction_length"]
        n_past = self.grid_.n_past
        first = first_observed(self.grid_.y)
        # window ends (exclusive) from two steps after a series starts to the end of its past
        ends = np.argwhere(np.arange(1, n_past + 1)[None, :] >= first[:, None] + 2)
        self.net_: Any = None
        if len(ends) < 2:
            log.warning("%s: too little history to train; forecasting each series' last value", self.name)
            return
        n_inputs = self._window(self.grid_, exo, ends[:1, 0], ends[:1, 1:2] + 1 - width + np.arange(width))[
            0
        ].shape[-1]
        torch.manual_seed(p["seed"])
        net = DeepARNet(n_inputs, p["hidden"], p["n_layers"], p["dropout"])

        def batch_loss(model: Any, rng: np.random.Generator) -> Any:
            pick = ends[rng.integers(len(ends), size=p["batch_size"])]
            cols = pick[:, 1:2] + 1 - width + np.arange(width)[None, :]
            x, target, v = self._window(self.grid_, exo, pick[:, 0], cols)
            mu, alpha, _ = model(torch.as_tensor(x, dtype=torch.float32),
                                 torch.as_tensor(v[:, None], dtype=torch.float32))
            mask = torch.as_tensor(np.isfinite(target))
            log_prob = negbin_log_prob(torch.as_tensor(np.nan_to_num(target)), mu, alpha)
            return -(log_prob * mask).sum() / mask.sum().clamp_min(1)

        train_s = self.train_seconds(p["max_train_s"], self.DEFAULT_TRAIN_S)
        self.loss_history_ = fit_network(net, batch_loss, len(ends), {**p, "max_train_s": train_s}, self.name)
        self.net_ = net

    # ------------------------------------------------------------ predict
    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        import torch

        grid = prediction_grid(self, h, future)
        if self.net_ is None:
            return last_value_forecast(grid, h, len(quantiles))
        torch.set_num_threads(self.params["num_threads"])
        exo = self._steps(grid)
        n = len(self.series_ids_)
        out = np.empty((n, h, len(quantiles)))
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(self.params["seed"])
            for start in range(0, n, PREDICT_CHUNK):
                rows = np.arange(start, min(start + PREDICT_CHUNK, n))
                paths = self._sample_paths(grid, exo, rows, h)
                out[rows] = np.quantile(paths, quantiles, axis=1).transpose(1, 2, 0)
        return out

    def _sample_paths(self, grid: Grid, exo: np.ndarray, rows: np.ndarray, h: int) -> np.ndarray:
        """``(len(rows), n_samples, h)`` sample paths after each series' last observation."""
        import torch

        s, n_past, max_lag = self.params["n_samples"], grid.n_past, max(self.lags_)
        cols = n_past - self.context_ + np.arange(self.context_)[None, :].repeat(len(rows), axis=0)
        x, _, v = self._window(grid, exo, rows, cols)
        v_t = torch.as_tensor(v[:, None], dtype=torch.float32)
        _, _, state = self.net_(torch.as_tensor(x, dtype=torch.float32), v_t)
        state = state.repeat_interleave(s, dim=1)
        v_rep = np.repeat(v, s)
        v_rep_t = v_t.repeat_interleave(s, dim=0)
        # buffer: the last max_lag observed values, then the sampled future, per path
        recent = take(grid.y, rows[:, None], n_past - max_lag + np.arange(max_lag)[None, :])
        buffer = np.repeat(recent, s, axis=0)
        buffer = np.concatenate([buffer, np.zeros((len(buffer), h))], axis=1)
        exo_rep = np.repeat(exo[rows][:, n_past:], s, axis=0)
        for k in range(h):
            lagged = np.stack([buffer[:, max_lag + k - lag] for lag in self.lags_], axis=-1)[:, None, :]
            step = self._inputs(lagged, exo_rep[:, k : k + 1], v_rep)
            mu, alpha, state = self.net_(torch.as_tensor(step, dtype=torch.float32), v_rep_t, state)
            buffer[:, max_lag + k] = _draw(mu[:, 0], alpha[:, 0])
        return buffer[:, max_lag:].reshape(len(rows), s, h)


def _draw(mu: Any, alpha: Any) -> np.ndarray:
    from fcplan.models.neural.modules import negbin_sample

    return negbin_sample(mu.double(), alpha.double()).numpy()
