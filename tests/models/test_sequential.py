"""The sequential change test's pure parts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fcplan.models.sequential import DEFAULT_SHAPE, change_llr, day_distribution, intraday_shares, threshold_for


def nb_quantiles(levels: list[float], mean: float, shape: float) -> list[float]:
    return list(stats.nbinom.ppf(levels, shape, shape / (shape + mean)))


@pytest.mark.parametrize("levels", [[0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95], [0.1, 0.5, 0.9], [0.25, 0.75]])
def test_day_distribution_reads_mean_and_shape_off_any_quantile_set(levels: list[float]) -> None:
    mean, shape = day_distribution(levels, nb_quantiles(levels, 800.0, 40.0))
    assert mean == pytest.approx(800.0, rel=0.03)
    assert shape == pytest.approx(40.0, rel=0.35)


def test_when_the_forecast_has_one_level_then_the_default_shape_is_used() -> None:
    assert day_distribution([0.5], [120.0]) == (120.0, DEFAULT_SHAPE)


def test_when_levels_and_values_disagree_in_length_then_the_error_says_so() -> None:
    with pytest.raises(ValueError, match="one forecast value per quantile level"):
        day_distribution([0.1, 0.9], [1.0])


def test_intraday_shares_are_24_positive_shares_summing_to_one() -> None:
    shares = intraday_shares(np.array([9, 9, 21]), np.array([10.0, 5.0, 30.0]))
    assert shares.shape == (24,) and shares.min() > 0 and shares.sum() == pytest.approx(1.0)
    assert shares[21] > shares[9] > shares[3]


def test_change_llr_favours_the_shift_only_when_the_actuals_moved() -> None:
    m_cum = np.cumsum(np.r_[0.0, np.full(12, 50.0)])
    on_forecast = change_llr(m_cum, m_cum, 40.0, 1.3)
    doubled_from_hour_6 = m_cum + np.r_[np.zeros(7), np.cumsum(np.full(6, 50.0))]
    moved = change_llr(doubled_from_hour_6, m_cum, 40.0, 1.3)
    assert on_forecast.max() < 0
    assert moved.max() > 10 and int(np.argmax(moved)) == 6


def test_threshold_inverts_the_false_alarm_bound() -> None:
    h = threshold_for(1.0, 2)
    assert 2 * 8766 * np.exp(-h) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="false_alarms_per_year > 0"):
        threshold_for(0.0, 2)
