"""``fcplan forecast`` / ``backtest`` on files and options nobody listed (round 2): duplicate header names,
a semicolon-separated file, a header without rows, a series with no observed value,
future ids written differently from the history's, a --freq finer than the data, an --out
that cannot be written, odd --time-limit and --models values. Each was read wrong without a
word or got a misleading (or late) error; now it is one paragraph (exit 1) saying how to fix it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fcplan.app.forecast_commands import register


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average")


def _history(ids=("a", "b"), n: int = 40) -> pd.DataFrame:
    ds = pd.date_range("2025-01-01", periods=n)
    return pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "y": 30.0 + np.arange(n) % 7, "promo": 0.0})
                      for u in ids], ignore_index=True)


def _future(ids=("a", "b"), start: str = "2025-02-10", horizon: int = 3) -> pd.DataFrame:
    ds = pd.date_range(start, periods=horizon)
    return pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "promo": 1.0}) for u in ids], ignore_index=True)


def _error(result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output


# pandas renames a second "y" to "y.1": the file was forecast on the first, the second read as a
# past-only covariate, both without a word; a doubled covariate became two.
@pytest.mark.parametrize("column", ["y", "promo"])
def test_a_column_named_twice_in_the_header_is_an_error(run, tmp_path: Path, column: str) -> None:
    frame = _history()
    frame.insert(len(frame.columns), f"{column}_copy", frame[column])
    path = tmp_path / "h.csv"
    path.write_text(frame.to_csv(index=False).replace(f"{column}_copy", column, 1))
    result = run("forecast", "--history", str(path), "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    _error(result, f"column(s) ['{column}'] more than once")


# "history lacks column(s) ['unique_id', 'ds', 'y']; it has ['unique_id;ds;y;promo']".
def test_a_semicolon_separated_file_says_so(run, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _history().to_csv(path, index=False, sep=";")
    result = run("backtest", "--history", str(path), "--horizon", "3")
    _error(result, "looks separated by ';'")


# A header with a covariate and no rows: "history covariate 'promo' is not numeric (dtype object)".
def test_a_header_without_rows_says_there_are_no_rows(run, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("unique_id,ds,y,promo\n")
    result = run("forecast", "--history", str(path), "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    _error(result, "no rows")
    assert "not numeric" not in result.output


# A series whose y is empty in every row was forecast as zeros (one "fallback" line for theta).
@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_a_series_without_any_value_is_named(run, tmp_path: Path, command: str) -> None:
    frame = _history(("a", "b", "c"))
    frame.loc[frame["unique_id"] == "b", "y"] = np.nan
    frame.to_csv(tmp_path / "h.csv", index=False)
    args = ["--history", str(tmp_path / "h.csv"), "--horizon", "3"]
    result = run(command, *args, *(["--out", str(tmp_path / "o.csv")] if command == "forecast" else []))
    _error(result, "1 series have no value of y in any row", "['b']")


# Ids "007" and "12" in the history, "7" and "12.0" in the future (a spreadsheet's doing):
# "future lacks 6 of the 6 rows" without a word about the ids.
def test_future_ids_written_differently_are_named(run, tmp_path: Path) -> None:
    _history(("007", "12")).to_csv(tmp_path / "h.csv", index=False)
    _future(("7", "12.0")).to_csv(tmp_path / "f.csv", index=False)
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--future", str(tmp_path / "f.csv"),
                 "--horizon", "3", "--out", str(tmp_path / "o.csv"))
    _error(result, "['12.0', '7'] are not in the history", "ids must match as written")


def test_text_ids_that_look_like_numbers_are_kept_as_written(run, tmp_path: Path) -> None:
    _history(("007", "12")).to_csv(tmp_path / "h.csv", index=False)
    _future(("007", "12")).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--future", str(tmp_path / "f.csv"),
                 "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(pd.read_csv(out, dtype={"unique_id": str})["unique_id"].unique()) == ["007", "12"]


# Daily rows with --freq h were forecast as hours (the next 3 hours after the last midnight),
# 23 of every 24 steps taken as missing; --freq D, as the data is, still works.
def test_a_freq_finer_than_the_data_is_an_error_naming_the_data_frequency(run, tmp_path: Path) -> None:
    _history().to_csv(tmp_path / "h.csv", index=False)
    args = ["--history", str(tmp_path / "h.csv"), "--horizon", "3", "--out", str(tmp_path / "o.csv")]
    _error(run("forecast", *args, "--freq", "h"), "its own frequency looks like D", "--freq D")
    assert run("forecast", *args, "--freq", "D").exit_code == 0


# A missing --out folder failed only after the whole backtest and forecast, with "(None)" as
# the reason; a directory as --out likewise.
@pytest.mark.parametrize(("out", "expected"), [("nowhere/o.csv", "folder"), (".", "is a directory")])
def test_an_unwritable_out_is_said_before_the_work(run, tmp_path: Path, caplog, out: str, expected: str) -> None:
    caplog.set_level(logging.INFO, logger="fcplan.models.engine")
    _history().to_csv(tmp_path / "h.csv", index=False)
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--horizon", "3", "--out", str(tmp_path / out))
    _error(result, expected)
    assert "(None)" not in result.output and "engine finished" not in caplog.text


# --time-limit -5 or nan was taken (every model but the baselines skipped, or no limit);
# --models "" ran the baselines alone without a word; --holiday-country kr was unknown.
@pytest.mark.parametrize(
    ("extra", "expected"),
    [(("--time-limit", "-5"), "--time-limit -5 is not a number of seconds"),
     (("--time-limit", "nan"), "--time-limit nan is not a number of seconds")],
)
def test_odd_options_are_errors(run, tmp_path: Path, extra: tuple[str, ...], expected: str) -> None:
    _history().to_csv(tmp_path / "h.csv", index=False)
    _error(run("backtest", "--history", str(tmp_path / "h.csv"), "--horizon", "3", *extra), expected)


def test_an_empty_model_list_is_an_error(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    _history().to_csv(tmp_path / "h.csv", index=False)
    result = CliRunner().invoke(app, ["backtest", "--history", str(tmp_path / "h.csv"), "--horizon", "3",
                                      "--models", " , "])
    _error(result, "--models names no model")


def test_a_lower_case_holiday_country_is_read(run, tmp_path: Path) -> None:
    _history().to_csv(tmp_path / "h.csv", index=False)
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--horizon", "3", "--holiday-country", "kr",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output


# Hourly rows with UTC offsets across the end of daylight saving: 02:00+02:00 and 02:00+01:00 are
# one local time, and the error said "aggregate them (e.g. sum per day)", as if the file were wrong.
def test_the_hour_a_daylight_saving_change_repeats_is_explained(run, tmp_path: Path) -> None:
    ds = pd.date_range("2025-10-20", "2025-11-05", freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"unique_id": "a", "ds": [t.isoformat() for t in ds], "y": 5.0 + np.arange(len(ds)) % 24})
    frame.to_csv(tmp_path / "h.csv", index=False)
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--horizon", "24", "--out", str(tmp_path / "o.csv"))
    _error(result, "same local time with different UTC offsets", "2025-10-26T02:00:00+01:00", "write ds in UTC")
    utc = frame.assign(ds=[t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ") for t in ds])
    utc.to_csv(tmp_path / "h.csv", index=False)
    result = run("forecast", "--history", str(tmp_path / "h.csv"), "--horizon", "24", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output
