import numpy as np
import pandas as pd
import pytest

from fcplan.models.baselines import (
    MovingAverage,
    SeasonalNaive,
    fallback_reason,
    moving_average_quantiles,
    seasonal_naive_quantiles,
)

LEVELS = [0.1, 0.5, 0.9]


def test_seasonal_naive_repeats_the_last_season():
    y = np.tile(np.arange(7.0), 6)
    out = seasonal_naive_quantiles(y, 10, 7, LEVELS)
    np.testing.assert_allclose(out[:, 1], np.r_[np.arange(7.0), np.arange(3.0)])


def test_when_series_is_shorter_than_a_season_then_seasonal_naive_is_naive():
    out = seasonal_naive_quantiles(np.array([3.0, 5.0, 4.0]), 4, 7, LEVELS)
    assert out.shape == (4, 3)
    assert np.all(out[:, 1] == pytest.approx(4.0, abs=1.0))


def test_when_the_horizon_grows_then_intervals_widen():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=300)) + 100
    for out in (seasonal_naive_quantiles(y, 20, 7, LEVELS), moving_average_quantiles(y, 20, 28, LEVELS)):
        width = out[:, 2] - out[:, 0]
        assert width[-1] > width[0]


def test_moving_average_centres_on_the_mean_of_the_window():
    rng = np.random.default_rng(0)
    y = rng.normal(50.0, 1.0, size=400)
    out = moving_average_quantiles(y, 3, 28, LEVELS)
    np.testing.assert_allclose(out[:, 1], y[-28:].mean(), atol=0.3)
    assert np.all(out[:, 0] < out[:, 1]) and np.all(out[:, 1] < out[:, 2])


@pytest.mark.parametrize(
    ("y", "reason"),
    [
        (np.zeros(30), "all-zero"),
        (np.full(30, 2.0), "constant"),
        (np.arange(5.0), "short"),
        (np.r_[np.arange(20.0), np.full(10, np.nan)], "gappy"),
    ],
)
def test_when_a_series_is_degenerate_then_fallback_reason_names_it(y, reason):
    assert reason in fallback_reason(y, min_length=16)


def test_when_a_series_is_regular_then_it_needs_no_fallback():
    assert fallback_reason(np.arange(30.0), min_length=16) is None


@pytest.mark.parametrize("model_cls", [SeasonalNaive, MovingAverage])
def test_baselines_forecast_every_series_of_a_panel(model_cls, make_panel):
    panel = make_panel(n_series=3, length=40)
    frame = model_cls().fit(panel).predict_quantiles(5, quantiles=LEVELS)
    assert len(frame) == 15
    assert frame[["0.1", "0.5", "0.9"]].notna().all().all()
    assert pd.Index(frame["unique_id"]).is_monotonic_increasing


@pytest.mark.parametrize("h", [1, 7, 16])
def test_baselines_for_all_series_at_once_match_the_series_by_series_rule(h):
    from fcplan.models.baselines import (
        moving_average_batch,
        moving_average_quantiles,
        seasonal_naive_batch,
        seasonal_naive_quantiles,
    )
    from fcplan.models.vectorized import right_align

    rng = np.random.default_rng(h)
    ys = [rng.poisson(20, size=n).astype(float) for n in (40, 60, 900)]
    matrix = right_align(ys)
    levels = [0.1, 0.5, 0.9]
    for i, y in enumerate(ys):
        np.testing.assert_allclose(seasonal_naive_batch(matrix, h, 7, levels)[i],
                                   seasonal_naive_quantiles(y, h, 7, levels))
        np.testing.assert_allclose(moving_average_batch(matrix, h, 14, levels)[i],
                                   moving_average_quantiles(y, h, 14, levels))


def test_regular_series_lay_out_each_series_on_its_grid_with_gaps_as_nan() -> None:
    from fcplan.core.panel import validate_panel
    from fcplan.models.baselines import regular_series

    days = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04", "2024-02-01", "2024-02-02"])
    panel = validate_panel(pd.DataFrame({"unique_id": ["a", "a", "a", "b", "b"], "ds": days,
                                         "y": [1.0, 2, 3, 4, 5], "promo": [1.0, 0, 1, 0, 1]}))
    a, b = regular_series(panel, "D", ["promo"])
    assert list(a.ds) == list(pd.date_range("2024-01-01", periods=4, freq="D"))
    np.testing.assert_array_equal(a.y, [1.0, np.nan, 2.0, 3.0])
    np.testing.assert_array_equal(a.x[:, 0], [1.0, 0.0, 0.0, 1.0])
    assert list(b.ds) == list(pd.date_range("2024-02-01", periods=2, freq="D"))
    months = validate_panel(pd.DataFrame({"unique_id": "m", "ds": pd.to_datetime(["2024-01-01", "2024-03-01"]),
                                          "y": [1.0, 2.0]}))
    (m,) = regular_series(months, "MS", [])
    assert list(m.ds) == list(pd.date_range("2024-01-01", periods=3, freq="MS"))
    np.testing.assert_array_equal(m.y, [1.0, np.nan, 2.0])
