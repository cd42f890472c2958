"""Frames-to-arrays helpers shared by the neural adapters (numpy only, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fcplan.core.panel import PanelError
from fcplan.models.features import Grid, extend_grid, first_observed, future_covariates, holiday_matrix, time_encoding


def split_covariates(covariates: Sequence[str], past: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of (known-future, past-only) covariates; every covariate not named in
    ``past`` is known-future."""
    unknown = [c for c in past if c not in covariates]
    if unknown:
        raise PanelError(
            f"past_covariates {unknown} are not columns of the panel (covariates: {list(covariates)}); "
            "fix the names or drop them"
        )
    past_idx = [j for j, c in enumerate(covariates) if c in past]
    return [j for j in range(len(covariates)) if j not in past_idx], past_idx


def step_features(
    grid: Grid, known: Sequence[int], past: Sequence[int], subdaily: bool, country: str | None
) -> np.ndarray:
    """``(n, T, E)`` per-step exogenous inputs: calendar encoding, holiday flags,
    known-future covariates at the step, past-only covariates one step earlier."""
    parts = [time_encoding(grid.dates, subdaily), holiday_matrix(grid.dates, country), grid.x[..., list(known)]]
    if past:
        lagged = np.zeros_like(grid.x[..., list(past)])
        lagged[:, 1:] = grid.x[:, :-1, list(past)]
        parts.append(lagged)
    return np.concatenate(parts, axis=-1).astype("float64")


def origin_pairs(grid: Grid, min_targets: int = 1) -> np.ndarray:
    """``(P, 2)`` (row, column) of every origin from a series' first observation up to
    ``min_targets`` steps before the end of the past."""
    n_past = grid.n_past
    first = first_observed(grid.y[:, :n_past])
    cols = np.arange(n_past)[None, :]
    return np.argwhere((cols >= first[:, None]) & (cols <= n_past - 1 - min_targets))


def prediction_grid(model: Any, h: int, future: Any) -> Grid:
    """The fitted grid of a neural model extended by ``h`` steps with the known-future
    covariates of ``future`` (checked against the ones it was fitted with)."""
    future_covariates(future, model.known_, model.name)
    return extend_grid(model.grid_, h, model.freq_, future)
