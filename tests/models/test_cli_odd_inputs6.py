"""``fcplan forecast`` / ``backtest`` on inputs nobody listed, round 6 (session 19, i29-probe)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def run(forecast_cli):
    return forecast_cli("seasonal_naive,moving_average")


def _history(tmp_path: Path, uid: str = "a") -> str:
    path = tmp_path / "h.csv"
    pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2025-01-06", periods=60),
                  "y": 30.0 + np.arange(60) % 7 * 3}).to_csv(path, index=False)
    return str(path)


# "NA" (North America) was read as a missing id: "history.unique_id is empty in 60 row(s)".
def test_a_series_named_na_is_forecast(run, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    result = run("forecast", "--history", _history(tmp_path, "NA"), "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, keep_default_na=False)["unique_id"].tolist() == ["NA"] * 3


# `--out -` wrote a file named "-" in the working folder; now the CSV goes to standard output and
# the summary line to standard error, so that `fcplan forecast ... --out - | head` reads a table.
def test_out_dash_writes_the_forecast_to_standard_output(run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("forecast", "--history", _history(tmp_path), "--horizon", "3", "--out", "-")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["unique_id", "ds", "0.1", "0.5", "0.9"] and len(table) == 3
    assert "wrote 3 rows for 1 series to standard output" in result.stderr
    assert not (tmp_path / "-").exists()


def test_backtest_out_dash_writes_the_leaderboard_csv_to_standard_output(run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("backtest", "--history", _history(tmp_path), "--horizon", "3", "--out", "-")
    assert result.exit_code == 0, result.output
    board = pd.read_csv(io.StringIO(result.stdout))
    assert {"model", "window", "wql"} <= set(board.columns) and "ensemble" in set(board["model"])
    assert "ensemble coverage" in result.stderr


# `--out -` was in the README only: `fcplan forecast --help` (backtest, plan) did not say it.
@pytest.mark.parametrize("command", ["forecast", "backtest", "plan"])
def test_the_out_option_s_help_says_dash_is_standard_output(command: str) -> None:
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "- for standard output" in " ".join(result.output.split())


# `backtest --select-features --out -` printed the feature-selection lines on standard output, in
# front of the leaderboard CSV (`forecast`'s after the forecast CSV): `... --out - > x.csv` was no CSV.
@pytest.mark.parametrize(("command", "column"), [("backtest", "wql"), ("forecast", "0.5")])
def test_select_features_out_dash_keeps_standard_output_a_csv(run, tmp_path: Path, monkeypatch, command: str,
                                                              column: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(command, "--history", _history(tmp_path), "--horizon", "3", "--select-features", "--out", "-")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert {"unique_id" if command == "forecast" else "model", column} <= set(table.columns)
    assert "feature selection" in result.stderr and "feature selection" not in result.stdout


# `--out forecast.xlsx` (or .json) wrote CSV text under that name, which Excel (or a JSON reader) refuses.
@pytest.mark.parametrize("name", ["forecast.xlsx", "forecast.JSON", "forecast.feather"])
def test_an_out_of_another_format_is_refused_before_the_work(run, tmp_path: Path, name: str) -> None:
    result = run("forecast", "--history", _history(tmp_path), "--horizon", "3", "--out", str(tmp_path / name))
    assert result.exit_code == 1
    assert "fcplan writes CSV (or Parquet for a name ending in .parquet)" in result.output
    assert "forecast.csv" in result.output
    assert not (tmp_path / name).exists()


# A yearly panel with ds 2000..2019 (or monthly 202301..): "history.ds is numeric, not dates".
@pytest.mark.parametrize(
    ("ds", "expected"),
    [(list(range(2000, 2020)), ["2020-01-01", "2021-01-01"]),
     ([y * 100 + m for y in (2023, 2024) for m in range(1, 13)][:20], ["2024-09-01", "2024-10-01"])],
    ids=["years", "year-months"],
)
def test_years_and_year_months_as_numbers_are_forecast(run, tmp_path: Path, ds, expected) -> None:
    path, out = tmp_path / "h.csv", tmp_path / "o.csv"
    pd.DataFrame({"unique_id": "a", "ds": ds, "y": 100.0 + np.arange(20)}).to_csv(path, index=False)
    result = run("forecast", "--history", str(path), "--horizon", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["ds"].tolist() == expected


# `--out h.csv --history h.csv` (a slip of the shell's history) wrote the forecast over the history.
@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_an_out_that_is_the_history_is_refused_and_the_history_kept(run, tmp_path: Path, monkeypatch,
                                                                     command: str) -> None:
    monkeypatch.chdir(tmp_path)
    history = _history(tmp_path)
    before = Path(history).read_bytes()
    result = run(command, "--history", history, "--horizon", "3", "--out", "./h.csv")
    assert result.exit_code == 1
    assert "--out 'h.csv' is the --history file" in result.output
    assert Path(history).read_bytes() == before


# A line above the header (Excel's "sep=," or an exporter's "# exported ...") was "history lacks
# column(s) ['unique_id', 'ds', 'y']; it has ['sep=', 'Unnamed: 1']. Rename your ... columns".
@pytest.mark.parametrize("first", ["sep=,", "# exported 2026-03-01 by WMS"])
def test_a_line_above_the_header_says_to_delete_it(run, tmp_path: Path, first: str) -> None:
    path = tmp_path / "h.csv"
    rows = "".join(f"a,2025-01-{d:02d},{d}\n" for d in range(1, 29))
    path.write_text(f"{first}\nunique_id,ds,y\n{rows}")
    result = run("forecast", "--history", str(path), "--horizon", "2", "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1
    assert f"starts with {first!r}, not its header row: delete the line(s) above the header" in result.output
    assert "Rename" not in result.output
