"""Drift watch: actuals against the quantiles issued for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.models.drift import COVERAGE_DRIFT, OUTSIDE_BAND, as_issued, check_drift


def issued_frame(days: int, median: float = 100.0, uid: str = "FC-1") -> pd.DataFrame:
    ds = pd.date_range("2026-03-01", periods=days, freq="D")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "0.05": median - 30, "0.1": median - 20,
                         "0.5": median, "0.9": median + 20, "0.95": median + 30})


def actual_frame(values: list[float], uid: str = "FC-1") -> pd.DataFrame:
    ds = pd.date_range("2026-03-01", periods=len(values), freq="D")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": values})


def test_when_actuals_stay_inside_the_band_then_there_is_no_alert() -> None:
    alerts = check_drift(issued_frame(7), actual_frame([100, 95, 110, 90, 105, 100, 99]))
    assert alerts.empty


def test_when_the_newest_day_falls_outside_the_outer_quantiles_then_it_is_flagged() -> None:
    alerts = check_drift(issued_frame(3), actual_frame([100, 100, 180]))
    assert alerts["kind"].tolist() == [OUTSIDE_BAND]
    assert "above" in alerts["message"].iloc[0]


def test_when_most_recent_days_miss_the_band_then_coverage_drift_is_flagged() -> None:
    alerts = check_drift(issued_frame(7), actual_frame([100, 125, 125, 125, 125, 100, 100]))
    assert alerts["kind"].tolist() == [COVERAGE_DRIFT]
    assert "3 of the last 7" in alerts["message"].iloc[0]


def test_when_four_of_seven_days_are_inside_then_coverage_is_not_flagged() -> None:
    alerts = check_drift(issued_frame(7), actual_frame([100, 125, 125, 125, 100, 100, 100]))
    assert COVERAGE_DRIFT not in alerts["kind"].tolist()


def test_when_only_the_median_is_forecast_then_the_error_says_which_levels_are_needed() -> None:
    only_median = issued_frame(3)[["unique_id", "ds", "0.5"]]
    with pytest.raises(ValueError, match=r"below and one above 0\.5.*0\.1,0\.5,0\.9"):
        check_drift(only_median, actual_frame([1, 2, 3]))


def test_with_levels_01_05_09_alone_the_outer_check_uses_01_and_09() -> None:
    alerts = check_drift(issued_frame(3).drop(columns=["0.05", "0.95"]), actual_frame([100, 100, 125]))
    assert alerts["kind"].tolist() == [OUTSIDE_BAND]
    assert "10%-90%" in alerts["message"].iloc[0]


def random_level_sets(n: int = 40) -> list[list[float]]:
    """Seeded random quantile sets, each with one level below and one above the median."""
    rng = np.random.default_rng(13)
    sets = [[0.1, 0.5, 0.9]]
    while len(sets) < n:
        levels = sorted({round(float(q), 3) for q in rng.uniform(0.01, 0.99, int(rng.integers(2, 12)))})
        if levels[0] < 0.5 < levels[-1]:
            sets.append(levels)
    return sets


@pytest.mark.parametrize("levels", random_level_sets())
def test_any_quantile_set_straddling_the_median_gets_a_drift_check(levels: list[float]) -> None:
    days = pd.date_range("2026-03-01", periods=8, freq="D")
    issued = pd.DataFrame({"unique_id": "FC-1", "ds": days})
    for q in levels:
        issued[f"{q:g}"] = 100.0 + 400.0 * (q - 0.5)
    actuals = actual_frame([100.0] * 7 + [1000.0])
    alerts = check_drift(issued, actuals)
    assert OUTSIDE_BAND in alerts["kind"].tolist()
    assert check_drift(issued, actual_frame([100.0] * 8)).empty


def test_as_issued_keeps_the_newest_run_made_before_each_day() -> None:
    runs = pd.DataFrame({
        "unique_id": ["a"] * 3,
        "ds": pd.to_datetime(["2026-03-05"] * 3),
        "data_end": pd.to_datetime(["2026-03-03", "2026-03-04", "2026-03-05"]),
        "run_id": ["r1", "r2", "r3"],
        "0.5": [1.0, 2.0, 3.0],
    })
    issued = as_issued(runs)
    assert issued["run_id"].tolist() == ["r2"]  # r3 had already seen the day
