"""``fcplan forecast`` / ``backtest`` on panels nobody listed (session 13). A weekly series in a
daily panel (or a daily one in an hourly panel) was forecast in the panel's steps, its next
"days" at the level of a week's total, and its missing days weighed on the other series'
models, without a word; now it is one paragraph (exit 1) naming the series and the fix.
Short, constant, all-zero, negative, huge and gappy series keep their sensible forecasts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average")


def _series(uid: str, n: int, freq: str = "D", y=None) -> pd.DataFrame:
    values = 30.0 + np.arange(n) % 7 * 3 if y is None else np.asarray(y, dtype=float)
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2025-01-06", periods=n, freq=freq), "y": values})


def _write(tmp_path: Path, frame: pd.DataFrame) -> str:
    path = tmp_path / "h.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(("command", "extra"), [("forecast", ()), ("backtest", ()), ("forecast", ("--freq", "D"))])
def test_a_weekly_series_in_a_daily_panel_is_an_error_naming_it(run, tmp_path: Path, command: str, extra) -> None:
    path = _write(tmp_path, pd.concat([_series("daily", 60), _series("weekly", 20, "W-MON")]))
    args = [command, "--history", path, "--horizon", "3", *extra]
    result = run(*args, *(["--out", str(tmp_path / "o.csv")] if command == "forecast" else []))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "['weekly']" in result.output and "7D apart" in result.output and "separate files" in result.output


def test_a_daily_series_in_an_hourly_panel_is_an_error_naming_it(run, tmp_path: Path) -> None:
    path = _write(tmp_path, pd.concat([_series("hourly", 200, "h"), _series("daily", 20)]))
    result = run("forecast", "--history", path, "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "['daily']" in result.output and "1D apart" in result.output


@pytest.mark.parametrize("drop", ["every_third", "a_block"])
def test_series_with_missing_days_are_still_forecast(run, tmp_path: Path, drop: str) -> None:
    gappy = _series("gappy", 90)
    gappy = gappy[gappy.index % 3 != 1] if drop == "every_third" else gappy.drop(index=range(30, 50))
    path = _write(tmp_path, pd.concat([gappy, _series("full", 90)]))
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", path, "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 6


@pytest.mark.parametrize(
    ("y", "expected"),
    [([0.0] * 40, 0.0), ([5.0] * 40, 5.0), ([-100.0] * 40, -100.0), ([1e12] * 40, 1e12), ([7.0, 7.0], 7.0)],
    ids=["zeros", "constant", "negative", "huge", "two_points"],
)
def test_odd_but_legitimate_series_get_finite_sensible_forecasts(run, tmp_path: Path, y, expected) -> None:
    path = _write(tmp_path, _series("a", len(y), y=y))
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", path, "--horizon", "5", "--quantiles", "0.01,0.5,0.99", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 5 and np.isfinite(table[["0.01", "0.5", "0.99"]].to_numpy()).all()
    assert np.allclose(table["0.5"], expected)


# "a" and "a " were two series, each forecast on half of the rows (the plan command already
# read "FC-SEOUL-1 " as FC-SEOUL-1).
def test_an_id_with_a_stray_space_is_the_same_series(run, tmp_path: Path) -> None:
    frame = _series("a", 28)
    frame["unique_id"] = np.where(np.arange(28) % 2 == 0, "a", "a ")
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", _write(tmp_path, frame), "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype={"unique_id": str})["unique_id"].tolist() == ["a"] * 3


# Rows mixing 2025-01-01 and 15/01/2025: "ds has values that are not timestamps, e.g.
# '2025-01-01'", naming a good value.
def test_ds_in_mixed_layouts_names_both_layouts(run, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("unique_id,ds,y\n" + "".join(f"a,2025-01-{d:02d},{d}\n" for d in range(1, 15))
                    + "".join(f"a,{d:02d}/01/2025,{d}\n" for d in range(15, 29)))
    result = run("forecast", "--history", str(path), "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "mixes layouts" in result.output and "'15/01/2025'" in result.output and "line 16" in result.output


# pandas 3 refuses M, Q, Y: "unknown frequency 'M'; use a pandas alias such as D, W-WED or h".
@pytest.mark.parametrize(("freq", "expected"), [("M", "use ME for"), ("Q", "use QE for"), ("A", "use YE for")])
def test_an_old_period_alias_says_its_new_names(run, tmp_path: Path, freq: str, expected: str) -> None:
    path = _write(tmp_path, _series("a", 36, "MS"))
    result = run("forecast", "--history", path, "--horizon", "3", "--freq", freq, "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert expected in result.output and "S for dates at its start" in result.output


# Daily rows in 2262: "Cannot generate range with start=9219830400000000000 and periods=200".
def test_a_horizon_past_2262_says_so(run, tmp_path: Path) -> None:
    frame = _series("a", 60)
    frame["ds"] = pd.date_range("2262-01-01", periods=60)
    result = run("forecast", "--history", _write(tmp_path, frame), "--horizon", "200", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the latest time pandas can hold" in result.output and "check the years in ds" in result.output


# "unique_id, ds, y" (a space after each comma, as people type it): "history lacks column(s)
# ['ds', 'y']; it has ['unique_id', ' ds', ' y']".
def test_a_header_with_spaces_after_the_commas_is_read(run, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    frame = _series("007", 28)
    path.write_text(frame.to_csv(index=False).replace("unique_id,ds,y", " unique_id, ds, y "))
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", str(path), "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype={"unique_id": str})["unique_id"].tolist() == ["007"] * 3


FUTURE_DAYS = pd.date_range("2025-03-07", periods=3)


# A future column the history lacks was dropped without a word; so were the rows of a future series
# the history lacks (a new center): "wrote 3 rows for 1 series".
@pytest.mark.parametrize(
    ("future", "expected"),
    [
        (pd.DataFrame({"unique_id": "a", "ds": FUTURE_DAYS, "promo": 1.0}), "['promo'] are not in the history"),
        (
            pd.DataFrame({"unique_id": ["a"] * 3 + ["FC-NEW"] * 3, "ds": FUTURE_DAYS.append(FUTURE_DAYS)}),
            "future series ['FC-NEW'] (1) are not in the history, so they get no forecast",
        ),
    ],
    ids=["covariate", "series"],
)
def test_what_only_the_future_holds_is_named_as_not_used(run, tmp_path: Path, caplog, future, expected) -> None:
    future.to_csv(tmp_path / "f.csv", index=False)
    path = _write(tmp_path, _series("a", 60))
    with caplog.at_level("WARNING"):
        result = run("forecast", "--history", path, "--future", str(tmp_path / "f.csv"), "--horizon", "3",
                     "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output
    assert expected in caplog.text


# A 3-row future in DD/MM/YYYY (02/03/2025 ... 04/03/2025) was read month-first, as February 3
# and April 3: "future lacks 2 of the 3 (unique_id, ds) rows the horizon needs".
def test_a_short_future_file_written_day_first_is_read_day_first(run, tmp_path: Path) -> None:
    history = _series("a", 60).assign(promo=0.0)
    future = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2025-03-07", periods=3).strftime("%d/%m/%Y"),
                           "promo": 1.0})
    future.to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", _write(tmp_path, history), "--future", str(tmp_path / "f.csv"),
                 "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["ds"].tolist() == ["2025-03-07", "2025-03-08", "2025-03-09"]
