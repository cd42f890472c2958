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
