"""The sequential change test's pure parts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fcplan.models.sequential import (
    DEFAULT_SHAPE,
    alarm_level,
    change_llr,
    day_distribution,
    day_llr,
    intraday_shares,
    log_sum,
    roberts,
    weekday_tilts,
)


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


def test_alarm_level_inverts_the_false_alarm_bound() -> None:
    level = alarm_level(1.0, 3)
    assert 3 * 365.25 * np.exp(-level) == pytest.approx(1.0)
    assert alarm_level(0.5, 3) == pytest.approx(level + np.log(2))
    with pytest.raises(ValueError, match="false_alarms_per_year > 0"):
        alarm_level(0.0, 2)


def test_roberts_adds_the_weighted_starts_and_extends_the_carry_by_the_whole_day() -> None:
    llr = np.array([0.5, 2.0, -1.0])
    log_w = np.log([0.2, 0.3, 0.5])
    stat, best = roberts(np.log(4.0), llr, log_w)
    expected = 4.0 * np.exp(0.5) + 0.2 * np.exp(0.5) + 0.3 * np.exp(2.0) + 0.5 * np.exp(-1.0)
    assert stat == pytest.approx(np.log(expected)) and best == -1
    fresh, best = roberts(float("-inf"), llr, log_w)
    assert fresh == pytest.approx(np.log(expected - 4.0 * np.exp(0.5))) and best == 1


def test_log_sum_is_exact_and_safe_for_huge_and_empty_terms() -> None:
    assert log_sum(np.array([1000.0, 1000.0])) == pytest.approx(1000.0 + np.log(2))
    assert log_sum(np.array([])) == float("-inf")


def test_day_llr_is_the_whole_day_entry_of_change_llr() -> None:
    m_cum = np.cumsum(np.r_[0.0, np.full(10, 40.0)])
    x_cum = 1.2 * m_cum
    whole = day_llr(x_cum[-1], m_cum[-1], 50.0, np.array([1.3, 1 / 1.3]))
    assert whole[0] == pytest.approx(change_llr(x_cum, m_cum, 50.0, 1.3)[0])
    assert whole[1] == pytest.approx(change_llr(x_cum, m_cum, 50.0, 1 / 1.3)[0])
    assert whole[0] > 0 > whole[1]


def test_weekday_tilts_move_the_weekly_peak_and_keep_the_level() -> None:
    tilts = weekday_tilts((0.15, 0.3))
    assert tilts.shape == (14, 7)
    assert np.allclose(np.log(tilts).sum(axis=1), 0.0)
    assert list(np.argmax(tilts[:7], axis=1)) == list(range(7))


def test_under_the_forecast_the_mixture_stays_small_and_after_a_shift_it_grows() -> None:
    """A year of Gamma-Poisson days drawn from the forecast: the statistic never nears
    the level; days 40 % up cross it within five (day-level noise of size 40 limits the pace)."""
    rng = np.random.default_rng(0)
    shares = np.full(24, 1 / 24)
    level = alarm_level(1.0, 3)

    def run(days: int, factor: float) -> list[float]:
        carry, out = float("-inf"), []
        for _ in range(days):
            counts = rng.poisson(factor * 600.0 * shares * rng.gamma(40.0, 1 / 40.0))
            x_cum, m_cum = np.r_[0.0, np.cumsum(counts)], np.r_[0.0, np.cumsum(600.0 * shares)]
            carry, _ = roberts(carry, change_llr(x_cum, m_cum, 40.0, 1.3), np.log(shares))
            out.append(carry)
        return out

    assert max(run(365, 1.0)) < level - 1
    assert max(run(5, 1.4)) > level
