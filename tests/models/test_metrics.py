import numpy as np
import pytest

from fcplan.core.quantiles import median_index
from fcplan.models.metrics import coverage, mase, quantile_coverage, seasonal_scale, wape, weighted_quantile_losses, wql

LEVELS = [0.1, 0.5, 0.9]


def test_when_quantiles_equal_the_actuals_then_wql_is_zero():
    y = np.array([1.0, 2.0, 3.0])
    assert wql(y, np.repeat(y[:, None], 3, axis=1), LEVELS) == 0.0


def test_wql_is_twice_the_pinball_loss_over_the_sum_of_actuals():
    y = np.array([10.0, 10.0])
    pred = np.array([[8.0, 9.0, 12.0], [8.0, 11.0, 12.0]])
    # pinball per level: 0.1: 2*0.1*2=0.4; 0.5: 0.5+0.5=1.0; 0.9: 2*0.1*2=0.4
    expected = 2 * np.array([0.4, 1.0, 0.4]) / 20.0
    np.testing.assert_allclose(weighted_quantile_losses(y, pred, LEVELS), expected)
    assert wql(y, pred, LEVELS) == pytest.approx(expected.mean())


def test_when_actuals_are_nan_then_they_are_ignored():
    y = np.array([10.0, np.nan])
    pred = np.array([[10.0, 10.0, 10.0], [0.0, 0.0, 0.0]])
    assert wql(y, pred, LEVELS) == 0.0
    assert wape(y, pred[:, 1]) == 0.0


def test_wape_is_absolute_error_over_absolute_actuals():
    assert wape(np.array([10.0, 30.0]), np.array([12.0, 26.0])) == pytest.approx(6.0 / 40.0)


def test_mase_scales_by_the_seasonal_naive_error_of_the_training_data():
    train = np.array([1.0, 2.0, 3.0, 5.0, 6.0, 7.0])
    scale = seasonal_scale(train, season=3)  # |5-1|, |6-2|, |7-3| -> 4
    assert scale == pytest.approx(4.0)
    y, point = np.array([10.0, 12.0]), np.array([8.0, 12.0])
    assert mase(y, point, np.full(2, scale)) == pytest.approx(0.25)


def test_mase_averages_over_series():
    y, point = np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0])
    value = mase(y, point, np.array([1.0, 1.0, 2.0]), series=np.array(["a", "a", "b"]))
    assert value == pytest.approx((1.0 + 0.0) / 2)


def test_coverage_counts_actuals_within_the_outermost_quantiles():
    y = np.array([1.0, 5.0, 20.0, 9.0])
    pred = np.tile([2.0, 5.0, 10.0], (4, 1))
    assert coverage(y, pred) == pytest.approx(0.5)
    np.testing.assert_allclose(quantile_coverage(y, pred), [0.25, 0.5, 0.75])


def test_a_median_alone_has_no_band_coverage():
    y = np.array([1.0, 5.0, 5.0])
    assert np.isnan(coverage(y, np.full((3, 1), 5.0)))


def test_median_index_picks_the_level_closest_to_one_half():
    assert median_index([0.05, 0.4, 0.55, 0.9]) == 2


def test_the_scales_of_a_long_panel_are_each_series_seasonal_scale() -> None:
    """Series interleaved, of every length around the season (lag-1 and no scale), with
    gaps and a constant: each gets its own :func:`seasonal_scale`, first-seen order."""
    import pandas as pd

    from fcplan.models.scales import panel_scales, seasonal_scales

    rng = np.random.default_rng(3)
    lengths = {"b": 1, "a": 2, "z": 7, "c": 8, "d": 30, "const": 12}
    ids = np.concatenate([[uid] * n for uid, n in lengths.items()])
    y = rng.poisson(5.0, len(ids)).astype(float)
    y[ids == "const"] = 4.0
    y[[5, 20]] = np.nan
    order = rng.permutation(len(ids))
    pos = np.empty_like(order)
    for uid in lengths:  # shuffle the rows, keeping each series' rows in time order
        pos[np.sort(order[ids == uid])] = np.flatnonzero(ids == uid)
    panel = pd.DataFrame({"unique_id": ids[pos], "y": y[pos]})
    got = seasonal_scales(panel["unique_id"], panel["y"].to_numpy(), 7)
    want = panel.groupby("unique_id", sort=False)["y"].agg(lambda s: seasonal_scale(s.to_numpy(), 7))
    pd.testing.assert_series_equal(got, want, check_names=False)
    assert got.index.tolist() == list(dict.fromkeys(panel["unique_id"]))
    assert np.isnan(got["b"]) and np.isnan(got["const"]) and np.isfinite(got["d"])
    scales = panel_scales(panel, 7)
    np.testing.assert_array_equal(scales.to_numpy(), np.nan_to_num(want.to_numpy()))
    assert scales.index.name == "unique_id"


@pytest.mark.parametrize("with_nan", [False, True])
def test_window_wql_is_the_mean_of_each_windows_wql(with_nan: bool) -> None:
    from fcplan.models.metrics import window_wql

    rng = np.random.default_rng(5)
    levels = [0.1, 0.5, 0.9]
    y = rng.poisson(10.0, 60).astype(float)
    if with_nan:
        y[[3, 40]] = np.nan
    pred = np.sort(rng.poisson(10.0, (60, 3)).astype(float), axis=1)
    groups = np.repeat([2, 0, 1], 20)
    loss = window_wql(y, levels, groups)
    want = np.mean([wql(y[groups == g], pred[groups == g], levels) for g in (0, 1, 2)])
    assert loss(pred) == pytest.approx(want, rel=1e-12)
    assert loss(pred) == loss(pred.copy())  # the buffers are not the caller's
    assert window_wql(y, levels)(pred) == pytest.approx(wql(y, pred, levels), rel=1e-12)
