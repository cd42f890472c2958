import logging

import numpy as np
import pytest

from fcplan.core.panel import PanelError
from fcplan.models.engine import LEADERBOARD_COLUMNS, run_backtest, run_engine

LEVELS = [0.1, 0.5, 0.9]
FAST = {"ets": {"max_iter": 15}, "sarimax": {"max_iter": 10}}


def test_the_engine_returns_an_ensemble_forecast_leaderboard_and_weights(make_panel, make_future):
    panel = make_panel(n_series=2, length=60, promo=True)
    result = run_engine(
        panel,
        7,
        LEVELS,
        future=make_future(panel, 7, promo=0.0),
        models=["ets", "sarimax"],
        model_params=FAST,
        holiday_country="US",
    )
    frame = result.forecast
    assert list(frame.columns) == ["unique_id", "ds", "model", "0.1", "0.5", "0.9"]
    assert len(frame) == 14 and set(frame["model"]) == {"ensemble"}
    values = frame[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    assert list(result.leaderboard.columns) == [*LEADERBOARD_COLUMNS, "coverage_80"]
    assert {"ensemble", "seasonal_naive", "ets", "sarimax"} <= set(result.leaderboard["model"])
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert list(result.error_correlation.index) == list(result.weights)


def test_when_a_series_is_constant_then_the_engine_reports_its_fallback(make_panel):
    panel = make_panel(n_series=2, length=50)
    panel.loc[panel["unique_id"] == "fc1", "y"] = 3.0
    result = run_engine(panel, 5, LEVELS, models=["theta"])
    assert "constant" in result.fallbacks["fc1"]
    assert "fc0" not in result.fallbacks


def test_when_a_covariate_is_not_in_future_then_it_is_not_used(make_panel, caplog):
    panel = make_panel(n_series=1, length=50, promo=True)
    with caplog.at_level(logging.INFO, logger="fcplan.models.engine"):
        result = run_engine(panel, 5, LEVELS, models=["sarimax"], model_params=FAST)
    assert "past-only" in caplog.text
    assert result.forecast[["0.1", "0.5", "0.9"]].notna().all().all()


def test_when_the_time_budget_is_tiny_then_slow_models_are_skipped(make_panel, caplog):
    panel = make_panel(n_series=20, length=40)
    with caplog.at_level(logging.WARNING, logger="fcplan.models.engine"):
        result = run_engine(panel, 5, LEVELS, models=["sarimax"], time_limit_s=0.001, model_params=FAST)
    assert "sarimax" not in result.weights
    assert "skipped" in caplog.text
    assert len(result.forecast) == 100


def test_when_a_model_name_is_unknown_then_the_error_lists_the_known_ones(make_panel):
    with pytest.raises(PanelError, match="known models"):
        run_engine(make_panel(), 5, LEVELS, models=["prophet"])


def test_the_backtest_scores_every_window_and_the_mean(make_panel):
    result = run_backtest(make_panel(n_series=2, length=50), 5, LEVELS, windows=3, models=[])
    board = result.leaderboard
    assert set(board["window"]) == {"all", "0", "1", "2"}
    assert set(board["model"]) == {"seasonal_naive", "moving_average", "ensemble"}
    assert board[["wql", "wape", "coverage"]].notna().all().all()


def _monthly(length: int):
    import pandas as pd

    t = np.arange(length)
    y = 100 + t + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 2, length)
    return pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2015-01-01", periods=length, freq="MS"), "y": y})


def test_monthly_data_is_backtested_on_four_windows_by_default(caplog):
    """Where the season is a year, the weights are chosen on up to YEARLY_WINDOWS windows (the
    old code: 2 whatever the frequency), silently fewer where the history is shorter."""
    board = run_backtest(_monthly(96), 12, LEVELS, models=[]).leaderboard
    assert set(board["window"]) == {"all", "0", "1", "2", "3"}
    caplog.clear()
    board = run_backtest(_monthly(48), 12, LEVELS, models=[]).leaderboard  # never fewer than 2
    assert set(board["window"]) == {"all", "0", "1"}
    assert "room for" not in caplog.text
    # 66 months: a fourth window would train on 18, under two years (the seasonal models fall back)
    board = run_backtest(_monthly(66), 12, LEVELS, models=[]).leaderboard
    assert set(board["window"]) == {"all", "0", "1", "2"}
    board = run_backtest(_monthly(96), 12, LEVELS, windows=2, models=[]).leaderboard  # as asked
    assert set(board["window"]) == {"all", "0", "1"}


def test_daily_data_keeps_two_backtest_windows_by_default(make_panel):
    board = run_backtest(make_panel(n_series=1, length=120), 7, LEVELS, models=[]).leaderboard
    assert set(board["window"]) == {"all", "0", "1"}


def test_a_short_history_is_backtested_on_the_windows_it_has_room_for(make_panel, caplog):
    """A new center (30 days, horizon 15): one window instead of failing every retrain."""
    result = run_engine(make_panel(n_series=2, length=30), 15, LEVELS, windows=3, models=[])
    assert set(result.leaderboard["window"]) == {"all", "0"}
    assert "room for 1 of the 3 backtest windows" in caplog.text
    assert len(result.forecast) == 2 * 15 * len(set(result.forecast["model"]))


def test_the_ensemble_leaderboard_scores_each_window_with_weights_chosen_on_the_others():
    from fcplan.models.engine import nested_combination

    y = np.arange(1.0, 41.0)
    groups = np.repeat([0, 1], 20)
    good_then_bad = np.where(groups == 0, y, y + 10.0)
    bad_then_good = np.where(groups == 0, y + 10.0, y)
    preds = np.stack([np.repeat(p[:, None], 3, axis=1) for p in (good_then_bad, bad_then_good)])
    honest = nested_combination(preds, y, LEVELS, groups)
    # window 0 is forecast with the model that won window 1, and vice versa
    np.testing.assert_allclose(honest[groups == 0, 1], y[groups == 0] + 10.0)
    np.testing.assert_allclose(honest[groups == 1, 1], y[groups == 1] + 10.0)


def test_when_weighted_members_disagree_and_their_bands_are_narrow_then_their_median_spread_widens_the_band():
    from fcplan.models.engine import choose_disagreement

    rng = np.random.default_rng(0)
    level = np.linspace(50.0, 150.0, 200)
    groups = np.repeat([0, 1], 100)
    y = level + rng.normal(0.0, 5.0, 200)
    # two members 10 apart, each sure of itself (+-1); the truth lies between them, sd 5
    narrow = np.stack([(level + o)[:, None] + np.array([-1.0, 0.0, 1.0]) for o in (-5.0, 5.0)])
    assert choose_disagreement(narrow, y, LEVELS, groups) == 1.0
    # members that agree, with honest bands: nothing to add
    z = 1.2815515655446004
    honest = np.stack([level[:, None] + np.array([-5.0 * z, 0.0, 5.0 * z])] * 2)
    assert choose_disagreement(honest, y, LEVELS, groups) == 0.0


def test_without_a_time_limit_the_default_pool_leaves_out_local_models_too_costly_for_the_data(make_panel):
    from fcplan.models.engine import MAX_DEFAULT_CELLS, default_pool

    small = make_panel(n_series=2, length=60)
    assert default_pool(["sarimax", "ets", "theta"], small) == ["sarimax", "ets", "theta"]
    per_series = 365  # sarimax fits on at most its last 365 points
    big = make_panel(n_series=MAX_DEFAULT_CELLS["sarimax"] // per_series + 1, length=400)
    assert default_pool(["sarimax", "theta"], big) == ["theta"]


def test_the_default_pool_leaves_out_deepar_where_series_are_short_for_its_windows(make_panel):
    from fcplan.models.engine import MIN_DEEPAR_WINDOWS, MIN_NETWORK_SERIES, default_pool

    n = MIN_NETWORK_SERIES  # enough series for the networks (see the next test)
    weekly = make_panel(n_series=n, length=120, freq="W-SUN")  # window: 2 seasons (104) + 8 steps
    assert default_pool(["deepar", "mlp"], weekly, "W-SUN", 8) == ["mlp"]
    width = 28 + 14  # daily: 28 steps of context + the horizon
    short = make_panel(n_series=n, length=MIN_DEEPAR_WINDOWS * width - 1, freq="D")
    assert default_pool(["deepar", "mlp"], short, "D", 14) == ["mlp"]
    long = make_panel(n_series=n, length=MIN_DEEPAR_WINDOWS * width, freq="D")
    assert default_pool(["deepar", "mlp"], long, "D", 14) == ["deepar", "mlp"]
    assert default_pool(["deepar", "mlp"], short) == ["deepar", "mlp"]  # without freq and horizon: kept


def test_the_default_pool_leaves_out_the_global_networks_on_a_panel_of_few_series(make_panel):
    """One series of a few hundred steps (jfk_daily): MLP and TiDE forecast 1.4-54x the
    ensemble's backtest wQL on such panels, with no weight; a global network needs series to learn across."""
    pytest.importorskip("torch")
    from fcplan.models.engine import MIN_DEEPAR_WINDOWS, default_pool

    pool = ["glm", "mlp", "tide", "deepar"]
    long = MIN_DEEPAR_WINDOWS * (28 + 14)  # long enough for DeepAR's windows
    for n_series in (1, 3):  # jfk_daily, flights_origin_daily
        assert default_pool(pool, make_panel(n_series=n_series, length=long, freq="D"), "D", 14) == ["glm"]
    many = make_panel(n_series=7, length=long, freq="D")  # tuna_weekly's 7, where they earn weight
    assert default_pool(pool, many, "D", 14) == pool
    # a caller who names them gets them
    one = make_panel(n_series=1, length=120, freq="D")
    result = run_engine(one, 7, LEVELS, models=["seasonal_naive", "mlp"], windows=1, calibration="none",
                        model_params={"mlp": {"epochs": 1, "batches_per_epoch": 2, "hidden": 4}})
    assert "mlp" in set(result.leaderboard["model"])


def test_the_default_pool_leaves_out_opt_in_models_which_models_can_name():
    from fcplan.models.engine import OPT_IN, _check_request
    from fcplan.models.registry import MODELS

    assert "lightgbm_recursive" in OPT_IN and "lightgbm_recursive" in MODELS
    _, default = _check_request([0.1, 0.5, 0.9], None)
    assert "lightgbm_recursive" not in default and "lightgbm" in default
    _, named = _check_request([0.1, 0.5, 0.9], ["lightgbm", "lightgbm_recursive"])
    assert "lightgbm_recursive" in named


def test_members_under_the_minimum_weight_are_dropped_and_the_others_reweighted():
    from fcplan.models.engine import prune_weights
    from fcplan.models.ensemble import select_weights

    rng = np.random.default_rng(0)
    y = rng.normal(100.0, 10.0, 400)
    levels = [0.1, 0.5, 0.9]
    spread = np.array([-12.0, 0.0, 12.0])
    preds = np.stack([y[:, None] + rng.normal(0, s, (400, 1)) + spread for s in (3.0, 6.0, 6.5, 40.0)])
    groups = np.repeat([0, 1], 200)
    raw = select_weights(preds, y, levels, groups=groups)
    cut = float(np.sort(raw[raw > 0])[1]) + 1e-9  # drops the two least-weighted members that got any
    assert (raw > 0).sum() >= 3
    pruned = prune_weights(preds, y, levels, groups, 0, min_weight=cut)
    assert np.isclose(pruned.sum(), 1.0)
    assert (pruned[raw < cut] == 0).all() and (pruned[raw >= cut] > 0).all()
    assert np.array_equal(prune_weights(preds, y, levels, groups, 0, min_weight=0.0), raw)


def test_under_a_budget_a_global_model_gets_a_time_limit_for_fit_and_the_horizon_it_needs(make_panel):
    pytest.importorskip("lightgbm")
    panel = make_panel(n_series=2, length=60)
    result = run_backtest(panel, 5, LEVELS, models=["lightgbm"], time_limit_s=30.0,
                          model_params={"lightgbm": {"n_estimators": 10, "min_data_in_leaf": 5}})
    assert "lightgbm" in result.members
    assert result.params["lightgbm"]["max_horizon"] == 5
    assert 0 < result.time_limits["lightgbm"] <= 0.5 * 30.0 / 3


DETERMINISM_PARAMS = {
    "lightgbm": {"n_estimators": 20, "min_data_in_leaf": 5},
    "mlp": {"epochs": 3, "batches_per_epoch": 4, "hidden": 8},
}


def _forecast_values(panel, models=("lightgbm", "mlp")) -> np.ndarray:
    result = run_engine(panel, 5, LEVELS, models=list(models), model_params=DETERMINISM_PARAMS,
                        calibration_windows=1)
    return result.forecast[["0.1", "0.5", "0.9"]].to_numpy()


def test_without_a_time_limit_the_forecast_does_not_depend_on_how_fast_the_clock_runs(make_panel, monkeypatch):
    pytest.importorskip("lightgbm")
    import time

    panel = make_panel(n_series=2, length=50)
    calm = _forecast_values(panel, ["theta", "lightgbm"])
    real = time.perf_counter
    calls = iter(range(10**9))
    # a machine so loaded that every clock read is 1000 s after the previous one
    monkeypatch.setattr(time, "perf_counter", lambda: real() + 1000.0 * next(calls))
    np.testing.assert_array_equal(_forecast_values(panel, ["theta", "lightgbm"]), calm)


@pytest.mark.slow
def test_without_a_time_limit_the_forecast_is_the_same_while_another_process_hogs_the_cpu(make_panel):
    pytest.importorskip("lightgbm")
    pytest.importorskip("torch")
    import subprocess
    import sys

    panel = make_panel(n_series=3, length=60)
    calm = _forecast_values(panel)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = _forecast_values(panel)
    finally:
        hog.kill()
        hog.wait()
    np.testing.assert_array_equal(busy, calm)


def test_bagged_members_vary_seed_and_lookback_and_join_the_pool(make_panel):
    pytest.importorskip("lightgbm")
    from fcplan.models.bagging import bagged, base_name

    variants = bagged(["seasonal_naive", "lightgbm", "theta"], bags=3)
    assert "seasonal_naive#1" not in variants  # baselines are not bagged
    assert variants["lightgbm#1"]["seed"] == 1 and variants["lightgbm#2"]["seed"] == 2
    assert variants["lightgbm#1"]["max_history"] < 730 and "seed" not in variants.get("theta#1", {})
    assert base_name("lightgbm#2") == "lightgbm"
    panel = make_panel(n_series=2, length=60)
    result = run_backtest(panel, 5, LEVELS, models=["lightgbm"], bags=2,
                          model_params={"lightgbm": {"n_estimators": 10, "min_data_in_leaf": 5}})
    assert {"lightgbm", "lightgbm#1"} <= set(result.members)
    assert result.params["lightgbm#1"]["n_estimators"] == 10 and result.params["lightgbm#1"]["seed"] == 1


def test_the_run_keeps_the_error_correlation_of_its_top_weighted_members():
    import pandas as pd

    from fcplan.models.engine import member_correlation

    names = ["a", "b", "c"]
    corr = pd.DataFrame([[1.0, 0.5, 0.1], [0.5, 1.0, np.nan], [0.1, np.nan, 1.0]], index=names, columns=names)
    kept = member_correlation(corr, {"a": 0.2, "b": 0.0, "c": 0.8}, top=8)
    assert list(kept) == ["c", "a"]  # by weight, members without weight left out
    assert kept["c"] == {"c": 1.0, "a": 0.1}
    assert member_correlation(corr, {"a": 0.5, "b": 0.3, "c": 0.2}, top=2)["b"]["a"] == 0.5


def test_on_a_panel_of_few_series_the_calibration_gets_older_windows_too(make_panel):
    from fcplan.models.conformal import Calibration
    from fcplan.models.engine import calibration_windows
    from fcplan.models.ensemble import SpreadCalibration

    assert calibration_windows(1, 2) == 4 and calibration_windows(100, 2) == 0
    panel = make_panel(n_series=1, length=120)
    result = run_backtest(panel, 7, LEVELS, models=["theta"])
    assert isinstance(result.calibration, Calibration) and result.calibration.windows == 6
    assert set(result.leaderboard["window"]) == {"all", "0", "1"}  # calibration windows are not scored
    assert isinstance(run_backtest(panel, 7, LEVELS, models=["theta"], calibration="spread").calibration,
                      SpreadCalibration)
    with pytest.raises(ValueError, match="conformal"):
        run_backtest(panel, 7, LEVELS, calibration="wide")


@pytest.mark.slow
def test_on_a_large_panel_global_networks_train_a_fixed_number_of_steps_whatever_the_series(
    make_panel, monkeypatch
):
    pytest.importorskip("torch")
    from fcplan.models.engine import LARGE_PANEL_CELLS, LARGE_PANEL_PARAMS, default_pool
    from fcplan.models.neural import training

    seen: list[tuple[str, int, int]] = []

    def record(net, batch_loss, epochs, batches_per_epoch, learning_rate, max_train_s, seed, name="model"):
        seen.append((name, epochs, batches_per_epoch))
        return []

    monkeypatch.setattr(training, "train", record)
    length = 60
    for n_series in (LARGE_PANEL_CELLS // length + 1, 2 * LARGE_PANEL_CELLS // length):  # two sizes past it
        panel = make_panel(n_series=n_series, length=length)
        assert "deepar" not in default_pool(["deepar", "mlp"], panel)
        run_backtest(panel, 7, LEVELS, models=["mlp", "tide"], windows=1, calibration="none")
    budget = {n: p["epochs"] * p["batches_per_epoch"] for n, p in LARGE_PANEL_PARAMS.items()}
    steps = [(name, epochs * batches) for name, epochs, batches in seen]
    assert sorted(steps) == sorted([("mlp", budget["mlp"]), ("tide", budget["tide"])] * 2)
    # a small panel keeps the step budget of its data (passes over its windows), and the
    # caller's parameters win on a large one
    seen.clear()
    run_backtest(make_panel(n_series=2, length=length), 7, LEVELS, models=["mlp"], windows=1, calibration="none")
    big = make_panel(n_series=LARGE_PANEL_CELLS // length + 1, length=length)
    run_backtest(big, 7, LEVELS, models=["mlp"], windows=1, calibration="none",
                 model_params={"mlp": {"epochs": 3, "batches_per_epoch": 7}})
    assert [s for s in seen if s[0] == "mlp"][-1][1:] == (3, 7)
    assert seen[0][1] * seen[0][2] < budget["mlp"]


@pytest.mark.slow
def test_a_mid_size_panel_trains_its_networks_no_longer_than_a_large_one(make_panel, monkeypatch):
    """Below LARGE_PANEL_CELLS a network trains ``passes`` over its windows, but never more
    batches than a large panel's fixed budget (it was up to 4 times that)."""
    pytest.importorskip("torch")
    from fcplan.models.engine import LARGE_PANEL_CELLS, LARGE_PANEL_PARAMS
    from fcplan.models.neural import training

    seen: list[int] = []

    def record(net, batch_loss, epochs, batches_per_epoch, learning_rate, max_train_s, seed, name="model"):
        seen.append(epochs * batches_per_epoch)
        return []

    monkeypatch.setattr(training, "train", record)
    length = 400
    panel = make_panel(n_series=LARGE_PANEL_CELLS // length - 5, length=length)  # ~36k windows
    run_backtest(panel, 7, LEVELS, models=["mlp", "tide"], windows=1, calibration="none")
    budget = max(p["epochs"] * p["batches_per_epoch"] for n, p in LARGE_PANEL_PARAMS.items() if n != "deepar")
    assert seen and max(seen) <= budget
    assert min(seen) >= training.MIN_BATCHES


def test_local_models_backtest_in_a_worker_process_with_the_same_results(make_panel, monkeypatch):
    from fcplan.models import engine

    panel = make_panel(n_series=2, length=60)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    assert engine._offloaded(["seasonal_naive", "theta", "glm"], panel, None) == ["theta", "glm"]
    # with networks in the pool, this process trains them and the worker takes all the rest
    assert engine._offloaded(["seasonal_naive", "theta", "glm", "mlp"], panel, None) == [
        "seasonal_naive", "theta", "glm"]
    assert engine._offloaded(["theta"], panel, 30.0) == []
    parallel = run_backtest(panel, 7, LEVELS, models=["theta"], windows=1, calibration="none")
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 1)
    assert engine._offloaded(["theta"], panel, None) == []
    serial = run_backtest(panel, 7, LEVELS, models=["theta"], windows=1, calibration="none")
    assert parallel.weights == serial.weights
    cols = ["model", "window", "wql", "wape", "coverage"]
    assert parallel.leaderboard[cols].equals(serial.leaderboard[cols])


def test_work_submitted_from_a_thread_gives_the_result_or_the_error():
    import operator

    from fcplan.models.workers import Submitted, worker

    with worker() as pool:
        assert Submitted(pool, operator.add, 2, 3).result() == 5
        with pytest.raises(ZeroDivisionError):
            Submitted(pool, operator.truediv, 1, 0).result()
    with pytest.raises(RuntimeError):  # a pool shut down before the submission: its error, not a hang
        Submitted(pool, operator.add, 2, 3).result()


def test_workers_leave_what_the_fork_server_imported_out_of_their_garbage_collections():
    import gc

    from fcplan.models.workers import Submitted, worker

    with worker() as pool:
        assert Submitted(pool, gc.get_freeze_count).result() > 10_000  # pandas, statsmodels, LightGBM...


def test_shared_work_runs_in_both_processes_and_comes_back_in_order():
    import operator
    import os
    import time

    from fcplan.models.workers import Shared

    shared = Shared(operator.call, [os.getpid] * 6)
    # Until the worker's feeding thread has taken the first item (a fixed 0.2 s sleep assumed it
    # had, on a busy machine too): this process then runs the items the worker has not taken.
    deadline = time.monotonic() + 120
    while len(shared._queue) == 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = shared.results()
    assert len(pids) == 6 and pids[0] != os.getpid()
    assert set(pids) <= {pids[0], os.getpid()}
    assert Shared(operator.add, [1, 2, 3], 10).results() == [11, 12, 13]
    with pytest.raises(ZeroDivisionError):
        Shared(operator.truediv, [1, 2], 0).results()


def test_the_race_shares_its_first_window_costliest_first(make_panel, monkeypatch):
    from fcplan.models import engine

    assert engine._costliest_first(["seasonal_naive", "glm", "lightgbm", "theta", "sarimax"]) == [
        "sarimax", "lightgbm", "theta", "glm", "seasonal_naive"]
    panel = make_panel(n_series=2, length=60)
    runs = []
    for cores in (1, 2):
        monkeypatch.setattr(engine.os, "cpu_count", lambda cores=cores: cores)
        runs.append(run_backtest(panel, 7, LEVELS, models=["theta", "glm", "ets"], windows=2, calibration="none",
                                 model_params=FAST))
    serial, parallel = runs
    assert parallel.weights == serial.weights
    cols = ["model", "window", "wql", "wape", "coverage"]
    assert parallel.leaderboard[cols].equals(serial.leaderboard[cols])


def test_fits_are_placed_longest_first_on_the_less_loaded_process_networks_here(monkeypatch):
    from fcplan.models import engine

    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    names = ["theta", "mlp", "sarimax", "ets", "glm"]
    # a LightGBM fit of 0.6 s goes to the worker while this process trains a network of 0.3 s
    assert engine._placed_away(["lightgbm", "mlp"], [0.6, 0.3], None) == [True, False]
    monkeypatch.setattr(engine, "WORKER_MIN_SECONDS", 1.0)
    # mlp (4 s) stays here; sarimax (6 s) goes away (1 s start + 6 s), ets (3 s) here (4 + 3),
    # theta here (a tie: 7 and 7), glm away (7 < 7.5)
    assert engine._placed_away(names, [0.5, 4.0, 6.0, 3.0, 0.1], None) == [False, False, True, False, True]
    # too little work to be worth a worker, and never under a time budget
    assert engine._placed_away(["theta", "glm"], [0.3, 0.2], None) == [False, False]
    assert engine._placed_away(["lightgbm", "mlp"], [0.6, 0.3], None) == [False, False]
    assert engine._placed_away(names, [0.5, 4.0, 6.0, 3.0, 0.1], 60.0) == [False] * 5
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 1)
    assert engine._placed_away(names, [0.5, 4.0, 6.0, 3.0, 0.1], None) == [False] * 5


def test_calibration_windows_refit_the_members_of_material_weight(monkeypatch):
    from fcplan.models import engine

    weights = {"seasonal_naive": 0.0, "lightgbm": 0.77, "ets": 0.21, "sarimax": 0.02}
    assert engine.calibration_members(weights, 0.05) == ["lightgbm", "ets"]
    assert engine.calibration_members(weights, 0.0) == ["lightgbm", "ets", "sarimax"]
    assert engine.calibration_members({"theta": 0.3, "ets": 0.3, "glm": 0.4}, 0.5) == ["glm"]  # the heaviest


def test_calibration_windows_fitted_in_a_worker_give_the_same_calibration(make_panel, monkeypatch):
    from fcplan.models import engine

    panel = make_panel(n_series=2, length=90)
    from fcplan.models.workers import worker

    started = []
    monkeypatch.setattr(engine, "worker", lambda: started.append(1) or worker())
    runs = []
    for cores, seconds in ((1, None), (2, 10.0)):
        monkeypatch.setattr(engine.os, "cpu_count", lambda cores=cores: cores)
        if seconds is not None:  # every fit looks costly: the calibration fits are shared with the worker
            monkeypatch.setattr(engine, "_mean_fit_seconds", lambda results, s=seconds: {
                r.model: s for r in results})
        runs.append(run_backtest(panel, 7, LEVELS, models=["theta", "ets"], windows=1, calibration_windows=2,
                                 model_params=FAST))
    serial, parallel = runs
    assert started  # the parallel run's calibration fits shared the work with a worker
    assert parallel.weights == serial.weights
    np.testing.assert_array_equal(parallel.calibration.offsets, serial.calibration.offsets)


def test_an_ensemble_fits_members_in_a_worker_process_with_the_same_forecast(make_panel):
    from fcplan.models.ensemble import EnsembleForecaster
    from fcplan.models.registry import get_model

    panel = make_panel(n_series=3, length=60)

    def forecast(in_worker: list[str]):
        members = {"theta": get_model("theta"), "glm": get_model("glm")}
        ensemble = EnsembleForecaster(members, {"theta": 0.4, "glm": 0.6}, in_worker=in_worker)
        return ensemble.fit(panel).predict_quantiles(7, quantiles=LEVELS)

    assert forecast(["theta"]).equals(forecast([]))


def _window_result(model: str, values: np.ndarray, y: np.ndarray):
    import pandas as pd

    from fcplan.models.backtest import WindowResult

    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=len(y)), "model": model})
    for q, shift in zip(LEVELS, (-1.0, 0.0, 1.0), strict=True):
        frame[str(q)] = values + shift
    frame["y"], frame["scale"] = y, 1.0
    return WindowResult(model, 1, pd.Timestamp("2023-12-31"), frame, 0.1)


def test_the_race_stops_models_without_weight_far_behind_the_best_but_never_a_baseline():
    from fcplan.models.engine import raced_out

    y = np.linspace(10.0, 30.0, 40)
    results = [
        _window_result("glm", y + 0.5, y),
        _window_result("theta", y + 0.7, y),  # behind, no weight, but within the ratio: runs on
        _window_result("mlp", y + 20.0, y),  # far behind and no weight: stopped
        _window_result("seasonal_naive", y + 20.0, y),  # a baseline: runs on
    ]
    assert raced_out(results, LEVELS, seed=0) == ["mlp"]
    assert raced_out(results, LEVELS, seed=0, ratio=0.0) == []
    assert raced_out(results, LEVELS, seed=0, ratio=100.0, network_ratio=100.0) == []


def test_the_race_stops_a_network_without_weight_even_within_the_ratio_but_not_another_model():
    """A network (the costliest member on small panels) with no weight in the newest window
    is stopped even where its wQL is within RACE_RATIO of the best; another model there runs on."""
    from fcplan.models.engine import raced_out

    y = np.linspace(10.0, 30.0, 40)
    results = [
        _window_result("glm", y + 0.5, y),
        _window_result("theta", y + 0.7, y),  # behind, no weight, within the ratio: runs on
        _window_result("tide", y + 0.7, y),  # the same, but a network: stopped
        _window_result("seasonal_naive", y + 20.0, y),
    ]
    assert raced_out(results, LEVELS, seed=0) == ["tide"]
    assert raced_out(results, LEVELS, seed=0, network_ratio=1.5) == []  # the rule before
    assert raced_out(results, LEVELS, seed=0, ratio=0.0) == []  # racing off


def test_a_raced_out_model_is_scored_on_the_newest_window_only_and_gets_no_weight(make_panel, monkeypatch):
    import fcplan.models.engine as engine

    calls = []
    monkeypatch.setattr(engine, "raced_out", lambda results, *a, **k: calls.append(results) or ["theta"])
    result = run_backtest(make_panel(n_series=2, length=60), 5, LEVELS, windows=3, models=["theta", "ets"])
    board = result.leaderboard
    assert {r.window for r in calls[0]} == {2}  # raced on the newest window
    assert set(board.loc[board["model"] == "theta", "window"]) == {"2", "all"}
    assert set(board.loc[board["model"] == "ets", "window"]) == {"0", "1", "2", "all"}
    assert "theta" not in result.members and result.weights.get("theta", 0.0) == 0.0
    monkeypatch.setattr(engine, "RACE_RATIO", 0.0)
    board = run_backtest(make_panel(n_series=2, length=60), 5, LEVELS, windows=3, models=["theta", "ets"]).leaderboard
    assert set(board.loc[board["model"] == "theta", "window"]) == {"0", "1", "2", "all"}


def test_closed_days_are_neither_calibration_evidence_nor_recalibrated():
    """A day the forecast is sure is shut (every quantile 0) and was: as evidence it read as
    covered at every upper level, pulling the open days' offsets down; applied back, the offsets
    booked orders on it."""
    from fcplan.models.engine import Evidence, _calibrated, fit_calibration

    levels = [0.1, 0.5, 0.9]
    rng = np.random.default_rng(0)
    n_open, n_shut = 120, 20
    median = np.full(n_open, 100.0)
    open_pred = np.column_stack([median - 10, median, median + 10])
    open_y = median + rng.normal(0, 15, n_open)  # bands too narrow: the 0.9 offset widens them

    def evidence(pred, y):
        n = len(y)
        return Evidence(pred, y, np.arange(n) % 4, np.zeros(n, dtype=int), np.full(n, 10.0), np.zeros((n, 0), bool))

    alone = fit_calibration("conformal", evidence(open_pred, open_y), levels)
    mixed = evidence(np.vstack([open_pred, np.zeros((n_shut, 3))]), np.concatenate([open_y, np.zeros(n_shut)]))
    calibration = fit_calibration("conformal", mixed, levels)
    np.testing.assert_allclose(calibration.offsets, alone.offsets)
    assert calibration.offsets[0, -1] > 0
    out = _calibrated(calibration, mixed, levels)
    assert (out[n_open:] == 0).all()
    assert (out[:n_open, -1] > open_pred[:, -1]).all()


@pytest.mark.parametrize("reuse", [True, False])
def test_the_final_forecast_reuses_the_networks_newest_backtest_fit(make_panel, monkeypatch, reuse):
    pytest.importorskip("torch")
    from fcplan.models import engine
    from fcplan.models.neural import MLPQuantile

    fits = []
    original = MLPQuantile._fit
    monkeypatch.setattr(MLPQuantile, "_fit", lambda self, panel: fits.append(len(panel)) or original(self, panel))
    monkeypatch.setattr(engine, "REUSE_NETWORK_FITS", reuse)
    monkeypatch.setattr(engine, "RACE_RATIO", 0)
    # every member weighted: the tiny network is in the ensemble whatever its score
    monkeypatch.setattr(engine, "prune_weights", lambda preds, *a, **k: np.full(len(preds), 1 / len(preds)))
    panel = make_panel(n_series=3, length=120)
    tiny = {"epochs": 2, "batches_per_epoch": 5, "batch_size": 16, "hidden": 8}
    result = run_engine(panel, 7, LEVELS, models=["mlp"], windows=2, calibration_windows=0,
                        model_params={"mlp": tiny})
    assert result.weights["mlp"] > 0
    assert len(fits) == (2 if reuse else 3)  # the two backtest windows, and a refit without reuse
    # reused: the newest window's fit (on all but the last 7 steps); else a refit on the whole panel
    assert max(fits) == (len(panel) - 3 * 7 if reuse else len(panel))
    ends = panel.groupby("unique_id", sort=False)["ds"].max()
    assert (result.model.members_["mlp"].last_ds_ == ends).all()  # it forecasts from the panel's end
    frame = result.forecast
    assert len(frame) == 3 * 7 and np.isfinite(frame[["0.1", "0.5", "0.9"]].to_numpy()).all()
    assert engine._reused("mlp") == reuse and not engine._reused("lightgbm")


def test_the_final_fits_run_beside_the_calibration_fits_with_the_same_forecast(make_panel, monkeypatch):
    from fcplan.models import engine, ensemble

    panel = make_panel(n_series=2, length=90)
    fitted_by_ensemble = []
    fit_members = ensemble.fit_members
    monkeypatch.setattr(ensemble, "fit_members", lambda members, *args: fitted_by_ensemble.extend(members)
                        or fit_members(members, *args))
    runs = []
    for cores, seconds in ((1, None), (2, 10.0)):
        monkeypatch.setattr(engine.os, "cpu_count", lambda cores=cores: cores)
        if seconds is not None:  # every fit looks costly: the fits are shared with the worker
            monkeypatch.setattr(engine, "_mean_fit_seconds", lambda results, s=seconds: {
                r.model: s for r in results})
        fitted_by_ensemble.clear()
        runs.append(run_engine(panel, 7, LEVELS, models=["theta", "ets"], windows=1, calibration_windows=2,
                               model_params=FAST))
    serial, parallel = runs
    members = [n for n, w in parallel.weights.items() if w > 0]
    assert set(parallel.model.members_) == set(members)
    assert fitted_by_ensemble == []  # the parallel run's members came fitted from the calibration's jobs
    assert parallel.weights == serial.weights
    assert parallel.forecast.equals(serial.forecast)
