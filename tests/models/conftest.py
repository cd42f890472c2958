"""Factories of small panels for the model tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _series(
    uid: str, length: int, freq: str, start: str, rng: np.random.Generator, level: float
) -> pd.DataFrame:
    ds = pd.date_range(start, periods=length, freq=freq)
    t = np.arange(length)
    y = rng.poisson(level * (1 + 0.4 * np.sin(2 * np.pi * t / 7))).astype(float)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


@pytest.fixture
def make_panel() -> Callable[..., pd.DataFrame]:
    """``make_panel(n_series=2, length=70, freq="D", start="2024-01-03", seed=0, promo=False)``."""

    def make(
        n_series: int = 2,
        length: int = 70,
        freq: str = "D",
        start: str = "2024-01-03",
        seed: int = 0,
        promo: bool = False,
    ) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frames = [_series(f"fc{i}", length, freq, start, rng, 20.0 + 10 * i) for i in range(n_series)]
        panel = pd.concat(frames, ignore_index=True)
        if promo:
            panel["promo"] = (rng.random(len(panel)) < 0.15).astype(float)
            panel["y"] = panel["y"] + 15.0 * panel["promo"]
        return panel

    return make


@pytest.fixture
def make_awkward_panel() -> Callable[[], pd.DataFrame]:
    """Awkward ids, uneven lengths, gaps, a constant, an all-zero and a 3-point series."""

    def make() -> pd.DataFrame:
        rng = np.random.default_rng(1)
        long = _series("a b/ç", 60, "D", "2024-01-01", rng, 30.0)
        gappy = _series("1", 45, "D", "2024-01-10", rng, 10.0).drop(index=[5, 6, 20])
        numeric = _series("0.5", 3, "D", "2024-02-25", rng, 5.0)
        constant = _series("const", 30, "D", "2024-01-31", rng, 1.0).assign(y=4.0)
        zeros = _series("zero", 40, "D", "2024-01-21", rng, 1.0).assign(y=0.0)
        return pd.concat([long, gappy, numeric, constant, zeros], ignore_index=True)

    return make


@pytest.fixture
def make_future() -> Callable[..., pd.DataFrame]:
    """``make_future(panel, horizon, freq="D", **covariate_values)``: the rows after each series' end."""
    from fcplan.core.panel import future_index

    def make(panel: pd.DataFrame, horizon: int, freq: str = "D", **covariates: float) -> pd.DataFrame:
        future = future_index(panel, horizon, freq)
        for name, value in covariates.items():
            future[name] = value
        return future

    return make


@pytest.fixture
def forecast_cli() -> Callable[[str], Callable[..., object]]:
    """``forecast_cli(models)``: a function running ``fcplan forecast/backtest ... --models models``
    in-process (Typer's CliRunner) and returning its result."""
    import typer
    from typer.testing import CliRunner

    from fcplan.app.forecast_commands import register

    def make(models: str) -> Callable[..., object]:
        app = typer.Typer()
        register(app)

        def invoke(*args: str):
            return CliRunner().invoke(app, [*args, "--models", models])

        return invoke

    return make
