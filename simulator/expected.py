"""Expected demand with promotions: the demand model times the promotions' uplift.

Columns and units as in :mod:`fcplan.simulator.demand`; the promotions come from
:mod:`fcplan.simulator.promotions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.simulator.demand import (
    DEFAULT_COUNTRY,
    DEFAULT_TZ,
    DISPERSION,
    MEAN,
    CenterProfile,
    TimeLike,
    ZoneGroup,
    base_hourly_matrix,
    by_zone_frame,
    day_hours,
    day_starts,
    local_days,
    to_instant,
    zone_groups,
)
from fcplan.simulator.promotions import SimulatedPromotion, promotion_factor


def hourly_matrix(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    hours: pd.DatetimeIndex,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> np.ndarray:
    """Expected orders with promotions, shape ``(len(centers), len(hours))``.

    ``hours``: tz-aware hour starts; without ``locales`` their zone is every center's,
    with it each center reads them on its own clock (same instants)."""
    if locales is None:
        base = base_hourly_matrix(centers, hours, country)
    else:
        base = np.empty((len(centers), len(hours)))
        for g in zone_groups(centers, locales, str(hours.tz), country):
            base[list(g.rows)] = base_hourly_matrix(g.pick(centers), hours.tz_convert(g.tz), g.country)
    return base * promotion_factor([c.center_id for c in centers], promotions, hours.as_unit("ns").asi8)


def expected_hourly(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> pd.DataFrame:
    """True expected orders per center and hour starting in ``[start, end)``.

    Returns columns ``unique_id`` (center id), ``ds`` (hour start, tz-aware UTC),
    ``mean`` (float); rows by center (in the given order), then ``ds``. With
    ``locales`` every center covers the same instants, each on its own clock.
    """
    lo, hi = to_instant(start, tz), to_instant(end, tz)
    hours = pd.date_range(lo.ceil("h"), hi, freq="h", inclusive="left").as_unit("ns")
    means = hourly_matrix(centers, promotions, hours, country, locales)
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat([c.center_id for c in centers], len(hours)),
            DS: pd.to_datetime(np.tile(hours.asi8, len(centers)), unit="ns", utc=True),
            MEAN: means.ravel(),
        }
    )


def daily_matrix(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    days: pd.DatetimeIndex,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> np.ndarray:
    """Expected orders per center and consecutive local day, shape ``(C, len(days))``
    (with ``locales``, each center's own local days of those dates)."""
    if locales is not None:
        out = np.zeros((len(centers), len(days)))
        for g in zone_groups(centers, locales, tz, country):
            out[list(g.rows)] = daily_matrix(g.pick(centers), promotions, days, g.tz, g.country)
        return out
    hours = day_hours(days, tz)
    if len(hours) == 0:
        return np.zeros((len(centers), 0))
    return np.add.reduceat(hourly_matrix(centers, promotions, hours, country), day_starts(hours), axis=1)


def expected_daily(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> pd.DataFrame:
    """True daily distribution per center and local calendar day in ``[start, end)``.

    Returns columns ``unique_id``, ``ds`` (tz-naive local date), ``mean`` (expected
    orders that day) and ``dispersion`` (negative-binomial size ``r``: the day's
    total is ``scipy.stats.nbinom(r, r / (r + mean))``); rows by center, then ``ds``.
    """

    def frame(group: list[CenterProfile], g: ZoneGroup) -> pd.DataFrame:
        return _expected_daily(group, promotions, local_days(start, end, g.tz), g.tz, g.country)

    return by_zone_frame(centers, zone_groups(centers, locales, tz, country), frame)


def _expected_daily(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    days: pd.DatetimeIndex,
    tz: str,
    country: str | None,
) -> pd.DataFrame:
    means = daily_matrix(centers, promotions, days, tz, country)
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat([c.center_id for c in centers], len(days)),
            DS: np.tile(days, len(centers)),
            MEAN: means.ravel(),
            DISPERSION: np.repeat([c.dispersion for c in centers], len(days)).astype(float),
        }
    )
