import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fcplan.app.forecast_commands import register


@pytest.fixture
def run(tmp_path):
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def invoke(*args: str):
        # the statistical pool only: global models' training would make these tests slow
        return runner.invoke(app, [*args, "--models", "seasonal_naive,moving_average,theta,ets"])

    return invoke


@pytest.fixture
def write_csvs(tmp_path, make_panel, make_future):
    def write(panel: pd.DataFrame | None = None, future: pd.DataFrame | None = None, horizon: int = 5):
        panel = make_panel(n_series=2, length=40, promo=True) if panel is None else panel
        future = make_future(panel, horizon, promo=0.0) if future is None else future
        panel.to_csv(tmp_path / "h.csv", index=False)
        future.to_csv(tmp_path / "f.csv", index=False)
        return str(tmp_path / "h.csv"), str(tmp_path / "f.csv"), str(tmp_path / "out.csv")

    return write


def test_forecast_writes_one_column_per_quantile_named_as_typed(run, write_csvs):
    history, future, out = write_csvs()
    result = run(
        "forecast",
        "--history",
        history,
        "--future",
        future,
        "--horizon",
        "5",
        "--quantiles",
        "0.1,0.50,0.9",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "0.1", "0.50", "0.9"]
    assert len(frame) == 10 and frame.notna().all().all()
    assert (np.diff(frame[["0.1", "0.50", "0.9"]].to_numpy(), axis=1) >= 0).all()


def test_when_a_weekly_series_ends_on_a_wednesday_then_the_forecast_stays_on_wednesdays(
    run, write_csvs, make_panel
):
    panel = make_panel(n_series=1, length=30, freq="W-WED", start="2023-01-04")
    history, _, out = write_csvs(panel=panel)
    result = run("forecast", "--history", history, "--horizon", "4", "--out", out)
    assert result.exit_code == 0, result.output
    days = pd.to_datetime(pd.read_csv(out)["ds"])
    assert (days.dt.day_name() == "Wednesday").all() and len(days) == 4


def test_when_a_series_is_all_zero_then_it_still_gets_a_forecast_and_the_log_says_so(
    run, write_csvs, make_panel
):
    panel = make_panel(n_series=2, length=40)
    panel.loc[panel["unique_id"] == "fc1", "y"] = 0.0
    history, _, out = write_csvs(panel=panel)
    result = run("forecast", "--history", history, "--horizon", "3", "--out", out)
    assert result.exit_code == 0, result.output
    assert "fc1" in result.output and "all-zero" in result.output
    assert (pd.read_csv(out).query("unique_id == 'fc1'")[["0.1", "0.5", "0.9"]] == 0).all().all()


def test_when_history_has_duplicate_keys_then_it_exits_with_a_fix(run, write_csvs, make_panel):
    panel = make_panel(n_series=1, length=20)
    history, _, out = write_csvs(panel=pd.concat([panel, panel.tail(2)]))
    result = run("forecast", "--history", history, "--horizon", "3", "--out", out)
    assert result.exit_code != 0
    assert "duplicate" in result.output and "Traceback" not in result.output


def test_when_future_lacks_rows_then_it_exits_with_a_fix(run, write_csvs, make_panel, make_future):
    panel = make_panel(n_series=2, length=40, promo=True)
    history, future, out = write_csvs(panel=panel, future=make_future(panel, 5, promo=0.0).head(7))
    result = run("forecast", "--history", history, "--future", future, "--horizon", "5", "--out", out)
    assert result.exit_code != 0
    assert "future lacks" in result.output


def test_when_a_covariate_is_not_numeric_then_it_exits_with_a_fix(run, write_csvs, make_panel):
    panel = make_panel(n_series=1, length=20).assign(region="UK")
    history, _, out = write_csvs(panel=panel)
    result = run("forecast", "--history", history, "--horizon", "3", "--out", out)
    assert result.exit_code != 0
    assert "region" in result.output and "numeric" in result.output


def test_when_the_history_file_is_missing_then_it_exits_with_a_fix(run, tmp_path):
    result = run(
        "forecast",
        "--history",
        str(tmp_path / "nope.csv"),
        "--horizon",
        "3",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert result.exit_code != 0
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_backtest_prints_and_writes_the_leaderboard(run, write_csvs, make_panel, tmp_path):
    history, _, _ = write_csvs(panel=make_panel(n_series=2, length=40))
    out = str(tmp_path / "board.csv")
    result = run("backtest", "--history", history, "--horizon", "5", "--windows", "2", "--out", out)
    assert result.exit_code == 0, result.output
    board = pd.read_csv(out)
    assert {"model", "window", "wql", "wape", "mase", "coverage", "coverage_80"} <= set(board.columns)
    assert "ensemble" in set(board["model"]) and "ensemble" in result.output
    assert "80% band" in result.output


def test_backtest_reports_the_coverage_of_every_central_band(run, write_csvs, make_panel, tmp_path):
    history, _, _ = write_csvs(panel=make_panel(n_series=2, length=40))
    out = str(tmp_path / "board.csv")
    levels = "0.05,0.1,0.25,0.5,0.75,0.9,0.95"
    result = run("backtest", "--history", history, "--horizon", "5", "--quantiles", levels, "--out", out)
    assert result.exit_code == 0, result.output
    board = pd.read_csv(out)
    bands = ["coverage_90", "coverage_80", "coverage_50"]
    assert bands <= list(board.columns)
    values = board[bands].to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert (values[:, 0] >= values[:, 1]).all() and (values[:, 1] >= values[:, 2]).all()  # nested bands
    assert "90% band" in result.output and "50% band" in result.output


def test_the_models_option_s_help_names_every_registered_model_and_the_default_s_exceptions() -> None:
    # It said "default: every registered model", named none, and the default leaves the opt-in ones out.
    import re

    from fcplan.app.forecast_commands import MODELS_HELP
    from fcplan.models.engine import MODELS, OPT_IN

    listed, default = MODELS_HELP.split("Default:")
    assert set(re.findall(r"[a-z_]+", listed.split(":", 1)[1])) == set(MODELS)
    assert all(name in default for name in OPT_IN)
