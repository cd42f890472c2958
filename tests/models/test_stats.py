import numpy as np
import pandas as pd
import pytest

from fcplan.core.panel import PanelError
from fcplan.models.baselines import _BATCH
from fcplan.models.registry import get_model
from fcplan.models.stats import ETS, SARIMAX, Theta, fourier, normal_quantiles, order_search_room

LEVELS = [0.1, 0.5, 0.9]
FAST = {"max_iter": 15}


@pytest.mark.parametrize("model_cls", [ETS, SARIMAX, Theta])
def test_when_series_is_constant_then_it_falls_back_to_baseline(model_cls, make_panel):
    panel = make_panel(n_series=2, length=50)
    panel.loc[panel["unique_id"] == "fc1", "y"] = 7.0
    model = model_cls(**({} if model_cls is Theta else FAST)).fit(panel)  # Theta has no max_iter
    assert set(model.fallbacks_) == {"fc1"}
    assert "constant" in model.fallbacks_["fc1"]
    frame = model.predict_quantiles(7, quantiles=LEVELS)
    assert np.allclose(frame.loc[frame["unique_id"] == "fc1", ["0.1", "0.5", "0.9"]], 7.0)


def test_when_series_is_all_zero_or_short_then_it_falls_back_and_says_why(make_panel):
    panel = make_panel(n_series=3, length=50)
    panel.loc[panel["unique_id"] == "fc1", "y"] = 0.0
    panel = panel[(panel["unique_id"] != "fc2") | (panel.index % 50 >= 45)]
    model = ETS(**FAST).fit(panel)
    assert "all-zero" in model.fallbacks_["fc1"]
    assert "short" in model.fallbacks_["fc2"]
    assert "fc0" not in model.fallbacks_


def test_ets_follows_the_weekly_pattern(make_panel):
    panel = make_panel(n_series=1, length=84, seed=3)
    frame = ETS(**FAST).fit(panel).predict_quantiles(7, quantiles=LEVELS)
    median = frame["0.5"].to_numpy()
    assert median.max() - median.min() > 5.0  # a flat forecast would miss the +-40% weekly swing


def test_when_a_promotion_is_planned_then_sarimax_forecasts_more(make_panel, make_future):
    panel = make_panel(n_series=1, length=120, promo=True, seed=2)
    model = SARIMAX(**FAST).fit(panel)
    with_promo = model.predict_quantiles(7, future=make_future(panel, 7, promo=1.0), quantiles=LEVELS)
    without = model.predict_quantiles(7, future=make_future(panel, 7, promo=0.0), quantiles=LEVELS)
    assert (with_promo["0.5"] - without["0.5"]).mean() > 5.0


def test_when_future_lacks_a_covariate_then_sarimax_says_which(make_panel):
    panel = make_panel(n_series=1, length=60, promo=True)
    model = SARIMAX(**FAST).fit(panel)
    with pytest.raises(PanelError, match="promo"):
        model.predict_quantiles(7, quantiles=LEVELS)


def test_normal_quantiles_map_back_from_the_log_scale():
    out = normal_quantiles(np.log1p(np.array([9.0])), np.array([0.0]), LEVELS, logged=True)
    np.testing.assert_allclose(out, 9.0)


def test_fourier_terms_span_the_weekly_cycle():
    terms = fourier(np.arange(14), 7)
    assert terms.shape == (14, 6)
    np.testing.assert_allclose(terms[:7], terms[7:], atol=1e-12)


def test_sarimax_pairs_the_interpolated_weeks_of_a_gappy_series_with_interpolated_covariates():
    # 10 of 120 weeks missing: the regular grid holds a price of 0 there; paired with the
    # interpolated sales it flattened the price effect (errors of about 30 units, not 3)
    rng = np.random.default_rng(0)
    ds = pd.date_range("2020-01-05", periods=128, freq="W-SUN")
    price = rng.choice([0.7, 0.85, 1.0], ds.size)
    mean = 100 + 200 * (1 - price)
    panel = pd.DataFrame({"unique_id": "s", "ds": ds, "y": mean + rng.normal(0, 5, ds.size), "price": price})
    history, future = panel.iloc[:-8], panel.iloc[-8:]
    history = history.drop(index=rng.choice(history.index[1:-1], 10, replace=False))
    model = get_model("sarimax").fit(history, freq="W-SUN")
    assert model.fallbacks_ == {}
    fc = model.predict_quantiles(8, future=future[["unique_id", "ds", "price"]], quantiles=[0.1, 0.5, 0.9])
    assert np.abs(fc["0.5"].to_numpy() - mean[-8:]).max() < 10


def _ar(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + e[t]
    return out


def test_choose_order_differences_a_random_walk_and_not_a_stationary_ar():
    from fcplan.models.stats import choose_order

    walk = np.cumsum(np.random.default_rng(0).normal(size=365))
    assert choose_order(walk)[0][1] == 1
    (p, d, _q), _, drift = choose_order(_ar(0.5, 365, 1))
    assert d == 0 and p >= 1 and not drift


def test_choose_order_sees_through_the_regressors():
    from fcplan.models.stats import choose_order

    t = np.arange(365)
    seasonal = fourier(t, 7)
    z = seasonal @ np.array([5.0, 1.0, 3.0, 0.5, 2.0, 1.0]) + _ar(0.6, 365, 2)
    (p, d, _q), _, _ = choose_order(z, seasonal)
    assert d == 0 and p >= 1


def test_choose_order_differences_a_drifting_weekly_pattern_seasonally():
    from fcplan.models.stats import choose_order

    rng = np.random.default_rng(3)
    e = rng.normal(size=400)
    z = np.zeros(400)
    for t in range(7, 400):
        z[t] = z[t - 7] + e[t] - 0.5 * e[t - 7]  # the weekly shape wanders: Fourier terms cannot follow
    _, seasonal_order, _ = choose_order(z[35:], fourier(np.arange(365), 7), season=7)
    assert seasonal_order == (0, 1, 1, 7)
    _, seasonal_order, _ = choose_order(_ar(0.5, 365, 4), fourier(np.arange(365), 7), season=7)
    assert seasonal_order == (0, 0, 0, 0)


def test_choose_order_does_not_difference_an_hourly_day():
    from fcplan.models.stats import MAX_SEASONAL_DIFF, choose_order

    rng = np.random.default_rng(6)
    e = rng.normal(size=600)
    z = np.zeros(600)
    for t in range(24, 600):
        z[t] = z[t - 24] + e[t]
    assert MAX_SEASONAL_DIFF < 24
    assert choose_order(z[-365:], fourier(np.arange(365), 24), season=24)[1] == (0, 0, 0, 0)


def test_sarimax_auto_order_with_seasonal_differencing_forecasts_the_pattern():
    rng = np.random.default_rng(5)
    e = rng.normal(size=300)
    z = np.zeros(300)
    for t in range(7, 300):
        z[t] = z[t - 7] + 0.3 * e[t] - 0.5 * 0.3 * e[t - 7]
    y = (20 + 5 * np.sin(2 * np.pi * np.arange(300) / 7) + z) ** 2
    panel = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=300, freq="D"), "y": y})
    model = SARIMAX(order="auto", max_iter=20).fit(panel)
    state = model.states_[0]
    assert not state.seasonal_terms and state.result.model.seasonal_order == (0, 1, 1, 7)
    median = model.predict_quantiles(7, quantiles=LEVELS)["0.5"].to_numpy()
    assert np.corrcoef(median, y[-7:])[0, 1] > 0.9  # last week's shape carried on


def test_sarimax_auto_order_fits_and_forecasts(make_panel):
    panel = make_panel(n_series=1, length=120, seed=4)
    model = SARIMAX(order="auto", max_iter=15).fit(panel)
    assert not model.fallbacks_
    frame = model.predict_quantiles(7, quantiles=LEVELS)
    assert (frame["0.9"] >= frame["0.1"]).all() and frame["0.5"].gt(0).all()


def test_sarimax_refuses_an_unknown_order_name():
    with pytest.raises(ValueError, match="auto"):
        SARIMAX(order="best")


def test_theta_fits_its_variance_with_the_model_so_the_fit_time_counts_it(make_panel):
    import pickle

    panel = make_panel(n_series=2, length=60)
    model = Theta(backend="statsmodels").fit(panel)
    results = [state.result for state in model.states_]
    assert all(r._sigma2 is not None for r in results)  # not left to the first forecast
    moved = pickle.loads(pickle.dumps(model))  # as a worker process hands it back
    assert moved.states_[0].result._sigma2 == results[0]._sigma2
    assert moved.predict_quantiles(7).equals(model.predict_quantiles(7))


def test_theta_with_the_ses_variance_keeps_it_with_the_fit(make_panel, monkeypatch):
    import pickle

    from fcplan.models import stats

    monkeypatch.setattr(stats, "THETA_SES_VARIANCE", True)
    panel = make_panel(n_series=2, length=60)
    model = Theta(backend="statsmodels").fit(panel)
    variances = [state.sigma2 for state in model.states_]
    assert all(v is not None and v > 0 for v in variances)
    assert all(state.result._sigma2 is None for state in model.states_)  # no SARIMAX fit for it
    moved = pickle.loads(pickle.dumps(model))
    assert moved.states_[0].sigma2 == variances[0]
    assert moved.predict_quantiles(7).equals(model.predict_quantiles(7))


def test_theta_band_measures_the_noise_not_the_weekly_swing(monkeypatch):
    # a strong weekly pattern and little noise: statsmodels' own sigma2 (an ARIMA(0,1,1) of the
    # seasonal series) takes the weekly swings for noise and its 80 % band is 42 wide here
    from fcplan.models import stats

    monkeypatch.setattr(stats, "THETA_SES_VARIANCE", True)
    rng = np.random.default_rng(0)
    t = np.arange(140)
    y = 200.0 + 40.0 * np.sin(2 * np.pi * t / 7) + rng.normal(0.0, 2.0, t.size)
    panel = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=t.size, freq="D"), "y": y})
    frame = Theta(transform="none", backend="statsmodels").fit(panel).predict_quantiles(7, quantiles=LEVELS)
    width = (frame["0.9"] - frame["0.1"]).to_numpy()
    assert width[0] < 4 * 1.2816 * 2.0  # the noise's 80 % band is about 5 wide; the swing's 60
    numpy = Theta(transform="none", backend="numpy").fit(panel).predict_quantiles(7, quantiles=LEVELS)
    np.testing.assert_allclose(width, (numpy["0.9"] - numpy["0.1"]).to_numpy(), rtol=0.5)


def test_ses_variance_is_the_mean_squared_one_step_error():
    from fcplan.models.stats import ses_variance

    # level 1, then 1 + 0.5 * (3 - 1) = 2: errors 2 and 0
    assert ses_variance(np.array([1.0, 3.0, 2.0]), 0.5) == pytest.approx((4.0 + 0.0) / 2)
    assert ses_variance(np.array([5.0]), 0.3) == 0.0


def _trending_seasonal_panel(freq: str, n_series: int = 6, length: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = np.arange(length)
    frames = []
    for i in range(n_series):
        level = (50 + 2 * i) * 1.01**t * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2015-01-01", periods=length, freq=freq),
                                    "y": level * rng.lognormal(0, 0.03, length)}))
    return pd.concat(frames, ignore_index=True)


def test_sarimax_fits_a_few_monthly_series_one_by_one_with_their_own_order():
    # monthly / quarterly data: the likelihood fit with seasonal differencing, not the numpy path of
    # Fourier terms and AR(1) errors, up to SARIMAX_YEARLY_NUMPY_FROM_SERIES series (the old code
    # took the numpy path from 4 series on whatever the frequency)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("MS"))
    assert all(not (isinstance(s, tuple) and s and s[0] == _BATCH) for s in model.states_)
    assert all(s.result.model.nobs == 60 for s in model.states_)  # statsmodels fits, one a series
    frame = model.predict_quantiles(12, quantiles=LEVELS)
    assert (frame["0.9"] >= frame["0.1"]).all()


def test_sarimax_keeps_the_numpy_path_for_a_few_daily_series():
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("D"))
    assert all(isinstance(s, tuple) and s[0] == _BATCH for s in model.states_)


def test_sarimax_takes_the_numpy_path_for_many_monthly_series(monkeypatch):
    monkeypatch.setattr("fcplan.models.stats.SARIMAX_YEARLY_NUMPY_FROM_SERIES", 5)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("MS"))
    assert all(isinstance(s, tuple) and s[0] == _BATCH for s in model.states_)


def test_sarimax_takes_the_numpy_path_for_monthly_series_of_many_points_in_all(monkeypatch):
    # 6 series x 60 months = 360 points: over the bound, the numpy path (the likelihood fits cost a
    # fraction of a second each, per series and window)
    monkeypatch.setattr("fcplan.models.stats.SARIMAX_YEARLY_MAX_POINTS", 359)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("MS"))
    assert all(isinstance(s, tuple) and s[0] == _BATCH for s in model.states_)
    monkeypatch.setattr("fcplan.models.stats.SARIMAX_YEARLY_MAX_POINTS", 360)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("MS"))
    assert not any(isinstance(s, tuple) and s and s[0] == _BATCH for s in model.states_)


def test_sarimax_keeps_the_numpy_path_for_quarterly_series_too_short_for_the_order_search():
    # 32 quarters leave choose_order no room (it would fit (1, 0, 1) on Fourier terms, as the numpy path)
    assert not order_search_room(32, 4) and order_search_room(48, 4)
    # the thresholds README and SARIMAX_YEARLY_NUMPY_FROM_SERIES's note give (the note said 63 months)
    assert not order_search_room(41, 4) and order_search_room(42, 4)
    assert not order_search_room(34, 12) and order_search_room(35, 12)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("QS", length=32))
    assert all(isinstance(s, tuple) and s[0] == _BATCH for s in model.states_)
    model = SARIMAX(max_iter=10).fit(_trending_seasonal_panel("QS", length=48))
    assert not any(isinstance(s, tuple) and s and s[0] == _BATCH for s in model.states_)
