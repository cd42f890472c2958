"""Drift watch: actuals against the quantiles issued for them."""

from __future__ import annotations

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


def test_when_quantile_columns_are_missing_then_the_error_says_which() -> None:
    with pytest.raises(ValueError, match=r"0\.05"):
        check_drift(issued_frame(3).drop(columns=["0.05"]), actual_frame([1, 2, 3]))


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
