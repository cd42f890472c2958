"""The numpy backends of the statistical models: all series fitted at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.core.frequency import season_is_a_year
from fcplan.models.stats import ETS, SARIMAX, SARIMAX_MAX_ITER, Theta
from fcplan.models.vectorized import fit_ets, fit_regression, forecast_ets, forecast_regression, right_align

LEVELS = [0.1, 0.5, 0.9]


@pytest.mark.parametrize("model_cls", [ETS, SARIMAX, Theta])
def test_numpy_backend_gives_ordered_quantiles_for_awkward_panels(model_cls, make_awkward_panel):
    panel = make_awkward_panel()
    frame = model_cls(backend="numpy").fit(panel).predict_quantiles(5, quantiles=LEVELS)
    assert len(frame) == 5 * panel["unique_id"].nunique()
    values = frame[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()


@pytest.mark.parametrize("model_cls", [ETS, SARIMAX, Theta])
def test_numpy_backend_falls_back_on_constant_series_and_says_why(model_cls, make_panel):
    panel = make_panel(n_series=3, length=50)
    panel.loc[panel["unique_id"] == "fc1", "y"] = 7.0
    model = model_cls(backend="numpy").fit(panel)
    assert set(model.fallbacks_) == {"fc1"} and "constant" in model.fallbacks_["fc1"]
    frame = model.predict_quantiles(7, quantiles=LEVELS)
    assert np.allclose(frame.loc[frame["unique_id"] == "fc1", ["0.1", "0.5", "0.9"]], 7.0)


@pytest.mark.parametrize("model_cls", [ETS, Theta, SARIMAX])
def test_numpy_backend_follows_the_weekly_pattern_like_statsmodels(model_cls, make_panel):
    panel = make_panel(n_series=4, length=84, seed=3)
    actual = make_panel(n_series=4, length=91, seed=3).groupby("unique_id").tail(7)
    errors = {}
    for backend in ("numpy", "statsmodels"):
        frame = model_cls(backend=backend).fit(panel).predict_quantiles(7, quantiles=LEVELS)
        errors[backend] = np.abs(frame["0.5"].to_numpy() - actual["y"].to_numpy()).mean()
    assert errors["numpy"] < 1.25 * errors["statsmodels"] + 0.5


def test_when_a_promotion_is_planned_then_the_numpy_regression_forecasts_more(make_panel, make_future):
    panel = make_panel(n_series=3, length=120, promo=True, seed=2)
    model = SARIMAX(backend="numpy").fit(panel)
    with_promo = model.predict_quantiles(7, future=make_future(panel, 7, promo=1.0), quantiles=LEVELS)
    without = model.predict_quantiles(7, future=make_future(panel, 7, promo=0.0), quantiles=LEVELS)
    assert (with_promo["0.5"] - without["0.5"]).mean() > 5.0


def test_auto_backend_switches_to_numpy_on_many_series(make_panel):
    few = ETS().fit(make_panel(n_series=2, length=60))
    many = ETS().fit(make_panel(n_series=9, length=60))
    assert getattr(few, "batch_", None) is None and many.batch_ is not None


def test_sarimax_takes_the_numpy_path_from_fewer_series_than_the_others(make_panel):
    """SARIMAX's likelihood fits cost most of a small panel's run: numpy from 4 series."""
    three, four = make_panel(n_series=3, length=60), make_panel(n_series=4, length=60)
    assert getattr(SARIMAX().fit(three), "batch_", None) is None
    assert SARIMAX().fit(four).batch_ is not None
    assert getattr(ETS().fit(four), "batch_", None) is None  # the others: from 8


def test_sarimax_likelihood_fits_stop_at_their_iteration_cap(make_panel):
    """A fit that has not converged costs a numerical gradient an iteration: SARIMAX_MAX_ITER at most."""
    panel = make_panel(n_series=2, length=120, promo=True)  # these fits run past 50 iterations
    fits = SARIMAX(backend="statsmodels", order=(1, 0, 1)).fit(panel).states_
    assert [fit.result.mle_retvals["iterations"] for fit in fits] == [SARIMAX_MAX_ITER] * 2


def test_vectorised_ets_recovers_a_linear_trend_and_its_season():
    t = np.arange(100)
    z = np.stack([10 + 0.5 * t + 3 * np.sin(2 * np.pi * t / 7), np.full(100, 5.0) + (t % 2)])
    mean, variance = forecast_ets(fit_ets(z, 7), 7)
    expected = 10 + 0.5 * np.arange(100, 107) + 3 * np.sin(2 * np.pi * np.arange(100, 107) / 7)
    np.testing.assert_allclose(mean[0], expected, atol=1.5)
    assert (np.diff(variance, axis=1) >= 0).all()


def test_regression_with_ar_errors_recovers_a_covariate_effect():
    rng = np.random.default_rng(0)
    x = (rng.random((50, 200, 1)) < 0.2).astype(float)
    e = np.zeros((50, 200))
    for t in range(1, 200):
        e[:, t] = 0.7 * e[:, t - 1] + rng.normal(0, 1, 50)
    z = 20 + 4 * x[..., 0] + e
    design = np.concatenate([np.ones((50, 200, 1)), x], axis=2)
    fit = fit_regression(z, design)
    assert np.median(fit.coef[:, 1]) == pytest.approx(4.0, abs=0.3)
    mean, _ = forecast_regression(fit, np.concatenate([np.ones((50, 3, 1)), np.ones((50, 3, 1))], axis=2))
    assert np.median(mean[:, -1]) == pytest.approx(24.0, abs=1.0)


def test_right_align_pads_shorter_rows_in_front():
    out = right_align([np.array([1.0, 2.0, 3.0]), np.array([4.0])])
    assert np.isnan(out[1, :2]).all() and out[1, 2] == 4.0 and list(out[0]) == [1.0, 2.0, 3.0]
    assert pd.isna(out).sum() == 2


def _moving_season(n_cycles: int, m: int, seed: int = 0) -> np.ndarray:
    """A seasonal pattern whose amplitude doubles over the series, with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_cycles * m)
    shape = np.sin(2 * np.pi * t / m) + 0.5 * np.cos(4 * np.pi * t / m)
    return 20 + (1 + t / len(t)) * 4 * shape + rng.normal(0, 0.2, len(t))


def test_vectorised_ets_follows_a_moving_yearly_season():
    m = 12
    z = np.stack([_moving_season(10, m, seed) for seed in range(3)])
    future = np.stack([_moving_season(11, m, seed) for seed in range(3)])[:, -m:]
    fit = fit_ets(z, m, yearly=True)
    assert (fit.gamma > 0.2).all()  # faster than the grid of weekly and daily cycles
    mean, _ = forecast_ets(fit, m)
    slow = fit_ets(z, m)
    slow_mean, _ = forecast_ets(slow, m)
    assert (slow.gamma <= 0.2).all()
    assert np.abs(mean - future).mean() < 0.8 * np.abs(slow_mean - future).mean()


def test_ets_tries_fast_seasonal_smoothing_on_monthly_data_only():
    rows = []
    for freq in ("MS", "D"):
        start = pd.Timestamp("2000-01-01")
        ds = pd.date_range(start, periods=120, freq=freq)
        m = 12 if freq == "MS" else 7
        rows += [pd.DataFrame({"unique_id": f"{freq}{i}", "ds": ds, "y": _moving_season(10, 12, i)[:120] if m == 12
                               else _moving_season(18, 7, i)[:120]}) for i in range(8)]
    frames = {freq: pd.concat([r for r in rows if r["unique_id"].iloc[0].startswith(freq)]) for freq in ("MS", "D")}
    monthly = ETS(backend="numpy").fit(frames["MS"], freq="MS")
    daily = ETS(backend="numpy").fit(frames["D"], freq="D")
    assert (monthly.batch_[0].gamma > 0.2).all()
    assert (daily.batch_[0].gamma <= 0.2).all()


def test_frequency_season_is_a_year_for_months_and_quarters_only():
    assert season_is_a_year("MS") and season_is_a_year("QE")
    assert not any(season_is_a_year(f) for f in ("D", "h", "2h", "W-MON", "30min", "B"))


def _trending_seasonal(n_series: int, length: int, slope: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return np.stack([20 + slope * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, length)
                     for _ in range(n_series)])


def _fourier_design(n_series: int, start: int, length: int) -> np.ndarray:
    t = np.arange(start, start + length)
    cols = [np.ones(length), np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)]
    return np.repeat(np.stack(cols, axis=1)[None], n_series, axis=0)


def test_numpy_regression_follows_a_trend_through_its_drifting_level():
    full = _trending_seasonal(4, 108, slope=0.2)
    z, future = full[:, :96], full[:, 96:]
    errors = {}
    for drift in (True, False):
        fit = fit_regression(z, _fourier_design(4, 0, 96), drift=drift)
        mean, _ = forecast_regression(fit, _fourier_design(4, 96, 12))
        errors[drift] = np.abs(mean - future).mean()
    assert errors[True] < 0.5 * errors[False]


def test_numpy_regression_takes_no_drift_on_flat_noise():
    z = _trending_seasonal(8, 96, slope=0.0, seed=1)
    fit = fit_regression(z, _fourier_design(8, 0, 96))
    assert fit.drift is not None and (fit.drift == 0).sum() >= 6
