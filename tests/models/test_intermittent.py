import numpy as np
import pandas as pd
import pytest

from fcplan.models.intermittent import TSB, season_index, tsb_quantiles, tsb_states
from fcplan.models.registry import MODELS

LEVELS = [0.1, 0.5, 0.9]


def _panel(series: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for uid, y in series.items():
        ds = pd.date_range("2024-01-01", periods=len(y), freq="D")
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(y, dtype="float64")}))
    return pd.concat(frames, ignore_index=True)


def test_tsb_is_registered():
    assert MODELS["tsb"] is TSB


def test_when_demand_is_rare_then_low_quantiles_are_zero_and_the_top_one_a_usual_size():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(300) < 0.3, 2.0, 0.0)  # demand on ~30 % of days, always 2
    frame = TSB().fit(_panel({"a": y}), freq="D").predict_quantiles(7, quantiles=LEVELS)
    assert np.all(frame["0.1"] == 0.0)
    assert np.all(frame["0.5"] == 0.0)  # P(0) ~ 0.7 > 0.5
    assert np.allclose(frame["0.9"], 2.0, atol=0.3)


def test_when_a_series_stops_selling_then_its_occurrence_probability_decays():
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.poisson(1.0, 200), np.zeros(60)]).astype("float64")[None, :]
    p, _, _ = tsb_states(y, np.array([0.1]), np.array([0.1]))
    assert p[0, 0] < 0.01  # Croston's would keep forecasting the old rate
    q = tsb_quantiles(y, 7, 7, [0.9], 90)
    assert np.all(q == 0.0)


def test_season_index_follows_the_weekday_occurrence():
    days = np.arange(280)
    y = np.where(days % 7 == 0, 1.0, np.where(days % 2 == 0, 1.0, 0.0))[None, :]
    index = season_index(y, 7, 7)
    # the weekday of column 0 (always sells) comes back at future step (280 % 7) = 0
    assert index[0, 0] > 1.3
    assert index[0].min() < index[0, 0]


def test_when_a_series_is_not_intermittent_then_it_falls_back_to_seasonal_naive():
    y = np.tile([10.0, 12, 14, 16, 18, 20, 22], 20)
    frame = TSB().fit(_panel({"a": y}), freq="D").predict_quantiles(7, quantiles=LEVELS)
    assert np.allclose(frame["0.5"].to_numpy(), y[-7:])


@pytest.mark.parametrize("length", [3, 30])
def test_short_series_get_a_forecast(length):
    y = np.array([0.0, 1.0, 0.0] * 10)[:length]
    frame = TSB().fit(_panel({"a": y, "b": np.r_[y, y]}), freq="D").predict_quantiles(5, quantiles=LEVELS)
    assert len(frame) == 10
    assert np.isfinite(frame[["0.1", "0.5", "0.9"]].to_numpy()).all()


def test_default_pool_takes_tsb_only_where_a_series_is_intermittent():
    from fcplan.models.engine import default_pool

    regular = _panel({"a": np.arange(1.0, 101.0), "b": np.full(100, 5.0)})
    sparse = _panel({"a": np.arange(1.0, 101.0), "b": np.tile([0.0, 0.0, 3.0, 0.0], 25)})
    assert "tsb" not in default_pool(["seasonal_naive", "tsb"], regular)
    assert "tsb" in default_pool(["seasonal_naive", "tsb"], sparse)


def test_a_store_closed_on_saturdays_and_holidays_is_not_intermittent():
    from fcplan.models.engine import default_pool

    days = np.tile([5.0, 6.0, 7.0, 6.0, 8.0, 0.0, 3.0], 30)  # demand on 6 days of 7, one closed day a month
    days[::30] = 0.0
    assert "tsb" not in default_pool(["seasonal_naive", "tsb"], _panel({"a": days}))
    days[::3] = 0.0  # demand on under 3 days of 4
    assert "tsb" in default_pool(["seasonal_naive", "tsb"], _panel({"a": days}))
