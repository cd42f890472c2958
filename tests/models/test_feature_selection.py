"""Automatic covariate selection per model family (``run_engine(select_features=True)``)."""

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fcplan.app.forecast_commands import features_path, register
from fcplan.core.calendar import HOLIDAY_COLUMNS
from fcplan.models.engine import run_backtest, run_engine
from fcplan.models.feature_selection import (
    FEATURE_COLUMNS,
    HOLIDAY_GROUP,
    KeptCovariates,
    feature_groups,
    make_member,
)
from fcplan.models.registry import TEST_PARAMS, get_model

LEVELS = [0.1, 0.5, 0.9]
H = 7


def driver_panel(n_series: int = 3, length: int = 80, seed: int = 0) -> pd.DataFrame:
    """``driver`` moves y by +30 where it is on; ``noise`` is unrelated to y."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        driver = (rng.random(length) < 0.3).astype(float)
        frames.append(pd.DataFrame({
            "unique_id": f"s{i}",
            "ds": pd.date_range("2024-01-01", periods=length, freq="D"),
            "y": rng.poisson(20 + 10 * i + 30 * driver).astype(float),
            "driver": driver,
            "noise": rng.normal(size=length),
        }))
    return pd.concat(frames, ignore_index=True)


def split_future(full: pd.DataFrame, horizon: int = H) -> tuple[pd.DataFrame, pd.DataFrame]:
    by = full.groupby("unique_id", sort=False)
    return by.head(len(full) // full["unique_id"].nunique() - horizon), by.tail(horizon).drop(columns="y")


def test_the_driver_is_kept_with_a_positive_contribution_and_the_noise_column_is_dropped():
    history, future = split_future(driver_panel())
    result = run_engine(history, H, LEVELS, future=future, models=["glm"], model_params=TEST_PARAMS,
                        select_features=True)
    table = result.feature_table
    assert list(table.columns) == FEATURE_COLUMNS
    rows = table.set_index("group")
    assert set(table["family"]) == {"glm"} and set(rows.index) == {"driver", "noise"}
    assert rows.loc["driver", "contribution"] > 0.05 and bool(rows.loc["driver", "kept"])
    assert not bool(rows.loc["noise", "kept"])
    assert rows.loc["driver", "contribution"] == pytest.approx(
        rows.loc["driver", "wql_without"] - rows.loc["driver", "wql_all"])
    member = result.model.members_["glm"]  # the ensemble's GLM is fitted on the driver only
    assert isinstance(member, KeptCovariates) and member.kept_ == ["driver"]
    assert member.params["model"].covariates_ == ["driver"]


def test_every_covariate_using_family_gets_its_own_rows():
    history, _ = split_future(driver_panel())
    result = run_backtest(history, H, LEVELS, models=["glm", "lightgbm", "theta"], model_params=TEST_PARAMS,
                          select_features=True)
    table = result.feature_table
    assert sorted(set(table["family"])) == ["glm", "lightgbm"]  # theta uses no covariates
    assert len(table) == 4
    driver = table[table["group"] == "driver"]
    assert (driver["contribution"] > 0).all() and driver["kept"].all()


def test_a_panel_without_covariates_gives_an_empty_table_and_the_same_forecast(make_panel):
    panel = make_panel(n_series=2, length=50)
    kwargs = {"models": ["glm"], "model_params": TEST_PARAMS}
    plain = run_engine(panel, 5, LEVELS, **kwargs)
    selected = run_engine(panel, 5, LEVELS, select_features=True, **kwargs)
    assert selected.feature_table.empty and list(selected.feature_table.columns) == FEATURE_COLUMNS
    pd.testing.assert_frame_equal(plain.forecast, selected.forecast)
    assert plain.weights == selected.weights


def test_without_select_features_the_engine_runs_as_before():
    history, future = split_future(driver_panel())
    kwargs = {"future": future, "models": ["glm"], "model_params": TEST_PARAMS}
    default = run_engine(history, H, LEVELS, **kwargs)
    off = run_engine(history, H, LEVELS, select_features=False, **kwargs)
    assert default.feature_table.empty
    assert not isinstance(default.model.members_["glm"], KeptCovariates)  # every covariate, unwrapped
    assert default.model.members_["glm"].covariates_ == ["driver", "noise"]
    pd.testing.assert_frame_equal(default.forecast, off.forecast)
    pd.testing.assert_frame_equal(default.leaderboard.drop(columns="fit_seconds"),
                                  off.leaderboard.drop(columns="fit_seconds"))


def test_the_engine_holiday_flags_are_one_group_and_other_covariates_one_each():
    groups = feature_groups(["price", *HOLIDAY_COLUMNS, "display"])
    assert groups == [("price", ["price"]), (HOLIDAY_GROUP, HOLIDAY_COLUMNS), ("display", ["display"])]


def test_a_flag_that_no_backtest_window_covers_is_kept_untested():
    full = driver_panel()
    full["rare"] = 0.0
    full.loc[full.groupby("unique_id").cumcount() == 3, "rare"] = 1.0  # early in the history only
    history, future = split_future(full)
    result = run_engine(history, H, LEVELS, future=future, models=["glm"], model_params=TEST_PARAMS,
                        select_features=True)
    rare = result.feature_table.set_index("group").loc["rare"]
    assert not rare["tested"] and bool(rare["kept"]) and np.isnan(rare["wql_without"])
    assert "rare" in result.model.members_["glm"].kept_


def test_a_flag_first_seen_in_the_newest_backtest_window_is_kept_untested():
    full = driver_panel()
    full["new_event"] = 0.0
    full.loc[full.groupby("unique_id").cumcount() == 70, "new_event"] = 1.0  # scored there, never trained on
    history, _ = split_future(full)
    result = run_backtest(history, H, LEVELS, models=["glm"], model_params=TEST_PARAMS, select_features=True)
    new = result.feature_table.set_index("group").loc["new_event"]
    assert not new["tested"] and bool(new["kept"])


def test_a_family_that_keeps_every_group_runs_unwrapped():
    history, future = split_future(driver_panel().drop(columns="noise"))
    result = run_engine(history, H, LEVELS, future=future, models=["glm"], model_params=TEST_PARAMS,
                        select_features=True)
    assert result.feature_table["kept"].all()
    assert not isinstance(result.model.members_["glm"], KeptCovariates)


def test_a_kept_covariates_member_forecasts_as_its_model_fitted_on_those_columns():
    history, future = split_future(driver_panel())
    wrapped = make_member("glm", {**TEST_PARAMS["glm"], "kept_covariates": ["driver"]})
    assert isinstance(wrapped, KeptCovariates) and wrapped.name == "glm"
    wrapped.fit(history, freq="D")
    direct = get_model("glm", **TEST_PARAMS["glm"]).fit(history.drop(columns="noise"), freq="D")
    got = wrapped.predict_quantiles(H, future=future, quantiles=LEVELS)
    want = direct.predict_quantiles(H, future=future.drop(columns="noise"), quantiles=LEVELS)
    pd.testing.assert_frame_equal(got, want)
    assert not isinstance(make_member("glm", TEST_PARAMS["glm"]), KeptCovariates)


def test_the_forecast_command_prints_and_writes_the_feature_table(tmp_path):
    history, future = split_future(driver_panel())
    history.to_csv(tmp_path / "h.csv", index=False)
    future.to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "out.csv"
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [
        "forecast", "--history", str(tmp_path / "h.csv"), "--future", str(tmp_path / "f.csv"), "--horizon",
        str(H), "--out", str(out), "--models", "glm", "--select-features",
    ])
    assert result.exit_code == 0, result.output
    assert "feature selection" in result.output and "driver" in result.output and "noise" in result.output
    table = pd.read_csv(features_path(out))
    assert list(table.columns) == FEATURE_COLUMNS
    assert table.set_index("group").loc["driver", "kept"]
