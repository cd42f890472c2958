"""The quantile of a sum of two days known by their quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from fcplan.planner.quantile_sum import quantile_of_sum

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
