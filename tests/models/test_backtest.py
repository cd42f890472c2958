import numpy as np
import pandas as pd
import pytest

from fcplan.core.panel import PanelError, validate_panel
from fcplan.models.backtest import backtest, make_splits, stack_predictions, usable_windows
from fcplan.models.base import Forecaster
from fcplan.models.baselines import SeasonalNaive


class _Broken(Forecaster):
    name = "broken"

    def _fit(self, panel):
        raise RuntimeError("boom")

    def _predict(self, h, future, quantiles):
        raise AssertionError("unreachable")


def test_windows_step_by_the_horizon_and_the_last_ends_at_the_last_observation(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    splits = make_splits(panel, horizon=5, windows=3, freq="D")
    last = panel["ds"].max()
    assert [s.cutoff for s in splits] == [last - pd.Timedelta(days=d) for d in (15, 10, 5)]
    assert splits[-1].future["ds"].max() == last
    assert all(s.train["ds"].max() == s.cutoff for s in splits)


def test_when_history_is_too_short_for_the_windows_then_the_error_says_so(make_panel):
    panel = validate_panel(make_panel(n_series=1, length=10))
    with pytest.raises(PanelError, match="fewer windows"):
        make_splits(panel, horizon=5, windows=3, freq="D")


def test_backtest_returns_forecasts_with_actuals_and_fit_time(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    results = backtest({"seasonal_naive": SeasonalNaive}, panel, 5, [0.1, 0.5, 0.9], 2, "D")
    assert [(r.model, r.window) for r in results] == [("seasonal_naive", 0), ("seasonal_naive", 1)]
    for r in results:
        assert len(r.forecast) == 10
        assert r.forecast["y"].notna().all()
        assert r.fit_seconds >= 0


def test_when_a_model_fails_then_its_windows_carry_the_error_and_others_go_on(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    results = backtest({"broken": _Broken, "seasonal_naive": SeasonalNaive}, panel, 5, [0.5], 1, "D")
    assert results[0].forecast is None and "boom" in results[0].error
    names, preds, keys = stack_predictions(results, ["0.5"])
    assert names == ["seasonal_naive"]
    assert preds.shape == (1, 10, 1)
    assert np.isfinite(keys["y"]).all()


def test_usable_windows_leave_the_oldest_cutoff_a_horizon_of_training(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=30))
    assert usable_windows(panel, horizon=15, windows=3, freq="D") == 1
    assert usable_windows(panel, horizon=10, windows=3, freq="D") == 2
    assert usable_windows(panel, horizon=5, windows=3, freq="D") == 3
    assert usable_windows(panel, horizon=20, windows=3, freq="D") == 0
    for w in (1, 2, 3):  # whatever it says fits, make_splits accepts
        n = usable_windows(panel, horizon=10, windows=w, freq="D")
        assert len(make_splits(panel, horizon=10, windows=n, freq="D")) == n
