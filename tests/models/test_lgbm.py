"""Global LightGBM quantile model (models/lgbm.py), with tiny hyperparameters."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fcplan.models.lgbm import LightGBMQuantile

TINY = {"n_estimators": 10, "levels": (0.1, 0.5, 0.9), "max_rows": 3000, "min_data_in_leaf": 5,
        "max_horizon": 7}


def make_panel(seed: int = 0) -> pd.DataFrame:
    """Three series of different scale and length, awkward ids, a gap, a promo covariate."""
    rng = np.random.default_rng(seed)
    parts = []
    for uid, level, days in [("a b/ç", 5.0, 60), ("1", 500.0, 45), ("big", 20000.0, 70)]:
        ds = pd.date_range(end="2024-03-31", periods=days, freq="D")
        weekly = 1 + 0.3 * np.sin(2 * np.pi * ds.dayofweek.to_numpy() / 7)
        promo = (rng.random(days) < 0.2).astype(float)
        y = rng.poisson(level * weekly * (1 + 0.5 * promo)).astype(float)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y, "promo": promo}))
    panel = pd.concat(parts, ignore_index=True)
    return panel.drop(index=10).reset_index(drop=True)  # a gap in "a b/ç"


def future_frame(panel: pd.DataFrame, h: int, promo: float = 0.0) -> pd.DataFrame:
    last = panel.groupby("unique_id")["ds"].max()
    return pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(end + pd.Timedelta(days=1), periods=h),
                       "promo": promo}) for uid, end in last.items()],
        ignore_index=True,
    )


def test_when_fitted_on_an_awkward_panel_then_forecast_has_every_row_and_no_crossing() -> None:
    panel = make_panel()
    model = LightGBMQuantile(**TINY).fit(panel)
    forecast = model.predict_quantiles(7, future_frame(panel, 7), quantiles=[0.1, 0.5, 0.9])
    assert list(forecast.columns) == ["unique_id", "ds", "model", "0.1", "0.5", "0.9"]
    assert len(forecast) == 3 * 7 and set(forecast["unique_id"]) == {"a b/ç", "1", "big"}
    values = forecast[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    big = forecast.loc[forecast["unique_id"] == "big", "0.5"].mean()
    small = forecast.loc[forecast["unique_id"] == "a b/ç", "0.5"].mean()
    assert big > 100 * small  # one model, yet each series keeps its own scale


def test_when_a_promotion_is_on_then_the_forecast_rises() -> None:
    rng = np.random.default_rng(1)
    parts = []
    for i in range(8):
        ds = pd.date_range("2024-01-01", periods=150, freq="D")
        promo = (rng.random(150) < 0.25).astype(float)
        y = rng.poisson(100.0 * (i + 1) * (1 + 0.5 * promo)).astype(float)
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y, "promo": promo}))
    panel = pd.concat(parts, ignore_index=True)
    model = LightGBMQuantile(n_estimators=60, levels=(0.5,), max_rows=5000, max_horizon=7).fit(panel)
    off = model.predict_quantiles(7, future_frame(panel, 7, 0.0), quantiles=[0.5])["0.5"].to_numpy()
    on = model.predict_quantiles(7, future_frame(panel, 7, 1.0), quantiles=[0.5])["0.5"].to_numpy()
    assert np.median(on / off) > 1.3


def test_when_future_is_missing_then_covariates_are_zero_and_a_warning_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    panel = make_panel()
    model = LightGBMQuantile(**TINY).fit(panel)
    with caplog.at_level(logging.WARNING):
        forecast = model.predict_quantiles(3)
    assert "promo" in caplog.text and len(forecast) == 9
    zeros = model.predict_quantiles(3, future_frame(panel, 3, 0.0))
    np.testing.assert_allclose(forecast["0.5"], zeros["0.5"])


def test_when_series_are_short_constant_or_all_zero_then_fit_and_predict_do_not_crash() -> None:
    ds = pd.date_range("2024-01-01", periods=30, freq="D")
    panel = pd.concat([
        pd.DataFrame({"unique_id": "zero", "ds": ds, "y": 0.0}),
        pd.DataFrame({"unique_id": "flat", "ds": ds, "y": 7.0}),
        pd.DataFrame({"unique_id": "short", "ds": ds[-2:], "y": [3.0, 4.0]}),
    ])
    forecast = LightGBMQuantile(**TINY).fit(panel).predict_quantiles(10)
    assert len(forecast) == 30 and np.isfinite(forecast[["0.1", "0.5", "0.9"]].to_numpy()).all()
    median = forecast.groupby("unique_id")["0.5"].mean()
    assert 0 <= median["zero"] < median["flat"]
    one_row = pd.DataFrame({"unique_id": ["x", "y"], "ds": pd.to_datetime(["2024-01-01"] * 2),
                            "y": [1.0, 2.0]})
    forecast = LightGBMQuantile(**TINY).fit(one_row, freq="D").predict_quantiles(2)
    np.testing.assert_allclose(forecast["0.5"], [1, 1, 2, 2])


def test_same_seed_gives_the_same_forecast() -> None:
    panel = make_panel()
    first = LightGBMQuantile(**TINY, seed=3).fit(panel).predict_quantiles(5, future_frame(panel, 5))
    second = LightGBMQuantile(**TINY, seed=3).fit(panel).predict_quantiles(5, future_frame(panel, 5))
    pd.testing.assert_frame_equal(first, second)


def test_several_seeds_average_their_boosters_quantiles() -> None:
    panel = make_panel()
    future = future_frame(panel, 5)
    cols = ["0.1", "0.5", "0.9"]
    singles = [LightGBMQuantile(**TINY, seed=s).fit(panel).predict_quantiles(5, future, quantiles=[0.1, 0.5, 0.9])
               for s in (4, 5, 6)]
    model = LightGBMQuantile(**TINY, seed=4, seeds=3).fit(panel)
    assert all(len(boosters) == 3 for boosters in model.boosters_.values())
    bagged = model.predict_quantiles(5, future, quantiles=[0.1, 0.5, 0.9])
    # the same rows (the panel is under max_rows), three subsampling seeds: their mean
    mean = np.mean([np.sort(f[cols].to_numpy(), axis=1) for f in singles], axis=0)
    np.testing.assert_allclose(np.sort(bagged[cols].to_numpy(), axis=1), mean, rtol=1e-6)
    assert not np.allclose(bagged[cols].to_numpy(), singles[0][cols].to_numpy())


def test_one_short_series_trains_on_twice_the_horizon_a_longer_one_or_several_series_on_the_horizon() -> None:
    panel = make_panel()
    panel = panel[panel["unique_id"] == "big"]  # 69 origins: x 14 steps under 1000 rows, over 900
    future = future_frame(panel, 7)

    def steps_learned(model: LightGBMQuantile) -> int:
        _, _, steps = model._training_rows(model.grid_, np.random.default_rng(0))
        assert model.train_horizon_ == steps.max()
        return int(steps.max())

    small = LightGBMQuantile(**{**TINY, "max_rows": 1000}).fit(panel)
    assert steps_learned(small) == 2 * TINY["max_horizon"]
    assert np.isfinite(small.predict_quantiles(7, future)[["0.1", "0.5", "0.9"]].to_numpy()).all()
    assert steps_learned(LightGBMQuantile(**{**TINY, "max_rows": 900}).fit(panel)) == TINY["max_horizon"]
    assert steps_learned(LightGBMQuantile(**TINY).fit(make_panel())) == TINY["max_horizon"]  # three series
    assert steps_learned(LightGBMQuantile(**TINY, train_horizon=9).fit(make_panel())) == 9


def test_importing_the_lightgbm_model_does_not_import_torch() -> None:
    code = "import sys, models.lgbm, models.features; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_when_fit_is_given_a_time_limit_then_training_is_capped_by_it_and_by_max_train_s(make_panel):
    panel = make_panel(n_series=2, length=60)
    model = LightGBMQuantile(n_estimators=5, min_data_in_leaf=5).fit(panel, time_limit=7.0)
    assert model.train_seconds(None, LightGBMQuantile.DEFAULT_TRAIN_S) == 7.0
    assert model.train_seconds(3.0, LightGBMQuantile.DEFAULT_TRAIN_S) == 3.0
    unlimited = LightGBMQuantile(n_estimators=5, min_data_in_leaf=5).fit(panel)
    assert unlimited.train_seconds(None, LightGBMQuantile.DEFAULT_TRAIN_S) == LightGBMQuantile.DEFAULT_TRAIN_S


def _build_up_panel(n_series: int = 6, length: int = 200, seed: int = 0) -> pd.DataFrame:
    """Daily series that rise the day *before* a known event flag (a pre-holiday build-up)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        event = (rng.random(length + 14) < 0.1).astype(float)
        y = rng.poisson(20, length + 14).astype(float) + 30.0 * np.r_[event[1:], 0.0]
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=length + 14),
                                    "y": y, "event": event}))
    return pd.concat(frames, ignore_index=True)


def test_event_leads_let_the_model_forecast_a_build_up_before_a_known_event():
    full = _build_up_panel()
    ends = full.groupby("unique_id")["ds"].transform("max")
    panel = full[full["ds"] <= ends - pd.Timedelta(days=14)]
    future = full[full["ds"] > ends - pd.Timedelta(days=14)][["unique_id", "ds", "event"]]
    actual = full[full["ds"] > ends - pd.Timedelta(days=14)]["y"].to_numpy()
    errors = {}
    for window in (0, 2):
        model = LightGBMQuantile(event_window=window, max_horizon=14, n_estimators=60, seed=0).fit(panel)
        frame = model.predict_quantiles(14, future=future, quantiles=[0.1, 0.5, 0.9])
        errors[window] = np.abs(frame["0.5"].to_numpy() - actual).mean()
    assert errors[2] < 0.7 * errors[0]


def test_a_fitted_lightgbm_moved_to_a_longer_history_forecasts_from_its_end_with_the_same_boosters() -> None:
    from fcplan.models.recursive import RecursiveLightGBM

    panel = make_panel()
    short = panel[panel.groupby("unique_id").cumcount(ascending=False) >= 7].reset_index(drop=True)
    model = LightGBMQuantile(**TINY).fit(short)
    before = model.predict_quantiles(7, future_frame(short, 7), quantiles=[0.1, 0.5, 0.9])
    moved = model.with_history(panel)
    assert moved.boosters_ is model.boosters_ and moved.spec_ == model.spec_
    forecast = moved.predict_quantiles(7, future_frame(panel, 7), quantiles=[0.1, 0.5, 0.9])
    ends = panel.groupby("unique_id")["ds"].max()
    assert (forecast.groupby("unique_id")["ds"].min() == ends + pd.Timedelta(days=1)).all()
    assert model.with_history(short).predict_quantiles(7, future_frame(short, 7), quantiles=[0.1, 0.5, 0.9]).equals(
        before)
    with pytest.raises(NotImplementedError):  # its residuals are the fitted series'
        RecursiveLightGBM(n_estimators=10, max_rows=3000, min_data_in_leaf=5).fit(short).with_history(panel)


def _boosters_one_after_the_other(model: LightGBMQuantile, panel: pd.DataFrame) -> dict[float, str]:
    """The boosters of ``model`` as its fit grew them before they were trained in threads: one
    lgb.Dataset, the boosters trained on it one after the other (the first one constructs it)."""
    import lightgbm as lgb

    from fcplan.models.features import tabular_features

    p = model.params
    grid = model._layout(panel)
    rows, origins, steps = model._training_rows(grid, np.random.default_rng(p["seed"]))
    features, scale, names = tabular_features(grid, model.spec_, rows, origins, steps, model.train_horizon_)
    dataset = lgb.Dataset(features, grid.y[rows, origins + steps] / scale, feature_name=names, free_raw_data=False,
                          params={"verbose": -1, "num_threads": 1, "max_bin": p["max_bin"]})
    return {q: lgb.train(model._booster_params(q, p["seed"]), dataset, num_boost_round=p["n_estimators"])
            .model_to_string() for q in p["levels"]}


def test_the_boosters_of_a_fit_train_in_threads_and_are_those_grown_one_after_the_other(monkeypatch) -> None:
    import os
    import threading

    import lightgbm as lgb

    import fcplan.models.lgbm as lgbm_module

    panel = make_panel()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    threads, train = [], lgb.train

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return train(*args, **kwargs)

    monkeypatch.setattr(lgb, "train", recording)
    model = LightGBMQuantile(**TINY, seed=2).fit(panel)
    assert len(threads) == 3 and all(name.startswith("fcplan-booster") for name in threads)
    monkeypatch.setattr(lgb, "train", train)
    reference = _boosters_one_after_the_other(LightGBMQuantile(**TINY, seed=2).fit(panel), panel)
    assert {q: b[0].model_to_string() for q, b in model.boosters_.items()} == reference
    monkeypatch.setattr(lgbm_module, "PARALLEL_BOOSTERS", False)
    alone = LightGBMQuantile(**TINY, seed=2).fit(panel)
    future = future_frame(panel, 5)
    pd.testing.assert_frame_equal(model.predict_quantiles(5, future), alone.predict_quantiles(5, future))


def test_boosters_of_several_threads_each_train_one_after_the_other(monkeypatch) -> None:
    import threading

    import lightgbm as lgb

    panel = make_panel()
    threads, train = [], lgb.train

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return train(*args, **kwargs)

    monkeypatch.setattr(lgb, "train", recording)
    LightGBMQuantile(**TINY, num_threads=2).fit(panel)
    assert threads == ["MainThread"] * 3  # LightGBM's own threads: no more on top of them
