"""The staffing benchmark's pricing helpers (benchmarks/staffing_cost.py), on made-up dumped rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from staffing_cost import COLS, LEVELS, cost, fractile_headroom, headroom_line, planned_at


def rows(center: str, y: list[float], median: float = 10.0, slope: float = 10.0,
         closed: list[bool] | None = None) -> pd.DataFrame:
    """Dumped rows of one center: quantiles ``median + slope * (level - 0.5)`` at every level."""
    frame = pd.DataFrame({"unique_id": center, "ds": pd.date_range("2024-01-01", periods=len(y)), "y": y,
                          "closed": closed if closed is not None else [False] * len(y)})
    frame[COLS] = median + slope * (np.asarray(LEVELS) - 0.5)
    return frame


def test_planned_at_interpolates_between_levels_and_books_nothing_on_closed_days() -> None:
    frame = rows("A", [10.0, 10.0, 0.0], closed=[False, False, True])
    booked = planned_at(frame, 2 / 3)
    assert booked[:2] == pytest.approx([10.0 + 10.0 / 6, 10.0 + 10.0 / 6])
    assert booked[2] == 0.0
    assert planned_at(frame, 0.99)[0] == pytest.approx(10.0 + 10.0 * 0.45)  # clamped at the top level


def test_headroom_prices_the_newsvendor_level_as_the_plan_and_finds_a_higher_level_for_demand_above_it() -> None:
    frame = rows("A", [20.0, 18.0, 19.0, 0.0], closed=[False, False, False, True])
    out = fractile_headroom(frame, 2.0)
    needed = frame["y"].to_numpy()
    assert out["nominal_ratio"] == pytest.approx(cost(planned_at(frame, 2 / 3), needed, 2.0) / needed.sum())
    assert out["best_level"] == pytest.approx(0.95)  # every actual is above the forecast's top level
    assert out["best_ratio"] < out["nominal_ratio"]
    assert out["per_center_ratio"] <= out["best_ratio"] + 1e-12


def test_headroom_per_center_levels_follow_each_center_s_bias() -> None:
    high = rows("high", [14.0] * 6)  # above the forecast's 0.9 quantile (14 = 10 + 10 * 0.4)
    low = rows("low", [6.5] * 6)  # near its 0.15 quantile
    out = fractile_headroom(pd.concat([high, low], ignore_index=True), 2.0)
    assert out["per_center_levels"]["high"] > 2 / 3 > out["per_center_levels"]["low"]
    assert out["per_center_ratio"] < out["best_ratio"] <= out["nominal_ratio"]


def test_headroom_line_names_few_centers_and_summarises_many() -> None:
    few = fractile_headroom(rows("A", [12.0, 9.0, 11.0]), 1.0)
    assert "A 0." in headroom_line(few, 1.0)
    many = fractile_headroom(pd.concat([rows(f"C{i}", [10.0 + i, 9.0]) for i in range(9)], ignore_index=True), 1.0)
    line = headroom_line(many, 1.0)
    assert "9 centers, levels" in line and "C0" not in line
