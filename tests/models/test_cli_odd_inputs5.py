"""``fcplan forecast`` / ``backtest`` on inputs nobody listed, round 5 (session 18, i28-probe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average")


def _series(uid: str, n: int, freq: str = "D", y=None, start: str = "2025-01-06") -> pd.DataFrame:
    values = 30.0 + np.arange(n) % 7 * 3 if y is None else np.asarray(y, dtype=float)
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=n, freq=freq), "y": values})


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "h.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


# A future with a y column (actuals of the days to forecast, or the history pasted with its new
# rows): the values were dropped without a word.
def test_a_future_y_column_with_values_is_a_warning(run, tmp_path: Path, caplog) -> None:
    future = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-03-07", periods=3), "y": [40.0, 41.0, 42.0]})
    with caplog.at_level("WARNING"):
        result = run("forecast", "--history", _write(tmp_path, _series("a", 60)), "--future",
                     _write(tmp_path, future, "f.csv"), "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output
    assert "future has a y column with 3 value(s); they are ignored" in caplog.text
    assert "add those rows to the history" in caplog.text


def test_an_empty_future_y_column_is_not_warned_about(run, tmp_path: Path, caplog) -> None:
    future = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-03-07", periods=3), "y": np.nan})
    with caplog.at_level("WARNING"):
        result = run("forecast", "--history", _write(tmp_path, _series("a", 60)), "--future",
                     _write(tmp_path, future, "f.csv"), "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output
    assert "y column" not in caplog.text


# A history opening with 30 empty rows then 10 values (a center listed before it opened): the
# backtest windows (horizon 7; the backtest's 2 windows of 5) were cut on the panel's span, so each
# trained on empty rows only, every model failed and both commands ended on "RuntimeError: every
# model failed on the backtest" (a traceback).
@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_a_history_opening_with_empty_rows_is_forecast_from_its_first_value(run, tmp_path: Path, command) -> None:
    frame = _series("a", 40, y=np.r_[np.full(30, np.nan), 30.0 + np.arange(10) % 7])
    out = tmp_path / "o.csv"
    extra = ("--horizon", "7") if command == "forecast" else ("--horizon", "5", "--windows", "2")
    result = run(command, "--history", _write(tmp_path, frame), *extra, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    table = pd.read_csv(out)
    if command == "forecast":
        assert len(table) == 7 and np.isfinite(table[["0.1", "0.5", "0.9"]].to_numpy()).all()
        assert table["ds"].iloc[0] == "2025-02-15"
    else:
        assert set(table["model"]) >= {"ensemble", "seasonal_naive"}


# Found by a hypothesis run of `forecast` on random small panels: actuals of 5e-324 (a subnormal, as
# a float written with too many digits reads back) made every model's backtest wQL infinite, and the
# ensemble's weight search ended on a bare AssertionError (a traceback). Now: equal weights.
def test_backtest_scores_that_are_not_numbers_give_equal_weights(run, tmp_path: Path) -> None:
    from fcplan.models.ensemble import select_weights

    preds = np.array([[[1.0, 2.0, 3.0]], [[2.0, 3.0, 4.0]]])
    assert select_weights(preds, np.array([5e-324]), [0.1, 0.5, 0.9]).tolist() == [0.5, 0.5]
    frame = _series("a", 22, y=np.r_[np.full(20, 1e6), 5e-324, 5e-324])
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", _write(tmp_path, frame), "--horizon", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert np.isfinite(pd.read_csv(out)[["0.1", "0.5", "0.9"]].to_numpy()).all()
