"""Shared feature building of the global models (models/features.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcplan.core.panel import validate_panel
from fcplan.models.features import (
    TabularSpec,
    build_grid,
    extend_grid,
    interpolate_levels,
    rolling_mean,
    series_scale,
    tabular_features,
)


def make_panel() -> pd.DataFrame:
    """Two series of different lengths; ``"a b/ç"`` has a gap on 2024-01-03."""
    a = pd.DataFrame({"unique_id": "a b/ç", "ds": pd.date_range("2024-01-01", periods=6, freq="D"),
                      "y": [1.0, 2, 3, 4, 5, 6], "promo": [0, 0, 1, 0, 0, 1]}).drop(index=2)
    b = pd.DataFrame({"unique_id": "1", "ds": pd.date_range("2024-01-04", periods=4, freq="D"),
                      "y": [0.0, 0, 0, 0], "promo": [0, 1, 0, 0]})
    return validate_panel(pd.concat([a, b]))


def test_when_series_have_gaps_and_uneven_lengths_then_the_grid_is_right_aligned_with_nan_gaps() -> None:
    grid = build_grid(make_panel(), ["a b/ç", "1"], "D", ["promo"], max_history=100)
    assert grid.n_past == 6
    np.testing.assert_array_equal(grid.y[0], [1, 2, np.nan, 4, 5, 6])
    np.testing.assert_array_equal(grid.y[1], [np.nan, np.nan, 0, 0, 0, 0])
    assert grid.dates[1, -1] == np.datetime64("2024-01-07")
    assert grid.x[1, 3, 0] == 1.0


def test_when_max_history_is_short_then_only_the_last_steps_are_kept() -> None:
    grid = build_grid(make_panel(), ["a b/ç", "1"], "D", ["promo"], max_history=3)
    np.testing.assert_array_equal(grid.y[0], [4, 5, 6])


def test_when_grid_is_extended_then_future_covariates_and_dates_follow_each_series() -> None:
    grid = build_grid(make_panel(), ["a b/ç", "1"], "D", ["promo"], max_history=100)
    future = pd.DataFrame({"unique_id": ["a b/ç"] * 2 + ["1"] * 2,
                           "ds": pd.to_datetime(["2024-01-07", "2024-01-08", "2024-01-08", "2024-01-09"]),
                           "promo": [1.0, 0.0, 0.0, 1.0]})
    ext = extend_grid(grid, 2, "D", future)
    assert ext.y.shape == (2, 8) and np.isnan(ext.y[:, 6:]).all()
    np.testing.assert_array_equal(ext.x[:, 6:, 0], [[1, 0], [0, 1]])
    assert ext.dates[0, 6] == np.datetime64("2024-01-07") and ext.dates[1, 7] == np.datetime64("2024-01-09")


def test_rolling_mean_skips_missing_values_like_pandas() -> None:
    values = np.array([[1.0, np.nan, 3.0, 4.0, np.nan, np.nan, 10.0]])
    expected = pd.Series(values[0]).rolling(3, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(rolling_mean(values, 3)[0], expected)


def test_when_a_series_is_all_zero_or_missing_then_its_scale_is_one() -> None:
    y = np.array([[0.0, 0.0, 0.0], [np.nan, np.nan, np.nan], [2.0, -4.0, np.nan]])
    np.testing.assert_allclose(series_scale(y, window=2), [[1, 1, 1], [1, 1, 1], [2, 3, 4]])


def test_interpolated_levels_match_fitted_levels_and_never_cross() -> None:
    values = np.array([[1.0, 2.0, 4.0]])
    out = interpolate_levels(values, [0.1, 0.5, 0.9], [0.05, 0.1, 0.3, 0.5, 0.9, 0.95])
    np.testing.assert_allclose(out[0, [1, 3, 4]], [1.0, 2.0, 4.0])
    assert (np.diff(out, axis=-1) >= 0).all() and out[0, 0] < 1.0 and out[0, 5] > 4.0


def test_seasonal_lag_feature_points_to_the_same_weekday_before_the_origin() -> None:
    y = np.arange(30, dtype=float)[None, :] + 1.0
    panel = validate_panel(pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2024-01-01", periods=30),
                                         "y": y[0]}))
    grid = build_grid(panel, ["s"], "D", [], max_history=100)
    spec = TabularSpec(lags=(1,), season=7, n_seasonal=2, known=(), past=())
    rows, origins, steps = np.zeros(3, int), np.full(3, 20), np.array([1, 7, 8])
    features, scale, names = tabular_features(grid, spec, rows, origins, steps)
    raw = features * scale[:, None]
    # targets 21, 27, 28: the last same weekday at or before the origin (20) is column 14, 20, 14
    np.testing.assert_allclose(raw[:, names.index("season_1")], [15.0, 21.0, 15.0])
    np.testing.assert_allclose(raw[:, names.index("lag_1")], [21.0] * 3)
    assert (features[:, names.index("dayofweek")] == [(21 + k - 1) % 7 for k in steps]).all()


def test_yearly_features_read_last_year_at_the_target_relative_to_last_years_level_and_never_the_future() -> None:
    from fcplan.models.features import year_length

    assert year_length("D") == 364 and year_length("W-WED") == 52 and year_length("h") == 0
    days = pd.date_range("2022-01-01", periods=800, freq="D")
    y = np.arange(800, dtype=float) + 1.0
    panel = validate_panel(pd.DataFrame({"unique_id": "a", "ds": days, "y": y}))
    grid = build_grid(panel, ["a"], "D", [], max_history=1000)
    spec = TabularSpec(lags=(1,), season=7, n_seasonal=0, known=(), past=(), year=364)
    rows, origins, steps = np.zeros(3, int), np.array([700, 700, 100]), np.array([1, 5, 1])
    features, _, names = tabular_features(grid, spec, rows, origins, steps)
    col = {name: features[:, j] for j, name in enumerate(names)}
    prev = series_scale(grid.y)[0, 700 - 364]
    np.testing.assert_allclose(col["year_lag"][:2], grid.y[0, [701 - 364, 705 - 364]] / prev)
    assert np.isnan(col["year_lag"][2]) and np.isnan(col["year_growth"][2])  # no year before the origin
    # the smoothed value is centred on the target a year back, which is still before the origin
    np.testing.assert_allclose(col["year_lag_mean"][0], grid.y[0, 701 - 364 - 3 : 701 - 364 + 4].mean() / prev)
    # without a yearly length no such feature is built
    assert "year_lag" not in tabular_features(grid, TabularSpec((1,), 7, 0, (), ()), rows, origins, steps)[2]


def test_grid_laid_out_in_numpy_matches_the_series_by_series_layout(make_awkward_panel):
    from fcplan.core.panel import validate_panel
    from fcplan.models.features import _build_grid_by_group, build_grid

    panel = validate_panel(make_awkward_panel().assign(promo=1.0))
    ids = list(panel["unique_id"].drop_duplicates())[::-1]
    for history in (10, 400):
        fast = build_grid(panel, ids, "D", ["promo"], history)
        slow = _build_grid_by_group(panel, ids, "D", ["promo"], history)
        np.testing.assert_array_equal(fast.y, slow.y)
        np.testing.assert_array_equal(fast.x, slow.x)
        np.testing.assert_array_equal(fast.dates, slow.dates)


def test_half_hourly_calendar_tells_the_half_hours_apart():
    # the hour of 14:00 and 14:30 was the same feature: a sub-hourly model could not see the half hours
    from fcplan.models.features import calendar_features

    dates = pd.date_range("2024-01-01 14:00", periods=3, freq="30min").to_numpy()
    values, names = calendar_features(dates, subdaily=True)
    assert values[:, names.index("hour")].tolist() == [14.0, 14.5, 15.0]


def test_days_since_a_flag_count_from_its_unusual_days_only():
    """A holiday flag's 1s and a work-day flag's 0 on a weekday are unusual days; the work-day
    flag's weekends are its usual value there and start nothing."""
    from fcplan.models.features import AFTER_DAYS, after_flags, phase_modes, steps_since_flag

    days = 28
    phase = np.arange(days) % 7
    holiday = np.zeros(days)
    holiday[9] = 1.0
    workday = (phase < 5).astype(float)
    workday[9] = 0.0  # the holiday falls on a weekday
    x = np.column_stack([holiday, workday])
    modes = phase_modes(x, phase, 7)
    since = steps_since_flag(x, phase, modes)
    expected = np.full(days, AFTER_DAYS + 1.0)
    expected[9:9 + AFTER_DAYS + 1] = np.arange(AFTER_DAYS + 1)
    np.testing.assert_array_equal(since[:, 0], expected)
    np.testing.assert_array_equal(since[:, 1], expected)
    after = after_flags(x, phase, modes)
    assert after[9].sum() == 0 and after[10:9 + AFTER_DAYS + 1].all() and not after[:9].any()
