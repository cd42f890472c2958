"""Global recursive LightGBM (models/recursive.py), with small hyperparameters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcplan.models.recursive import RecursiveLightGBM

SMALL = {"n_estimators": 40, "max_rows": 5000, "min_data_in_leaf": 5, "max_horizon": 14}
LEVELS = [0.1, 0.5, 0.9]


def ar_panel(n: int, days: int, phi: float, seed: int = 0, level: float = 100.0) -> pd.DataFrame:
    """``n`` daily AR(1) series around ``level`` (innovations of sd 10)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        y = np.empty(days)
        y[0] = level
        for t in range(1, days):
            y[t] = level + phi * (y[t - 1] - level) + rng.normal(0, 10)
        ds = pd.date_range("2024-01-01", periods=days, freq="D")
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def test_each_step_is_fed_back_so_a_repeating_pattern_continues_past_the_holdout() -> None:
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    pattern = np.tile([10.0, 40.0, 25.0], 40)  # period 3: only the latest lags tell the phase
    panel = pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": pattern * (i + 1)}) for i in range(4)])
    model = RecursiveLightGBM(**{**SMALL, "n_estimators": 150}).fit(panel)
    forecast = model.predict_quantiles(20, quantiles=LEVELS)
    median = forecast.loc[forecast["unique_id"] == "s0", "0.5"].to_numpy()
    np.testing.assert_allclose(median, np.tile([10.0, 40.0, 25.0], 7)[:20], atol=4.0)


def test_the_band_widens_with_the_step_where_errors_accumulate() -> None:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=200, freq="D")
    walks = [pd.DataFrame({"unique_id": f"w{i}", "ds": ds, "y": 500 + np.cumsum(rng.normal(0, 5, 200))})
             for i in range(30)]
    model = RecursiveLightGBM(**SMALL).fit(pd.concat(walks, ignore_index=True))
    forecast = model.predict_quantiles(14, quantiles=LEVELS)
    width = (forecast["0.9"] - forecast["0.1"]).to_numpy().reshape(30, 14).mean(axis=0)
    assert width[-1] > 1.5 * width[0]


def test_the_80_percent_band_covers_about_80_percent_of_new_draws() -> None:
    history = ar_panel(40, 160, phi=0.7, seed=1)
    model = RecursiveLightGBM(**SMALL).fit(history)
    forecast = model.predict_quantiles(14, quantiles=LEVELS)
    # the same processes continued: AR(1) from each series' last value
    rng = np.random.default_rng(2)
    last = history.groupby("unique_id")["y"].last()
    inside = []
    for uid, start in last.items():
        path, y = [], start
        for _ in range(14):
            y = 100.0 + 0.7 * (y - 100.0) + rng.normal(0, 10)
            path.append(y)
        rows = forecast[forecast["unique_id"] == uid]
        inside.extend((rows["0.1"].to_numpy() <= path) & (np.array(path) <= rows["0.9"].to_numpy()))
    assert 0.65 <= np.mean(inside) <= 0.95


def test_same_seed_gives_the_same_forecast() -> None:
    panel = ar_panel(5, 90, phi=0.5)
    first = RecursiveLightGBM(**SMALL, seed=2).fit(panel).predict_quantiles(7, quantiles=LEVELS)
    second = RecursiveLightGBM(**SMALL, seed=2).fit(panel).predict_quantiles(7, quantiles=LEVELS)
    pd.testing.assert_frame_equal(first, second)
