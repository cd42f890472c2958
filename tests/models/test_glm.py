"""The count regression: it recovers multiplicative effects and gives count quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcplan.models.glm import CountGLM, count_quantiles, dispersion, fit_poisson, periods_per_year
from fcplan.models.metrics import wql

LEVELS = [0.1, 0.5, 0.9]
WEEKLY = np.array([1.3, 1.1, 1.0, 1.0, 0.9, 0.7, 1.0])


def _panel(days: int = 500, horizon: int = 14, seed: int = 0, size: float = 40.0):
    """Negative-binomial daily counts: base x weekday x (1 + promo), promotions known ahead."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days + horizon, freq="D")
    promo = np.where(rng.random(ds.size) < 0.1, rng.choice([0.3, 0.6, 1.0], ds.size), 0.0)
    mean = 200.0 * WEEKLY[ds.dayofweek] * (1.0 + promo)
    y = rng.negative_binomial(size, size / (size + mean)).astype(float)
    frame = pd.DataFrame({"unique_id": "fc", "ds": ds, "y": y, "promo": promo})
    return frame.iloc[:days], frame.iloc[days:], mean[days:]


def test_the_forecast_median_follows_weekday_and_promotion_multipliers():
    history, future, mean = _panel()
    future = future.copy()
    future.loc[future.index[[2, 9]], "promo"] = [1.0, 0.5]  # promotions it must carry forward
    mean = 200.0 * WEEKLY[future["ds"].dt.dayofweek] * (1.0 + future["promo"].to_numpy())
    fc = CountGLM().fit(history, freq="D").predict_quantiles(14, future=future[["unique_id", "ds", "promo"]],
                                                              quantiles=LEVELS)
    median = fc["0.5"].to_numpy()
    assert np.abs(median / mean - 1).max() < 0.1
    # the uplift is multiplicative: a +100 % day forecasts about twice its weekday's level
    assert median[2] / median[9] == pytest.approx(mean[2] / mean[9], rel=0.1)


def test_quantiles_are_close_to_the_true_negative_binomial():
    history, future, mean = _panel(seed=3)
    fc = CountGLM().fit(history, freq="D").predict_quantiles(
        14, future=future[["unique_id", "ds", "promo"]], quantiles=LEVELS
    )
    truth = stats.nbinom.ppf(np.array(LEVELS)[None, :], 40.0, 40.0 / (40.0 + mean[:, None]))
    width, true_width = (fc["0.9"] - fc["0.1"]).mean(), (truth[:, 2] - truth[:, 0]).mean()
    assert width == pytest.approx(true_width, rel=0.25)
    y = future["y"].to_numpy()
    naive = np.repeat(history["y"].tail(7).mean(), 3)[None, :].repeat(14, 0)
    assert wql(y, fc[["0.1", "0.5", "0.9"]].to_numpy(), LEVELS) < wql(y, naive, LEVELS)


def test_poisson_fit_recovers_log_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = rng.poisson(np.exp(1.5 + 0.5 * x[:, 0] - 0.3 * x[:, 1])).astype(float)
    beta = fit_poisson(x, y, np.ones(y.size), ridge=0.0)
    assert beta == pytest.approx([1.5, 0.5, -0.3], abs=0.03)


def test_dispersion_is_large_for_poisson_noise_and_matches_negative_binomial_noise():
    rng = np.random.default_rng(1)
    mu = np.full(20000, 50.0)
    ones = np.ones(mu.size)
    assert dispersion(rng.poisson(mu).astype(float), mu, ones, integer=True) > 200
    nb = rng.negative_binomial(10.0, 10.0 / 60.0, mu.size).astype(float)
    assert dispersion(nb, mu, ones, integer=True) == pytest.approx(10.0, rel=0.1)


def test_non_integer_data_get_continuous_quantiles():
    values = count_quantiles(np.array([10.0, 20.0]), 5.0, [0.1, 0.5, 0.9], integer=False)
    assert not np.allclose(values, np.round(values))
    assert (np.diff(values, axis=1) > 0).all()
    assert values[1] == pytest.approx(2 * values[0])


def test_a_series_with_negative_values_falls_back_and_the_model_says_why():
    history, _, _ = _panel(days=120)
    history = history.assign(y=history["y"] - 300.0)
    model = CountGLM().fit(history, freq="D")
    assert "negative values" in model.fallbacks_["fc"]
    assert len(model.predict_quantiles(7, future=_panel(days=120, horizon=7)[1][["unique_id", "ds", "promo"]])) == 7


@pytest.mark.parametrize(("freq", "per_year"), [("D", 365.2425), ("W-WED", 52.1775), ("h", 8765.82), ("2D", 182.62)])
def test_periods_per_year(freq, per_year):
    assert periods_per_year(freq) == pytest.approx(per_year, rel=1e-4)


def test_weekly_data_with_a_yearly_cycle_are_forecast_in_their_season():
    ds = pd.date_range("2021-01-06", periods=4 * 52 + 8, freq="W-WED")
    mean = 500.0 * (1 + 0.3 * np.cos(2 * np.pi * np.arange(ds.size) / 52.1775))
    y = np.random.default_rng(2).poisson(mean).astype(float)
    panel = pd.DataFrame({"unique_id": "w", "ds": ds, "y": y})
    fc = CountGLM().fit(panel.iloc[:-8], freq="W-WED").predict_quantiles(8, quantiles=LEVELS)
    assert np.abs(fc["0.5"].to_numpy() / mean[-8:] - 1).max() < 0.08


def test_hourly_data_follow_the_hour_of_day_and_the_day_of_week():
    ds = pd.date_range("2025-01-06", periods=24 * 7 * 8, freq="h")  # 8 weeks from a Monday
    hour = np.exp(np.sin(2 * np.pi * (ds.hour.to_numpy() - 8) / 24))
    weekend = np.where(ds.dayofweek.to_numpy() >= 5, 0.5, 1.0)
    mean = 30.0 * hour * weekend
    y = np.random.default_rng(4).poisson(mean).astype(float)
    panel = pd.DataFrame({"unique_id": "h", "ds": ds, "y": y})
    week = 24 * 7
    fc = CountGLM().fit(panel.iloc[:-week], freq="h").predict_quantiles(week, quantiles=LEVELS)
    median, truth = fc["0.5"].to_numpy(), mean[-week:]
    assert np.corrcoef(median, truth)[0, 1] > 0.97
    assert median[24 * 5 : 24 * 7].sum() / median[: 24 * 5].sum() == pytest.approx(0.2, rel=0.15)  # 2 half days / 5


def test_a_weekly_series_of_under_two_years_is_fitted_and_follows_its_price():
    # 60 weeks (the history of a one-year retail panel): the weekly design has no season
    # dummies, so the regression is fitted (it used to need 98 weeks and fell back)
    rng = np.random.default_rng(5)
    ds = pd.date_range("2024-01-07", periods=68, freq="W-SUN")
    price = np.where(rng.random(ds.size) < 0.2, 0.7, 1.0)
    price[-8:] = [1.0, 0.7, 1.0, 1.0, 0.7, 1.0, 1.0, 1.0]
    mean = 100.0 * price**-2.0
    y = rng.negative_binomial(30.0, 30.0 / (30.0 + mean)).astype(float)
    panel = pd.DataFrame({"unique_id": "w", "ds": ds, "y": y, "price": price})
    model = CountGLM().fit(panel.iloc[:-8], freq="W-SUN")
    assert model.fallbacks_ == {}
    median = model.predict_quantiles(8, future=panel.iloc[-8:][["unique_id", "ds", "price"]],
                                     quantiles=LEVELS)["0.5"].to_numpy()
    assert np.abs(median / mean[-8:] - 1).max() < 0.2  # the promoted weeks forecast about twice the level
    # a series under half a year still falls back
    assert CountGLM().fit(panel.iloc[:20], freq="W-SUN").fallbacks_


def test_a_positive_level_covariate_enters_as_a_constant_elasticity():
    # demand = level x price^-2: a price the history never went down to is forecast by
    # the elasticity (log price), where log1p(price) would bend the curve
    rng = np.random.default_rng(6)
    ds = pd.date_range("2020-01-05", periods=160, freq="W-SUN")
    price = rng.choice([0.6, 0.8, 1.0, 1.2], ds.size)
    price[-8:] = [0.5, 1.6, 0.5, 1.6, 0.5, 1.6, 0.5, 1.6]
    mean = 200.0 * price**-2.0
    y = rng.poisson(mean).astype(float)
    panel = pd.DataFrame({"unique_id": "p", "ds": ds, "y": y, "price": price})
    fc = CountGLM().fit(panel.iloc[:-8], freq="W-SUN").predict_quantiles(
        8, future=panel.iloc[-8:][["unique_id", "ds", "price"]], quantiles=LEVELS
    )
    assert np.abs(fc["0.5"].to_numpy() / mean[-8:] - 1).max() < 0.1


def test_missing_weeks_are_left_out_of_the_fit_not_made_up():
    # a fifth of the weeks missing (their covariates read 0 on the regular grid): the series is
    # fitted on the weeks it has and keeps its price elasticity
    rng = np.random.default_rng(7)
    ds = pd.date_range("2020-01-05", periods=120, freq="W-SUN")
    price = rng.choice([0.7, 0.85, 1.0], ds.size)
    mean = 150.0 * price**-2.5
    y = rng.poisson(mean).astype(float)
    panel = pd.DataFrame({"unique_id": "g", "ds": ds, "y": y, "price": price})
    history, future = panel.iloc[:-8], panel.iloc[-8:]
    history = history.drop(index=rng.choice(history.index[1:-1], 22, replace=False))
    model = CountGLM().fit(history, freq="W-SUN")
    assert model.fallbacks_ == {}
    fc = model.predict_quantiles(8, future=future[["unique_id", "ds", "price"]], quantiles=LEVELS)
    assert np.abs(fc["0.5"].to_numpy() / mean[-8:] - 1).max() < 0.12


def test_series_forecast_together_get_their_own_quantiles_and_a_failure_falls_back(monkeypatch):
    """Count and non-count series forecast in one call each give what each series' own
    forecast gives; a series whose forecast raises falls back to seasonal naive alone."""
    parts = []
    for k, (uid, shift) in enumerate([("a", 0.0), ("b", 0.5), ("c", 0.0), ("d", 0.25)]):
        history, future, _ = _panel(days=120, seed=k, size=5.0 + 20 * k)
        parts.append((history.assign(unique_id=uid, y=history["y"] + shift), future.assign(unique_id=uid)))
    history = pd.concat([h for h, _ in parts], ignore_index=True)
    future = pd.concat([f for _, f in parts], ignore_index=True)[["unique_id", "ds", "promo"]]
    model = CountGLM().fit(history, freq="D")
    assert [s.integer for s in model.states_] == [True, False, True, False]
    levels = [0.05, 0.5, 0.95]
    fc = model.predict_quantiles(14, future=future, quantiles=levels)
    x = future["promo"].to_numpy().reshape(4, 14, 1)
    for i, state in enumerate(model.states_):
        own = np.sort(np.clip(model._forecast_series(state, 14, x[i], levels), 0, None), axis=-1)
        np.testing.assert_array_equal(fc.iloc[14 * i : 14 * (i + 1), 3:].to_numpy(), own)

    mean = CountGLM._mean

    def broken(self, state, h, x_future):
        if state is self.states_[1]:
            raise FloatingPointError("overflow")
        return mean(self, state, h, x_future)

    monkeypatch.setattr(CountGLM, "_mean", broken)
    again = model.predict_quantiles(14, future=future, quantiles=levels)
    assert "forecast failed" in model.fallbacks_["b"] and set(model.fallbacks_) == {"b"}
    pd.testing.assert_frame_equal(again.iloc[[*range(14), *range(28, 56)]], fc.iloc[[*range(14), *range(28, 56)]])


def test_a_noisier_weekday_gets_a_wider_band_than_the_others():
    """Sundays (size 5) are much noisier than the other days (size 60): with one dispersion per
    weekday the Sunday band is wider relative to its level and the weekday bands narrower than
    with one pooled dispersion, each close to its own negative binomial's."""
    rng = np.random.default_rng(1)
    days, horizon = 700, 14
    ds = pd.date_range("2024-01-01", periods=days + horizon, freq="D")
    mean = 100.0 * WEEKLY[ds.dayofweek]
    size = np.where(ds.dayofweek == 6, 5.0, 60.0)
    y = rng.negative_binomial(size, size / (size + mean)).astype(float)
    history = pd.DataFrame({"unique_id": "fc", "ds": ds[:days], "y": y[:days]})
    future = pd.DataFrame({"unique_id": "fc", "ds": ds[days:]})
    sunday = (future["ds"].dt.dayofweek == 6).to_numpy()

    def widths(**params):
        fc = CountGLM(**params).fit(history, freq="D").predict_quantiles(horizon, future=future, quantiles=LEVELS)
        return ((fc["0.9"] - fc["0.1"]) / fc["0.5"]).to_numpy()

    phased, pooled = widths(), widths(phase_dispersion=False)
    m, r = mean[days:, None], size[days:, None]
    truth = stats.nbinom.ppf(np.array([[0.1, 0.9]]), r, r / (r + m))
    true_rel = (truth[:, 1] - truth[:, 0]) / m[:, 0]
    assert phased[sunday].mean() > pooled[sunday].mean() * 1.3
    assert phased[~sunday].mean() < pooled[~sunday].mean()
    assert phased[sunday].mean() == pytest.approx(true_rel[sunday].mean(), rel=0.25)
    assert phased[~sunday].mean() == pytest.approx(true_rel[~sunday].mean(), rel=0.25)


def test_the_days_after_a_flagged_holiday_keep_the_dip_they_had_in_earlier_years():
    """Demand stays low for a week after each year's flagged holiday (Christmas to New Year), on
    days the flag itself leaves at 0: the forecast of the next such week must dip too."""
    rng = np.random.default_rng(3)
    ds = pd.date_range("2021-01-01", "2023-12-31", freq="D")
    christmas = ((ds.month == 12) & (ds.day == 25)).astype(float)
    after = (ds.month == 12) & (ds.day >= 26)
    mean = 200.0 * WEEKLY[ds.dayofweek] * np.where(christmas > 0, 0.4, np.where(after, 0.6, 1.0))
    y = rng.negative_binomial(40.0, 40.0 / (40.0 + mean)).astype(float)
    frame = pd.DataFrame({"unique_id": "fc", "ds": ds, "y": y, "hol_christmas": christmas})
    history, future = frame[frame["ds"] < "2023-12-18"], frame[frame["ds"] >= "2023-12-18"]
    fc = CountGLM().fit(history, freq="D").predict_quantiles(
        14, future=future[["unique_id", "ds", "hol_christmas"]], quantiles=LEVELS)
    median = fc["0.5"].to_numpy()
    truth = mean[-14:]
    week_after = (future["ds"].dt.day >= 27).to_numpy()  # 27-31 Dec
    # the old design (the flag on its own day only) forecast these days at a work-day level (+60 %)
    assert np.abs(median[week_after] / truth[week_after] - 1).max() < 0.15


def test_missing_days_of_a_work_day_flag_are_no_holidays_for_the_days_after():
    """A gap in the history holds 0 in every covariate (the regular grid): a work-day flag's 0 on a
    weekday there is no holiday, so the week after a missing day is no week after a holiday. Read as
    one, the many gaps' ordinary weeks drowned the real dip after the flagged holidays."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2021-01-01", "2023-12-31", freq="D")
    weekday = ds.dayofweek < 5
    holiday = ((ds.month == 12) & (ds.day == 25)) | ((ds.month == 7) & (ds.day == 4)) \
        | ((ds.month == 5) & (ds.day == 1)) | ((ds.month == 10) & (ds.day == 3))
    workday = (weekday & ~holiday).astype(float)
    # the dip follows the flag's weekday holidays (a weekend's 0 is usual): 7 days after each
    event = np.flatnonzero(weekday & holiday)
    after = np.zeros(len(ds), dtype=bool)
    for e in event:
        after[e + 1 : e + 8] = True
    after &= ~(weekday & holiday)
    mean = 200.0 * WEEKLY[ds.dayofweek] * np.where(weekday & holiday, 0.4, np.where(after, 0.6, 1.0))
    y = rng.negative_binomial(40.0, 40.0 / (40.0 + mean)).astype(float)
    frame = pd.DataFrame({"unique_id": "fc", "ds": ds, "y": y, "workday": workday})
    history, future = frame[frame["ds"] < "2023-12-18"], frame[frame["ds"] >= "2023-12-18"]
    ordinary = (history["ds"].dt.dayofweek < 5) & (history["ds"].dt.month < 12) & ~after[: len(history)]
    gaps = history[ordinary].sample(frac=0.06, random_state=1).index  # ~40 missing work days
    history = history.drop(gaps)
    fc = CountGLM().fit(history, freq="D").predict_quantiles(
        14, future=future[["unique_id", "ds", "workday"]], quantiles=LEVELS)
    median = fc["0.5"].to_numpy()
    truth = mean[-14:]
    week_after = after[-14:]
    assert week_after.sum() >= 5
    assert np.abs(median[week_after] / truth[week_after] - 1).max() < 0.15
