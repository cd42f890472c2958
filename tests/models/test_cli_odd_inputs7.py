"""``fcplan forecast`` / ``backtest`` on inputs nobody listed, round 7 (session 20, i30-probe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average")


def _history(tmp_path: Path, days: int, uid: str = "a") -> str:
    path = tmp_path / "h.csv"
    pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2025-01-06", periods=days),
                  "y": 30.0 + np.arange(days) % 7 * 3}).to_csv(path, index=False)
    return str(path)


# 12 days, horizon 7 (fewer than two horizons): "backtest window 0 ... has no training data ...; use fewer
# windows (--windows)" by default, though no --windows was given and `--windows 1` ran.
def test_backtest_of_a_history_shorter_than_two_horizons_runs_on_one_window(run, tmp_path: Path, caplog) -> None:
    result = run("backtest", "--history", _history(tmp_path, 12), "--horizon", "7")
    assert result.exit_code == 0, result.output
    assert "backtesting on 1 window trained on 5 steps" in caplog.text
    assert "ensemble" in result.stdout


# a history no longer than the horizon cannot be backtested: the error no longer says "use fewer
# windows" when there is one window
def test_backtest_of_a_history_no_longer_than_the_horizon_says_what_to_do(run, tmp_path: Path) -> None:
    result = run("backtest", "--history", _history(tmp_path, 7), "--horizon", "7", "--windows", "1")
    assert result.exit_code == 1
    assert "a --horizon of at most 3 or a longer history" in result.output
    assert "fewer windows" not in result.output


# a series whose rows end 160 days before the others' (a closed center, an export cut short) was forecast
# for those 160-day-old dates without a word; one ending 6 days before (within the horizon) is not named
@pytest.mark.parametrize(("long", "short", "named"), [(200, 40, True), (60, 54, False)])
def test_a_series_that_ends_long_before_the_others_is_named(run, tmp_path: Path, caplog, long, short, named) -> None:
    path, out = tmp_path / "h.csv", tmp_path / "o.csv"
    pd.concat([
        pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-01-01", periods=long), "y": 30.0}),
        pd.DataFrame({"unique_id": "b", "ds": pd.date_range("2025-01-01", periods=short), "y": 20.0}),
    ]).to_csv(path, index=False)
    result = run("forecast", "--history", str(path), "--horizon", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 14
    assert ("1 series (e.g. ['b']) end long before the others" in caplog.text) is named
    if named:
        assert "2025-02-10 00:00:00 to 2025-02-16" in caplog.text


def _weekly(tmp_path: Path, starts: dict[str, str]) -> str:
    path = tmp_path / "w.csv"
    frames = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=60, freq="7D"),
                            "y": 30.0 + np.arange(60) % 4 * 5}) for uid, start in starts.items()]
    pd.concat(frames).to_csv(path, index=False)
    return str(path)


# `--freq W` (pandas' W-SUN) on Monday data passed the grid check (7-day steps) but dated the forecast on
# Sundays and scored no backtest step (no actual on a Sunday: the members got equal weights)
def test_freq_w_on_monday_data_forecasts_on_mondays(run, tmp_path: Path, caplog) -> None:
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", _weekly(tmp_path, {"a": "2024-01-01"}), "--horizon", "4", "--freq", "W",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (pd.to_datetime(pd.read_csv(out)["ds"]).dt.day_name() == "Monday").all()
    assert "--freq W means weeks on Sundays" in caplog.text and "pass --freq W-MON to say so" in caplog.text


def test_freq_w_on_series_of_different_weekdays_keeps_each_weekday(run, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    history = _weekly(tmp_path, {"a": "2024-01-01", "b": "2024-01-03"})
    result = run("forecast", "--history", history, "--horizon", "2", "--freq", "W", "--out", str(out))
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    days = pd.to_datetime(got["ds"]).dt.day_name().groupby(got["unique_id"]).unique()
    assert days.to_dict() == {"a": ["Monday"], "b": ["Wednesday"]}
    backtest = run("backtest", "--history", history, "--horizon", "2", "--freq", "W")
    assert backtest.exit_code == 0, backtest.output
    assert "not scored" not in backtest.output


# one day of history, horizon 1: "use fewer windows (--windows), a --horizon of at most 1 or a longer history"
# (the horizon was 1 already)
def test_backtest_of_one_row_asks_for_a_longer_history_only(run, tmp_path: Path) -> None:
    result = run("backtest", "--history", _history(tmp_path, 1), "--horizon", "1", "--freq", "D")
    assert result.exit_code == 1
    assert "a longer history" in result.output and "--horizon of at most" not in result.output


def test_freq_w_on_daily_data_is_still_the_off_grid_error(run, tmp_path: Path, caplog) -> None:
    result = run("forecast", "--history", _history(tmp_path, 60), "--horizon", "2", "--freq", "W",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "off the W grid" in result.output
    assert "means weeks on" not in caplog.text
