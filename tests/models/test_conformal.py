import numpy as np
import pytest

from fcplan.models.conformal import MIN_NARROW_WINDOWS, fit_conformal, horizon_buckets
from fcplan.models.scales import series_scale

LEVELS = [0.1, 0.5, 0.9]


def _backtest(n_windows: int, width: float, n_series: int = 10, horizon: int = 7, seed: int = 0, noise=None,
              center: float = 0.0):
    """Forecasts with a median of ``center`` and a band of +-``width``; actuals ``center`` + N(0, 1)
    (or ``noise(rng, n)``). A band of zero width needs a ``center`` other than 0: a forecast of
    all zeros is a closed day, left alone (:func:`fcplan.models.conformal.certain_zero`)."""
    rng = np.random.default_rng(seed)
    n = n_windows * n_series * horizon
    y = center + (rng.normal(size=n) if noise is None else noise(rng, n))
    pred = center + np.tile([-width, 0.0, width], (n, 1))
    steps = np.tile(np.arange(horizon), n_windows * n_series)
    windows = np.repeat(np.arange(n_windows), n_series * horizon)
    return pred, y, steps, np.ones(n), windows


def _coverage(pred: np.ndarray, y: np.ndarray) -> float:
    return float(((y >= pred[:, 0]) & (y <= pred[:, -1])).mean())


def test_when_backtest_bands_were_too_narrow_then_they_are_widened_to_about_the_nominal_coverage():
    pred, y, steps, scales, windows = _backtest(6, width=0.3)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    fresh, y_new, *_ = _backtest(6, width=0.3, seed=1)
    assert _coverage(fresh, y_new) < 0.3
    assert 0.72 <= _coverage(cal.apply(fresh, steps, scales, LEVELS), y_new) <= 0.88


def test_on_thin_evidence_too_wide_bands_are_never_narrowed():
    pred, y, steps, scales, windows = _backtest(MIN_NARROW_WINDOWS - 1, width=3.0)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    np.testing.assert_array_equal(cal.apply(pred, steps, scales, LEVELS), pred)


def test_on_many_windows_too_wide_bands_are_narrowed_but_not_past_the_median():
    pred, y, steps, scales, windows = _backtest(12, width=3.0)
    out = fit_conformal(pred, y, LEVELS, steps, scales, windows).apply(pred, steps, scales, LEVELS)
    assert (out[:, 2] - out[:, 0] < 6.0).all()
    assert (out[:, 0] <= out[:, 1]).all() and (out[:, 1] <= out[:, 2]).all()
    np.testing.assert_array_equal(out[:, 1], pred[:, 1])  # the median is left alone


def test_offsets_are_in_units_of_each_series_scale():
    pred, y, steps, scales, windows = _backtest(6, width=0.0, center=5.0)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    small = cal.apply(pred[:1], steps[:1], np.array([1.0]), LEVELS)
    big = cal.apply(pred[:1] * 10, steps[:1], np.array([10.0]), LEVELS)
    np.testing.assert_allclose(big, 10 * small)
    # a series whose history does not vary (scale 0) is left as it is
    np.testing.assert_array_equal(cal.apply(pred[:1], steps[:1], np.array([0.0]), LEVELS), pred[:1])


def test_when_errors_grow_with_the_horizon_then_late_steps_get_wider_bands():
    pred, y, steps, scales, windows = _backtest(6, width=0.0, center=5.0)
    y = 5.0 + (y - 5.0) * (1 + steps)  # error sd grows with the step
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    assert len(cal.bucket_ends) > 1
    out = cal.apply(pred, steps, scales, LEVELS)
    width = out[:, 2] - out[:, 0]
    assert width[steps == 6].min() > 2 * width[steps == 0].max()


def test_quantiles_never_cross_after_calibration():
    levels = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    rng = np.random.default_rng(3)
    n = 600
    pred = np.sort(rng.normal(size=(n, len(levels))), axis=1)
    y = rng.standard_t(2, size=n) * 5
    steps, windows = np.tile(np.arange(10), n // 10), np.repeat(np.arange(6), n // 6)
    out = fit_conformal(pred, y, levels, steps, rng.uniform(0.5, 3, n), windows).apply(
        pred, steps, rng.uniform(0.5, 3, n), levels
    )
    assert (np.diff(out, axis=1) >= 0).all()


def test_horizon_buckets_need_enough_points_each():
    assert horizon_buckets(np.arange(7)) == (7,)  # 7 points: one bucket
    assert horizon_buckets(np.tile(np.arange(12), 30)) == (4, 8, 12)


@pytest.mark.parametrize(("y", "expected"), [(np.zeros(20), 0.0), (np.full(20, 3.0), 0.0)])
def test_a_series_that_does_not_vary_has_scale_zero(y, expected):
    assert series_scale(y, 7) == expected
    assert series_scale(np.arange(20.0), 7) == pytest.approx(7.0)


def test_bands_follow_the_newest_windows_more_than_the_older_ones():
    # errors grew: sd 0.5 on the five older windows, 2 on the five newest (all windows alike: 0.62)
    pred, y, steps, scales, windows = _backtest(10, width=0.6)
    y = y * np.where(windows >= 5, 2.0, 0.5)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    fresh, y_new, *_ = _backtest(10, width=0.6, seed=1)
    assert 0.72 <= _coverage(cal.apply(fresh, steps, scales, LEVELS), 2.0 * y_new) <= 0.88


def test_offsets_scale_with_the_forecasts_own_band():
    # half the points have a band (and errors) three times as wide, at the same series scale
    pred, y, steps, scales, windows = _backtest(6, width=0.5)
    wide = np.arange(len(y)) % 2 == 1
    pred[wide] *= 3.0
    y = y * np.where(wide, 3.0, 1.0)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    fresh, y_new, *_ = _backtest(6, width=0.5, seed=1)
    fresh[wide] *= 3.0
    y_new = y_new * np.where(wide, 3.0, 1.0)
    out = cal.apply(fresh, steps, scales, LEVELS)
    for part in (wide, ~wide):
        assert 0.72 <= _coverage(out[part], y_new[part]) <= 0.88


def test_a_band_of_zero_width_is_still_widened():
    # every quantile at the same level, but not 0: a zero-width band, not a closed day
    pred, y, steps, scales, windows = _backtest(6, width=0.0, center=5.0)
    out = fit_conformal(pred, y, LEVELS, steps, scales, windows).apply(pred, steps, scales, LEVELS)
    assert _coverage(out, y) > 0.6  # offsets in units of WIDTH_FLOOR series scales (shrunk a little)


def test_a_forecast_certain_of_zero_is_neither_evidence_nor_shifted():
    from fcplan.models.conformal import certain_zero

    pred = np.array([[0.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [2.0, 2.0, 2.0], [np.nan, 0.0, 0.0]])
    np.testing.assert_array_equal(certain_zero(pred), [True, True, False, False, False])
    # a closed day (all 0, actual 0) among open days (a zero-width band at 5, actual 5 + N(0, 1))
    open_pred, y, steps, scales, windows = _backtest(6, width=0.0, center=5.0)
    shut = steps == 6
    pred = np.where(shut[:, None], 0.0, open_pred)
    y = np.where(shut, 0.0, y)
    alone = fit_conformal(open_pred[~shut], y[~shut], LEVELS, steps[~shut], scales[~shut], windows[~shut])
    mixed = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    np.testing.assert_allclose(mixed.offsets, alone.offsets)
    out = mixed.apply(pred, steps, scales, LEVELS)
    np.testing.assert_array_equal(out[shut], 0.0)
    assert (out[~shut, -1] > pred[~shut, -1]).all()


def test_on_a_few_dozen_points_a_calibrated_band_is_not_widened_past_its_level():
    # the forecasts are the true quantiles of N(0, 1); one series, 6 windows of 7 steps. The
    # outward-rounded conformal order statistics made it about 0.816 on average
    z = 1.2815515655446004
    true_cover = []
    for seed in range(100):
        pred, y, steps, scales, windows = _backtest(6, width=z, n_series=1, seed=seed)
        out = fit_conformal(pred, y, LEVELS, steps, scales, windows).apply(pred[:1], steps[:1], scales[:1], LEVELS)
        true_cover.append(_normal_cdf(out[0, 2]) - _normal_cdf(out[0, 0]))
    assert abs(np.mean(true_cover) - 0.8) < 0.01


def _normal_cdf(x: float) -> float:
    from statistics import NormalDist

    return NormalDist().cdf(x)


def test_recency_weights_halve_per_window_of_age_and_equal_weights_give_the_sample_quantile():
    from fcplan.models.conformal import _weighted_quantile, recency_weights

    np.testing.assert_allclose(recency_weights(np.array([-2, -2, 0, 1, 1]), 0.5), [0.25, 0.25, 0.5, 1.0, 1.0])
    r = np.random.default_rng(0).normal(size=50)
    for q in (0.1, 0.5, 0.9):
        assert _weighted_quantile(r, q, np.ones(50)) == pytest.approx(np.quantile(r, q, method="hazen"))
    # a point weighing as much as all the others pulls the quantile toward it
    assert _weighted_quantile(np.array([0.0, 1.0, 2.0, 10.0]), 0.9, np.array([1, 1, 1, 3.0])) == 10.0


def test_window_quantile_goes_from_the_pooled_quantile_to_the_mean_of_the_windows_own():
    from fcplan.models.conformal import _weighted_quantile, window_quantile

    rng = np.random.default_rng(0)
    windows = np.repeat(np.arange(4), 25)
    r = rng.normal(size=100) - np.where(windows == 1, 5.0, 0.0)  # one window shifted down
    w = np.where(windows == 3, 2.0, 1.0)
    pooled = _weighted_quantile(r, 0.1, w)
    own = [np.quantile(r[windows == g], 0.1, method="hazen") for g in range(4)]
    mean = float(np.average(own, weights=[25, 25, 25, 50]))
    assert window_quantile(r, 0.1, w, windows, 0.0) == pytest.approx(pooled)
    assert window_quantile(r, 0.1, w, windows, 1.0) == pytest.approx(mean)
    assert window_quantile(r, 0.1, w, windows, 0.5) == pytest.approx((pooled + mean) / 2)
    assert pooled < mean  # the shifted window's points make up the pooled tail
    assert window_quantile(r, 0.1, w, np.zeros(100), 0.5) == pytest.approx(pooled)  # one window: pooled


def test_one_window_of_unusual_shocks_does_not_set_the_band_of_ordinary_days():
    # true 80 % bands of N(0, 1) errors; on the second newest of 6 windows (a holiday week) every
    # actual fell 4 below the forecast. On ordinary days after it the band stays near 80 % (the
    # pooled quantile alone, 0.89: the shifted window's points made up the lower tail).
    z = 1.2815515655446004
    cover = []
    for seed in range(20):
        pred, y, steps, scales, windows = _backtest(6, width=z, n_series=3, seed=seed)
        y = y - np.where(windows == 4, 4.0, 0.0)
        out = fit_conformal(pred, y, LEVELS, steps, scales, windows).apply(pred, steps, scales, LEVELS)
        cdf = np.vectorize(_normal_cdf)
        cover.append(float(np.mean(cdf(out[:, 2]) - cdf(out[:, 0]))))
    assert np.mean(cover) <= 0.88


def test_a_levels_calibrated_value_does_not_depend_on_the_other_levels_asked_for():
    pred, y, steps, scales, windows = _backtest(6, width=0.3)
    extreme = pred[:, -1:] + 2.0  # a 0.999 level far out, asked for beside the usual three
    more = [*LEVELS, 0.999]
    three = fit_conformal(pred, y, LEVELS, steps, scales, windows).apply(pred, steps, scales, LEVELS)
    four = fit_conformal(np.hstack([pred, extreme]), y, more, steps, scales, windows).apply(
        np.hstack([pred, extreme]), steps, scales, more)
    np.testing.assert_allclose(four[:, :3], three)
