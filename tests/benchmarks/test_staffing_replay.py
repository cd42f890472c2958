"""The staffing replay (benchmarks/staffing_replay.py): its pricing, and a replay of one
recorded member that prices that member's own test-window forecast."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from retail import retail_panel
from staffing_cost import COLS, LEVELS
from staffing_replay import RECORDED, TEST_WINDOWS, price, record, replay


def test_price_books_the_newsvendor_level_and_nothing_on_closed_days() -> None:
    pred = np.tile(10.0 + 10.0 * (np.asarray(LEVELS) - 0.5), (3, 1))  # the 2/3 level: 10 + 10/6
    actuals = np.array([20.0, 5.0, 0.0])
    booked = 10.0 + 10.0 / 6
    expected = 2 * booked + 3 * (20.0 - booked)
    assert price(pred, actuals, np.array([False, False, True]), 2.0) == pytest.approx(expected)


def test_replay_of_one_member_uncalibrated_prices_its_test_forecasts() -> None:
    panel = retail_panel()
    recorded = record(panel, ["seasonal_naive"])
    assert set(recorded) == set(TEST_WINDOWS)
    ratio, per = replay(panel, recorded, calibration="none", race=False)
    cost = needed = 0.0
    for results in recorded.values():
        (test,) = [r for r in results["seasonal_naive"] if r.window == RECORDED]
        frame = test.forecast
        actuals = frame["y"].to_numpy("float64")
        cost += price(np.sort(frame[COLS].to_numpy("float64"), axis=1), actuals,
                      (frame["ds"].dt.dayofweek == 5).to_numpy(), 2.0)
        needed += actuals.sum()
    assert ratio == pytest.approx(cost / needed)
    assert all(weights == {"seasonal_naive": 1.0} for _, weights in per.values())
