"""``fcplan forecast`` / ``backtest`` on inputs nobody listed: a short history still gets a
forecast, business-day and mixed-weekday panels keep their own dates, and bad rows are a
one-paragraph error (exit 1, no traceback) instead of a crash or a silent drop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average,theta")


def _history(tmp_path, frames: list[pd.DataFrame]) -> tuple[str, str]:
    pd.concat(frames, ignore_index=True).to_csv(tmp_path / "h.csv", index=False)
    return str(tmp_path / "h.csv"), str(tmp_path / "out.csv")


def _series(uid: str, ds, level: float = 30.0) -> pd.DataFrame:
    ds = pd.DatetimeIndex(ds)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": level + np.arange(len(ds)) % 7})


def _ok(result, out: str, ids: int, horizon: int) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    values = frame[["0.1", "0.5", "0.9"]].to_numpy()
    assert len(frame) == ids * horizon and np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all() and (values >= 0).all()
    return frame


# A history shorter than twice the horizon failed: "backtest window 0 has no training data ...
# use fewer windows", also with --windows 1 (the fewest there are).
@pytest.mark.parametrize(("length", "horizon"), [(3, 7), (1, 2), (10, 30)])
def test_a_history_too_short_to_backtest_still_gets_a_forecast(run, tmp_path, caplog, length, horizon) -> None:
    history, out = _history(tmp_path, [_series("a", pd.date_range("2025-01-01", periods=length)),
                                       _series("b", pd.date_range("2025-01-01", periods=length))])
    result = run("forecast", "--history", history, "--horizon", str(horizon), "--freq", "D", "--out", out)
    frame = _ok(result, out, 2, horizon)
    assert "too few to backtest" in caplog.text
    assert "ensemble weights moving_average=1.00" in result.output
    assert pd.Timestamp(frame["ds"].iloc[0]) == pd.Timestamp("2025-01-01") + pd.Timedelta(days=length)


def test_a_backtest_too_long_for_the_history_says_which_horizon_fits(run, tmp_path) -> None:
    history, out = _history(tmp_path, [_series("a", pd.date_range("2025-01-01", periods=10))])
    result = run("backtest", "--history", history, "--horizon", "30", "--out", out)
    assert result.exit_code == 1
    assert "a --horizon of at most 5" in result.output and "Traceback" not in result.output


# Weekday-only data was forecast on Saturdays and Sundays.
def test_business_day_data_is_forecast_on_business_days(run, tmp_path) -> None:
    history, out = _history(tmp_path, [_series("a", pd.bdate_range("2025-01-06", periods=60))])
    frame = _ok(run("forecast", "--history", history, "--horizon", "5", "--out", out), out, 1, 5)
    assert (pd.to_datetime(frame["ds"]).dt.day_of_week < 5).all()


# A Wednesday series in a panel that starts on a Monday was forecast on Mondays.
def test_weekly_series_on_different_weekdays_are_each_forecast_on_their_own(run, tmp_path) -> None:
    history, out = _history(tmp_path, [_series("a", pd.date_range("2024-01-01", periods=60, freq="7D")),
                                       _series("b", pd.date_range("2024-01-03", periods=60, freq="7D"))])
    frame = _ok(run("forecast", "--history", history, "--horizon", "3", "--out", out), out, 2, 3)
    days = frame.assign(day=pd.to_datetime(frame["ds"]).dt.day_name()).groupby("unique_id")["day"].unique()
    assert days.map(tuple).to_dict() == {"a": ("Monday",), "b": ("Wednesday",)}


# A row without an id crashed the backtest ("every model failed"); a row at another time of day
# was dropped without a word; 20250101-style dates were read as nanoseconds (forecast for 1970).
@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda h: h.assign(unique_id=h["unique_id"].where(h.index != 4, None)), "unique_id is empty in 1 row"),
        (lambda h: h.assign(ds=h["ds"].where(h.index != 4, h["ds"] + pd.Timedelta(hours=5))), "off the D grid"),
        (lambda h: h.assign(y=h["y"].where(h.index != 4, np.inf)), "infinite"),
    ],
)
def test_a_bad_row_is_a_clear_error(run, tmp_path, edit, expected) -> None:
    history, out = _history(tmp_path, [edit(_series("a", pd.date_range("2025-01-01", periods=40)))])
    result = run("forecast", "--history", history, "--horizon", "3", "--out", out)
    assert result.exit_code == 1, result.output
    assert expected in result.output and "Traceback" not in result.output


def test_yyyymmdd_integer_dates_are_forecast_on_the_right_days(run, tmp_path) -> None:
    frame = _series("a", pd.date_range("2025-01-01", periods=40))
    history, out = _history(tmp_path, [frame.assign(ds=frame["ds"].dt.strftime("%Y%m%d").astype(int))])
    frame = _ok(run("forecast", "--history", history, "--horizon", "2", "--out", out), out, 1, 2)
    assert frame["ds"].tolist() == ["2025-02-10", "2025-02-11"]
