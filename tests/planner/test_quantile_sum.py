"""The quantile of a sum of days known by their quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from fcplan.planner.quantile_sum import days_samples, quantile_of_days, quantile_of_sum

LEVELS = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])


def normal(mean: float, sd: float) -> np.ndarray:
    return mean + sd * norm.ppf(LEVELS)


@pytest.mark.parametrize("rho", [0.0, 0.5])
@pytest.mark.parametrize("tau", [0.25, 0.75, 0.9])
def test_two_normal_days_sum_to_the_normal_with_the_copulas_variance(rho: float, tau: float) -> None:
    got = quantile_of_sum(0.25, normal(1000, 100), 0.75, normal(2000, 300), LEVELS, tau, rho=rho)[0]
    var = (0.25 * 100) ** 2 + (0.75 * 300) ** 2 + 2 * rho * 0.25 * 100 * 0.75 * 300
    assert got == pytest.approx(0.25 * 1000 + 0.75 * 2000 + norm.ppf(tau) * np.sqrt(var), rel=2e-3)


def test_comonotone_days_add_their_quantiles() -> None:
    got = quantile_of_sum(0.25, normal(1000, 100), 0.75, normal(2000, 300), LEVELS, 0.8, rho=1.0)[0]
    assert got == pytest.approx(0.25 * np.interp(0.8, LEVELS, normal(1000, 100))
                                + 0.75 * np.interp(0.8, LEVELS, normal(2000, 300)), rel=1e-3)


def test_one_day_alone_is_its_own_interpolated_quantile_and_rows_are_independent() -> None:
    first = np.stack([normal(1000, 100), normal(50, 5)])
    got = quantile_of_sum(np.array([1.0, 0.0]), first, np.array([0.0, 1.0]), first[::-1], LEVELS, 0.7)
    assert got == pytest.approx([np.interp(0.7, LEVELS, first[0]), np.interp(0.7, LEVELS, first[0])], rel=1e-3)


def test_a_correlation_outside_0_and_1_is_refused() -> None:
    with pytest.raises(ValueError, match="rho must be between"):
        quantile_of_sum(1.0, normal(1, 1), 1.0, normal(1, 1), LEVELS, 0.5, rho=-0.5)


@pytest.mark.parametrize("tau", [0.25, 0.9])
def test_several_independent_normal_days_sum_to_the_normal_with_their_variances(tau: float) -> None:
    # A closed weekend's and the next morning's orders: four days, one shift.
    weights = np.array([[0.75, 1.0, 1.0, 0.25]])
    days = np.stack([normal(1000, 100), normal(800, 120), normal(900, 80), normal(2000, 300)])[None]
    got = quantile_of_days(weights, days, LEVELS, tau)[0]
    var = (0.75 * 100) ** 2 + 120**2 + 80**2 + (0.25 * 300) ** 2
    assert got == pytest.approx(750 + 800 + 900 + 500 + norm.ppf(tau) * np.sqrt(var), rel=2e-3)
    assert days_samples(weights, days, LEVELS).shape == (1, 64 * 64)


def test_two_days_are_the_quantile_of_their_sum_and_comonotone_days_add_their_quantiles() -> None:
    days = np.stack([normal(1000, 100), normal(2000, 300)])[None]
    two = quantile_of_days(np.array([[0.25, 0.75]]), days, LEVELS, 0.8)[0]
    assert two == pytest.approx(quantile_of_sum(0.25, days[0, 0], 0.75, days[0, 1], LEVELS, 0.8)[0])
    three = np.stack([normal(1000, 100), normal(2000, 300), normal(500, 50)])[None]
    added = sum(np.interp(0.8, LEVELS, three[0, d]) for d in range(3))
    assert quantile_of_days(np.ones((1, 3)), three, LEVELS, 0.8, rho=1.0)[0] == pytest.approx(added)
    assert quantile_of_days(np.array([[0.0, 1.0, 0.0]]), three, LEVELS, 0.8)[0] == pytest.approx(
        np.interp(0.8, LEVELS, three[0, 1]))
