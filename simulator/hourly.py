"""Orders per center and local hour, drawn without drawing the orders.

:func:`sample_hourly_counts` draws each center-day as
:func:`fcplan.simulator.orders.generate_orders` does (negative-binomial total,
multinomial split over the hours; the same generator per center-day), so its
counts are exactly the hourly counts of the generated orders, shifts included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.simulator.demand import (
    DEFAULT_COUNTRY,
    DEFAULT_TZ,
    NS_PER_DAY,
    CenterProfile,
    TimeLike,
    ZoneGroup,
    by_zone_frame,
    day_hours,
    day_starts,
    local_days,
    zone_groups,
)
from fcplan.simulator.expected import hourly_matrix
from fcplan.simulator.orders import _nb_total, _rng
from fcplan.simulator.promotions import SimulatedPromotion
from fcplan.simulator.shifts import Shift, shift_factors


def sample_hourly_counts(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int = 0,
    tz: str = DEFAULT_TZ,
    shifts: Sequence[Shift] = (),
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
    utc: bool = False,
) -> pd.DataFrame:
    """Orders per center and local hour of the local days ``[start, end)``.

    Returns ``unique_id``, ``ds`` (tz-naive local hour start: in each center's own
    zone with ``locales``; with ``utc`` the tz-aware UTC hour start instead, which
    keeps apart the twice-met hour of a daylight-saving change), ``y`` (float count)
    and ``mean`` (the true expected count, shifts included); rows by center, then ``ds``.
    """

    def frame(group: list[CenterProfile], g: ZoneGroup) -> pd.DataFrame:
        days = local_days(start, end, g.tz)
        return _hourly_counts(group, promotions, days, seed, g.tz, shifts, g.country, utc)

    return by_zone_frame(centers, zone_groups(centers, locales, tz, country), frame)


def _hourly_counts(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    days: pd.DatetimeIndex,
    seed: int,
    tz: str,
    shifts: Sequence[Shift],
    country: str | None,
    utc: bool = False,
) -> pd.DataFrame:
    hours = day_hours(days, tz)
    ids = [c.center_id for c in centers]
    means = hourly_matrix(centers, promotions, hours, country) * shift_factors(ids, shifts, hours)
    bounds = np.r_[day_starts(hours), len(hours)]
    counts = np.zeros_like(means)
    for j, day in enumerate(days.as_unit("ns").asi8 // NS_PER_DAY):
        h0, h1 = bounds[j], bounds[j + 1]
        for i, c in enumerate(centers):
            rng = _rng(seed, c.center_id, int(day))
            mu = means[i, h0:h1]
            total = _nb_total(rng, float(mu.sum()), c.dispersion)
            counts[i, h0:h1] = rng.multinomial(total, mu / mu.sum())
    stamps = hours.tz_convert("UTC") if utc else hours.tz_localize(None)
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat(ids, len(hours)),
            DS: stamps[np.tile(np.arange(len(hours)), len(centers))],
            Y: counts.ravel(),
            "mean": means.ravel(),
        }
    )
