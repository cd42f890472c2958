"""Any quantile set works everywhere: the planner, the drift monitor and check, the dashboard's
bands, the registry's live scores. Seeded random sets, and 0.1/0.5/0.9 alone."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from fcplan.core.settings import CenterParams, PlannerSettings
from fcplan.dashboard.charts import _band_levels, median_column
from fcplan.models.champion import RunInfo, live_scores
from fcplan.models.drift_monitor import DriftMonitor
from fcplan.models.sequential import day_distribution
from fcplan.planner import plan_staffing


def level_sets(n: int = 30) -> list[list[float]]:
    rng = np.random.default_rng(2026)
    sets = [[0.1, 0.5, 0.9], [0.5], [0.75], [0.05, 0.95]]
    while len(sets) < n:
        sets.append(sorted({round(float(q), 3) for q in rng.uniform(0.01, 0.99, int(rng.integers(1, 12)))}))
    return sets


def forecast_for(levels: list[float], days: int = 3) -> pd.DataFrame:
    frame = pd.DataFrame({"unique_id": "FC1", "ds": pd.date_range("2026-03-01", periods=days), "model": "ensemble"})
    for q in levels:
        frame[f"{q:g}"] = 1000.0 + 600.0 * (q - 0.5)
    return frame


@pytest.mark.parametrize("levels", level_sets())
def test_every_consumer_takes_any_quantile_set(levels: list[float]) -> None:
    forecast = forecast_for(levels)
    cols = [f"{q:g}" for q in levels]
    shares = pd.DataFrame({"unique_id": "FC1", "shift": ["day", "night"], "share": [0.7, 0.3]})
    plan = plan_staffing(forecast, shares, CenterParams.from_settings(PlannerSettings()))
    assert len(plan) == 6 and (plan["packers"] >= 0).all()

    mean, shape = day_distribution(levels, [1000.0 + 600.0 * (q - 0.5) for q in levels])
    assert mean > 0 and shape > 0
    monitor = DriftMonitor()
    quantiles = dict(zip(levels, forecast.loc[0, cols], strict=True))
    for h in range(30):
        monitor.observe(
            "FC1", pd.Timestamp("2026-03-01") + pd.Timedelta(hours=h), 40.0, quantiles, np.full(24, 1 / 24), "v1"
        )
    assert np.isfinite(monitor.statistic("FC1"))

    assert median_column(cols) in cols
    assert all(lo in cols and hi in cols for lo, hi in _band_levels(cols))

    runs = [RunInfo("a", date(2026, 2, 27), date(2026, 3, 3), frozenset({"FC1"}))]
    actuals = forecast[["unique_id", "ds"]].assign(y=1000.0)
    scores = live_scores(forecast.drop(columns="model").assign(run_id="a"), actuals, runs, date(2026, 3, 4))
    assert scores[("a", "a")][1] == 3 and np.isfinite(scores[("a", "a")][0])
