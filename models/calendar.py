"""Holiday covariates from the maintained ``holidays`` calendar library.

Known in advance, so they are known-future covariates for any horizon.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

HOLIDAY = "holiday"
PRE_HOLIDAY = "pre_holiday"
HOLIDAY_COLUMNS = [HOLIDAY, PRE_HOLIDAY]


@lru_cache(maxsize=32)
def _calendar(country: str, years: tuple[int, ...]) -> frozenset[pd.Timestamp]:
    import holidays

    try:
        cal = holidays.country_holidays(country, years=list(years))
    except NotImplementedError as exc:
        raise ValueError(
            f"unknown holiday country {country!r}; use an ISO code the 'holidays' library knows, e.g. KR, US, GB"
        ) from exc
    return frozenset(pd.Timestamp(day) for day in cal)


def holiday_dates(country: str, start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Sorted public holidays of ``country`` between ``start`` and ``end`` (inclusive)."""
    years = tuple(range(pd.Timestamp(start).year, pd.Timestamp(end).year + 1))
    days = _calendar(country, years)
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    return sorted(d for d in days if lo <= d <= hi)


def holiday_features(ds: pd.Series | pd.DatetimeIndex, country: str, lead_days: int = 3) -> pd.DataFrame:
    """Per timestamp: ``holiday`` (1 on a public holiday) and ``pre_holiday`` (1 in
    the ``lead_days`` days before one, when demand often peaks).

    For weekly or coarser timestamps the flags say whether the period *starting*
    at ``ds`` contains such a day (counts, not 0/1, when it has several).
    """
    stamps = pd.DatetimeIndex(pd.to_datetime(ds)).normalize().as_unit("ns")
    if len(stamps) == 0:
        return pd.DataFrame({HOLIDAY: [], PRE_HOLIDAY: []})
    days = holiday_dates(country, stamps.min() - pd.Timedelta(days=7), stamps.max() + pd.Timedelta(days=14))
    hol = pd.DatetimeIndex(days).as_unit("ns")
    pre = pd.DatetimeIndex(
        sorted({d - pd.Timedelta(days=k) for d in hol for k in range(1, lead_days + 1)} - set(hol))
    ).as_unit("ns")
    steps = np.diff(np.unique(stamps.asi8))
    span = pd.Timedelta(int(np.median(steps)), "ns") if steps.size else pd.Timedelta(days=1)
    if span <= pd.Timedelta(days=1):
        return pd.DataFrame(
            {HOLIDAY: stamps.isin(hol).astype(float), PRE_HOLIDAY: stamps.isin(pre).astype(float)}
        )

    def count(marks: pd.DatetimeIndex) -> np.ndarray:
        values = np.sort(marks.asi8)
        lo = np.searchsorted(values, stamps.asi8, side="left")
        hi = np.searchsorted(values, (stamps + span).asi8, side="left")
        return (hi - lo).astype(float)

    return pd.DataFrame({HOLIDAY: count(hol), PRE_HOLIDAY: count(pre)})
