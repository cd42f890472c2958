import numpy as np
import pandas as pd
import pytest

from fcplan.models.baselines import MovingAverage, SeasonalNaive
from fcplan.models.ensemble import EnsembleForecaster, combine, select_weights

LEVELS = [0.1, 0.5, 0.9]


def _preds(y, offsets):
    return np.stack([np.repeat((y + o)[:, None], 3, axis=1) for o in offsets])


def test_when_one_model_is_perfect_then_it_gets_all_the_weight():
    y = np.arange(1.0, 21.0)
    weights = select_weights(_preds(y, [3.0, 0.0, -2.0]), y, LEVELS)
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.0])


def test_when_two_models_err_in_opposite_directions_then_they_share_the_weight():
    y = np.arange(1.0, 21.0)
    weights = select_weights(_preds(y, [2.0, -2.0, 5.0]), y, LEVELS)
    assert weights[0] == pytest.approx(0.5) and weights[1] == pytest.approx(0.5)


def test_weights_are_non_negative_and_sum_to_one_with_bagging_and_windows():
    rng = np.random.default_rng(0)
    y = rng.poisson(20, size=60).astype(float)
    preds = np.sort(rng.normal(20, 5, size=(4, 60, 3)), axis=-1)
    weights = select_weights(preds, y, LEVELS, groups=np.repeat([0, 1], 30), bagging_rounds=5, seed=1)
    assert weights.shape == (4,)
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)


def test_when_preds_have_the_wrong_shape_then_the_error_gives_the_expected_one():
    with pytest.raises(ValueError, match="n_points=5"):
        select_weights(np.zeros((2, 4, 3)), np.zeros(5), LEVELS)


def test_combine_is_the_weighted_average_of_each_level():
    a, b = np.full((2, 3), 1.0), np.full((2, 3), 4.0)
    np.testing.assert_allclose(combine([a, b], [2.0, 1.0]), 2.0)


def test_when_members_disagree_on_the_median_then_the_combined_band_widens_by_their_spread():
    a = np.array([[90.0, 100.0, 110.0]])  # two members, same width, medians 20 apart
    b = np.array([[110.0, 120.0, 130.0]])
    got = combine([a, b], [1.0, 1.0], LEVELS, disagreement=1.0)
    z = 1.2815515655446004  # sd of the medians: 10
    np.testing.assert_allclose(got, [[100.0 - 10.0 * z, 110.0, 120.0 + 10.0 * z]])
    plain = combine([a, b], [1.0, 1.0], LEVELS, disagreement=0.0)
    np.testing.assert_allclose(plain, [[100.0, 110.0, 120.0]])


def test_when_members_agree_or_one_has_all_the_weight_then_combine_is_the_plain_average():
    a = np.array([[90.0, 100.0, 110.0]])
    b = np.array([[80.0, 100.0, 120.0]])
    np.testing.assert_allclose(combine([a, b], [1.0, 1.0], LEVELS, disagreement=1.0), [[85.0, 100.0, 115.0]])
    c = np.array([[150.0, 160.0, 170.0]])
    np.testing.assert_allclose(combine([a, c], [1.0, 0.0], LEVELS, disagreement=1.0), a)
    np.testing.assert_allclose(combine([a], [1.0], LEVELS, disagreement=1.0), a)


def test_the_ensemble_forecasts_the_weighted_average_of_its_members(make_panel):
    panel = make_panel(n_series=2, length=40)
    members = {"seasonal_naive": SeasonalNaive(), "moving_average": MovingAverage()}
    ensemble = EnsembleForecaster(members, {"seasonal_naive": 0.25, "moving_average": 0.75}).fit(panel)
    got = ensemble.predict_quantiles(5, quantiles=[0.5])
    naive = SeasonalNaive().fit(panel).predict_quantiles(5, quantiles=[0.5])
    mean = MovingAverage().fit(panel).predict_quantiles(5, quantiles=[0.5])
    np.testing.assert_allclose(got["0.5"], 0.25 * naive["0.5"] + 0.75 * mean["0.5"])
    assert set(got["model"]) == {"ensemble"}


def test_when_backtest_intervals_were_too_narrow_then_the_spread_is_widened():
    from fcplan.models.ensemble import apply_spread, calibrate_spread

    rng = np.random.default_rng(0)
    y = rng.normal(100.0, 10.0, size=2000)
    narrow = np.column_stack([np.full(2000, 100.0 - 4.0), np.full(2000, 100.0), np.full(2000, 100.0 + 4.0)])
    factors = calibrate_spread(narrow, y, LEVELS)
    assert factors[1] == 1.0 and factors[0] > 1.2 and factors[2] > 1.2
    wide = np.column_stack([np.full(2000, 100.0 - 40.0), np.full(2000, 100.0), np.full(2000, 100.0 + 40.0)])
    assert (calibrate_spread(wide, y, LEVELS)[[0, 2]] < 0.8).all()
    scaled = apply_spread(narrow, LEVELS, dict(zip(LEVELS, factors, strict=True)))
    np.testing.assert_allclose(scaled[:, 1], 100.0)
    assert (scaled[:, 2] - scaled[:, 0] > 8.0).all()


def test_when_intervals_are_already_calibrated_then_the_spread_is_left_alone():
    from fcplan.models.ensemble import calibrate_spread

    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 1.0, size=5000)
    z = 1.2815515655446004
    calibrated = np.column_stack([np.full(5000, -z), np.zeros(5000), np.full(5000, z)])
    np.testing.assert_allclose(calibrate_spread(calibrated, y, LEVELS), 1.0, atol=0.1)


def test_a_calibrated_ensemble_leaves_a_day_it_is_sure_is_shut_at_zero():
    import pandas as pd

    from fcplan.models.conformal import Calibration
    from fcplan.models.glm import CountGLM

    rng = np.random.default_rng(0)
    ds = pd.date_range("2024-01-01", periods=70, freq="D")
    y = np.where(ds.day_of_week == 5, 0.0, rng.poisson(50, 70).astype(float))  # shut on Saturdays
    panel = pd.DataFrame({"unique_id": "a", "ds": ds, "y": y})
    levels = [0.1, 0.5, 0.9]
    calibration = Calibration(tuple(levels), np.array([[-1.0, 0.0, 1.0]]), (7,), 4, 100)
    raw = CountGLM().fit(panel).predict_quantiles(7, quantiles=levels)
    got = EnsembleForecaster({"glm": CountGLM()}, {"glm": 1.0}, calibration=calibration).fit(panel).predict_quantiles(
        7, quantiles=levels)
    saturday = pd.to_datetime(got["ds"]).dt.day_of_week.to_numpy() == 5
    assert (raw.loc[saturday, ["0.1", "0.5", "0.9"]].to_numpy() == 0).all()
    assert (got.loc[saturday, ["0.1", "0.5", "0.9"]].to_numpy() == 0).all()
    assert (got.loc[~saturday, "0.9"].to_numpy() > raw.loc[~saturday, "0.9"].to_numpy()).all()


def test_a_prefitted_member_is_moved_to_the_panel_not_refit_and_not_kept(make_panel):
    import pickle

    from fcplan.models.registry import get_model

    panel = make_panel(n_series=3, length=80)
    short = panel[panel.groupby("unique_id").cumcount(ascending=False) >= 7].reset_index(drop=True)
    lgbm = get_model("lightgbm", n_estimators=10, min_data_in_leaf=5).fit(short)
    theta = get_model("theta").fit(short)  # cannot move: refit
    members = {"lightgbm": get_model("lightgbm", n_estimators=10, min_data_in_leaf=5), "theta": get_model("theta")}
    ensemble = EnsembleForecaster(members, {"lightgbm": 0.5, "theta": 0.5},
                                  prefitted={"lightgbm": lgbm, "theta": theta}).fit(panel)
    assert ensemble.members_["lightgbm"].boosters_ is lgbm.boosters_
    assert ensemble.members_["theta"] is not theta and len(ensemble.members_["theta"].last_ds_) == 3
    ends = panel.groupby("unique_id", sort=False)["ds"].max()
    assert all((m.last_ds_ == ends).all() for m in ensemble.members_.values())
    assert "prefitted" not in ensemble.params and not ensemble._prefitted
    assert len(pickle.loads(pickle.dumps(ensemble)).predict_quantiles(7, quantiles=[0.1, 0.5, 0.9])) == 21


def _sparse_panel(fraction: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=84, freq="D")
    counts = (rng.random(ds.size) < 0.85).astype(float) * rng.choice([1.0, 1.0, 1.0, 2.0], size=ds.size)
    other = rng.gamma(2.0, 1.5, size=ds.size) if fraction else rng.poisson(3.0, size=ds.size).astype(float)
    return pd.concat([pd.DataFrame({"unique_id": "counts", "ds": ds, "y": counts}),
                      pd.DataFrame({"unique_id": "other", "ds": ds, "y": other})], ignore_index=True)


def test_count_series_are_those_of_non_negative_whole_numbers_only():
    from fcplan.models.ensemble import count_series

    panel = pd.DataFrame({"unique_id": ["a", "a", "b", "b", "c", "c"],
                          "y": [0.0, 3.0, 1.0, 2.5, -1.0, 2.0]})
    panel.loc[1, "y"] = np.nan  # a missing value says nothing against a count
    assert count_series(panel).to_dict() == {"a": True, "b": False, "c": False}


def test_snapping_rounds_the_marked_levels_to_the_nearest_count():
    from fcplan.models.ensemble import snap_counts

    values = np.array([[-0.2, 0.4, 1.6], [0.7, 1.5, 2.51]])
    got = snap_counts(values, LEVELS, {0.1: False, 0.5: True, 0.9: True})
    np.testing.assert_allclose(got, [[-0.2, 0.0, 2.0], [0.7, 1.0, 3.0]])
    # a level it was not chosen at takes the nearest chosen level's mark
    np.testing.assert_allclose(snap_counts(values[:, :1], [0.05], {0.1: True, 0.9: False}), [[0.0], [1.0]])


def test_snapping_is_kept_at_the_levels_where_it_lowered_the_backtest_loss():
    from fcplan.models.ensemble import choose_snap

    # a series that sells one unit on nine days in ten: rounding 0.8 up to 1 helps every level;
    # the median 0.45 of a series that always sells one would round the wrong way
    y = np.ones(40)
    pred = np.tile([0.1, 0.8, 0.9], (40, 1))
    assert choose_snap(pred, y, LEVELS, np.repeat([0, 1], 20), np.ones(40, bool)) == {0.1: False, 0.5: True, 0.9: True}
    pred[:, 1] = 0.45
    assert choose_snap(pred, y, LEVELS, np.repeat([0, 1], 20), np.ones(40, bool))[0.5] is False
    # no count series, no snapping
    assert choose_snap(pred, y, LEVELS, np.repeat([0, 1], 20), np.zeros(40, bool)) == {}


def test_the_ensemble_rounds_the_quantiles_of_count_series_only():
    panel = _sparse_panel(fraction=True)
    members = {"moving_average": MovingAverage(window=28)}
    plain = EnsembleForecaster(members, {"moving_average": 1.0}).fit(panel).predict_quantiles(7, quantiles=LEVELS)
    snap = {0.1: True, 0.5: True, 0.9: True}
    got = EnsembleForecaster(members, {"moving_average": 1.0}, snap=snap).fit(panel).predict_quantiles(
        7, quantiles=LEVELS)
    counts, other = got["unique_id"] == "counts", got["unique_id"] == "other"
    values = got.loc[counts, ["0.1", "0.5", "0.9"]].to_numpy()
    np.testing.assert_allclose(values, np.maximum(np.ceil(plain.loc[counts, ["0.1", "0.5", "0.9"]] - 0.5), 0))
    assert (values != plain.loc[counts, ["0.1", "0.5", "0.9"]].to_numpy()).any()
    np.testing.assert_allclose(got.loc[other, ["0.1", "0.5", "0.9"]], plain.loc[other, ["0.1", "0.5", "0.9"]])


def test_the_engine_rounds_count_series_where_the_backtest_says_it_pays():
    from fcplan.models.engine import run_engine

    result = run_engine(_sparse_panel(), 7, LEVELS, models=["moving_average", "seasonal_naive"], windows=2)
    snap = result.model.params["snap"]
    assert set(snap) == set(LEVELS) and any(snap.values())
    for q, on in snap.items():
        if on:
            values = result.forecast[str(q)].to_numpy()
            np.testing.assert_allclose(values, np.round(values))


def test_a_member_many_times_worse_than_the_best_gets_no_weight_even_as_a_band_widener():
    # two members with good medians but bands far too narrow; a third forecasts nonsense with a
    # band from 0 to twice the level (an untrained network). A step of it widens the others'
    # band, which lowers the backtest loss, but widening is the calibration's job
    rng = np.random.default_rng(0)
    n = 280
    y = 100 + rng.normal(0, 5, n)
    narrow = [np.column_stack([m - 0.5, m, m + 0.5]) for m in (100 + rng.normal(0, 1, n), 100 + rng.normal(0, 1, n))]
    junk = np.column_stack([np.zeros(n), rng.uniform(0, 200, n), np.full(n, 200.0)])
    preds = np.stack([*narrow, junk])
    groups = np.repeat(np.arange(2), n // 2)
    from fcplan.models.metrics import window_wql

    loss = window_wql(y, LEVELS, groups)
    assert loss(junk) > 5 * min(loss(p) for p in narrow)
    weights = select_weights(preds, y, LEVELS, groups=groups)
    assert weights[2] == 0.0 and weights[:2].sum() == pytest.approx(1.0)
