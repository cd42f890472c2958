from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from fcplan.core.panel import PanelError, validate_panel
from fcplan.models.backtest import (
    GRID_ANCHOR,
    backtest,
    make_splits,
    stack_predictions,
    usable_windows,
    window_cutoffs,
)
from fcplan.models.base import Forecaster
from fcplan.models.baselines import SeasonalNaive


class _Broken(Forecaster):
    name = "broken"

    def _fit(self, panel):
        raise RuntimeError("boom")

    def _predict(self, h, future, quantiles):
        raise AssertionError("unreachable")


def test_windows_step_by_the_horizon_and_the_last_is_the_newest_grid_window_ending_by_the_last_day(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    splits = make_splits(panel, horizon=5, windows=3, freq="D", grid=True)
    last = panel["ds"].max()
    lag = (last - GRID_ANCHOR).days % 5 + 5
    assert [s.cutoff for s in splits] == [last - pd.Timedelta(days=d) for d in (lag + 10, lag + 5, lag)]
    assert all((s.cutoff - GRID_ANCHOR).days % 5 == 0 for s in splits)
    assert last - pd.Timedelta(days=4) <= splits[-1].future["ds"].max() <= last
    assert all(s.train["ds"].max() == s.cutoff for s in splits)


def test_by_default_the_newest_window_ends_at_the_last_observation(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    splits = make_splits(panel, horizon=5, windows=3, freq="D")
    last = panel["ds"].max()
    assert [s.cutoff for s in splits] == [last - pd.Timedelta(days=d) for d in (15, 10, 5)]
    assert splits[-1].future["ds"].max() == last


@pytest.mark.parametrize("freq", ["D", "h", "MS", "W-SUN"])
def test_runs_a_step_apart_share_their_windows_on_the_calendar_grid(freq):
    offset = pd.tseries.frequencies.to_offset(freq)
    shared = 0
    for day in range(14):
        last = pd.Timestamp("2026-03-01") + offset * day
        first = last - offset * 100
        today = window_cutoffs(first, last, 7, 3, freq, grid=True)
        tomorrow = window_cutoffs(first, last + offset, 7, 3, freq, grid=True)
        assert len(set(today) & set(tomorrow)) >= 2  # at most the oldest drops out when the grid moves on
        assert all(c + offset * 7 <= last for c in today)
        shared += today == tomorrow
    assert shared == 12  # the grid moves on twice in 14 steps


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
    first, last = panel["ds"].min(), panel["ds"].max()
    for horizon in (5, 10, 15, 20):
        n = usable_windows(panel, horizon=horizon, windows=9, freq="D", grid=True)
        cutoffs = window_cutoffs(first, last, horizon, n + 1, "D", grid=True)  # one more window than fits
        assert (cutoffs[0] - first).days + 1 < horizon
        assert n == 0 or (cutoffs[1] - first).days + 1 >= horizon
    assert usable_windows(panel, horizon=5, windows=3, freq="D", grid=True) == 3
    assert usable_windows(panel, horizon=15, windows=3, freq="D", grid=True) == 1  # the newest window, off the grid
    assert usable_windows(panel, horizon=20, windows=3, freq="D", grid=True) == 0
    assert usable_windows(panel, horizon=10, windows=3, freq="D") == 2  # the newest window ends at the last day
    for grid in (False, True):
        for w in (1, 2, 3):  # whatever it says fits, make_splits accepts
            n = usable_windows(panel, horizon=10, windows=w, freq="D", grid=grid)
            assert len(make_splits(panel, horizon=10, windows=n, freq="D", grid=grid)) == n


def test_a_grid_step_shorter_than_the_horizon_gives_overlapping_windows_on_a_weekly_grid():
    first, last = pd.Timestamp("2026-01-04"), pd.Timestamp("2026-02-28")  # 56 days, as the demo starts
    cutoffs = window_cutoffs(first, last, 15, 3, "D", grid=True, step=7)
    assert [(b - a).days for a, b in pairwise(cutoffs)] == [7, 7]
    assert all((c - GRID_ANCHOR).days % 7 == 0 for c in cutoffs)
    assert 15 <= (last - cutoffs[-1]).days <= 21  # the newest window ends by the last day, at most a week before
    with pytest.raises(ValueError, match="step must be at least 1"):
        window_cutoffs(first, last, 15, 3, "D", grid=True, step=0)


def test_when_history_is_short_then_a_weekly_grid_fits_more_windows_than_a_horizon_grid(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=56))
    assert usable_windows(panel, horizon=15, windows=9, freq="D", grid=True) <= 2
    n = usable_windows(panel, horizon=15, windows=9, freq="D", grid=True, step=7)
    assert n >= 3
    splits = make_splits(panel, horizon=15, windows=n, freq="D", grid=True, step=7)
    assert len(splits) == n and all(len(s.train["ds"].unique()) >= 15 for s in splits)


def test_runs_made_on_consecutive_days_share_all_but_at_most_one_window_on_a_weekly_grid():
    for day in range(21):
        last = pd.Timestamp("2026-03-01") + pd.Timedelta(days=day)
        first = last - pd.Timedelta(days=55)
        today = window_cutoffs(first, last, 15, 3, "D", grid=True, step=7)
        tomorrow = window_cutoffs(first + pd.Timedelta(days=1), last + pd.Timedelta(days=1), 15, 3, "D", True, 7)
        assert len(set(today) & set(tomorrow)) >= 2
        week_later = window_cutoffs(first, last + pd.Timedelta(days=6), 15, 3, "D", grid=True, step=7)
        assert len(set(today) & set(week_later)) >= 2  # a champion up to 6 days old still shares 2 of 3


def test_without_the_grid_a_step_spaces_the_windows_from_the_last_observation(make_panel):
    panel = validate_panel(make_panel(n_series=2, length=40))
    last = panel["ds"].max()
    splits = make_splits(panel, horizon=5, windows=3, freq="D", step=2)
    assert [s.cutoff for s in splits] == [last - pd.Timedelta(days=d) for d in (9, 7, 5)]


# A series that ended before the others (or sat on another weekday) had no step in its
# window: its points' steps were NaN, cast to int as -2**63 for the conformal buckets.
def test_point_steps_count_from_each_series_own_end(make_panel):
    from fcplan.models.backtest import point_evidence

    panel = make_panel(n_series=2, length=40)
    early_end = (panel["unique_id"] == "fc1") & (panel["ds"] > panel["ds"].max() - pd.Timedelta(days=6))
    panel = validate_panel(panel[~early_end])
    splits = make_splits(panel, horizon=4, windows=2, freq="D")
    keys = pd.concat([split.future.assign(window=split.window) for split in splits], ignore_index=True)
    points = point_evidence(keys, splits, 4, "D")
    assert points["step"].notna().all()
    assert points["step"].tolist() == [0, 1, 2, 3] * 4
