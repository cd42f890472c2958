"""Holiday covariates from the maintained ``holidays`` calendar library.

Known in advance, so they are known-future covariates for any horizon.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

HOLIDAY = "holiday"
PRE_HOLIDAY = "pre_holiday"
HOLIDAY_BLOCK = "holiday_block"
PRE_HOLIDAY_BLOCK = "pre_holiday_block"
HOLIDAY_COLUMNS = [HOLIDAY, PRE_HOLIDAY, HOLIDAY_BLOCK, PRE_HOLIDAY_BLOCK]
#: A run of at least this many consecutive public holidays is a holiday block
#: (Seollal and Chuseok in Korea, Golden Week in Japan, the Spring Festival in China).
BLOCK_DAYS = 3
#: Days before a holiday (or a block) that carry the pre-holiday peak.
LEAD_DAYS = 3
_NS_PER_DAY = 86_400_000_000_000


@lru_cache(maxsize=32)
def _named_calendar(country: str, years: tuple[int, ...]) -> dict[pd.Timestamp, str]:
    import holidays

    code, _, subdiv = country.partition("-")
    try:
        cal = holidays.country_holidays(code, subdiv=subdiv or None, years=list(years))
    except NotImplementedError as exc:
        raise ValueError(
            f"unknown holiday country {country!r}; use an ISO code the 'holidays' library knows, e.g. KR, US, GB, "
            "or a country and one of its regions, e.g. GB-ENG, US-CA, DE-BY"
        ) from exc
    return {pd.Timestamp(day): str(name) for day, name in cal.items()}


@lru_cache(maxsize=32)
def _calendar(country: str, years: tuple[int, ...]) -> frozenset[pd.Timestamp]:
    return frozenset(_named_calendar(country, years))


def holiday_dates(country: str, start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Sorted public holidays of ``country`` between ``start`` and ``end`` (inclusive)."""
    years = tuple(range(pd.Timestamp(start).year, pd.Timestamp(end).year + 1))
    days = _calendar(country, years)
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    return sorted(d for d in days if lo <= d <= hi)


def holiday_names(country: str, start: pd.Timestamp, end: pd.Timestamp) -> dict[pd.Timestamp, str]:
    """The public holidays of ``country`` between ``start`` and ``end`` (inclusive), in date
    order, each with its name (names of one day joined by "; ")."""
    years = tuple(range(pd.Timestamp(start).year, pd.Timestamp(end).year + 1))
    names = _named_calendar(country, years)
    return {day: names[day] for day in holiday_dates(country, start, end)}


def holiday_features(ds: pd.Series | pd.DatetimeIndex, country: str, lead_days: int = LEAD_DAYS) -> pd.DataFrame:
    """Per timestamp: ``holiday`` (1 on a public holiday), ``pre_holiday`` (1 in
    the ``lead_days`` days before one, when demand often peaks), and the same two
    for holiday blocks, runs of at least :data:`BLOCK_DAYS` consecutive public
    holidays, whose effect is deeper than a single day's: ``holiday_block`` and
    ``pre_holiday_block``.

    For weekly or coarser timestamps the flags say whether the period *starting*
    at ``ds`` contains such a day (counts, not 0/1, when it has several).
    """
    stamps = pd.DatetimeIndex(pd.to_datetime(ds)).normalize().as_unit("ns")
    if len(stamps) == 0:
        return pd.DataFrame({col: [] for col in HOLIDAY_COLUMNS})
    days = holiday_dates(country, stamps.min() - pd.Timedelta(days=7), stamps.max() + pd.Timedelta(days=14))
    hol = pd.DatetimeIndex(days).as_unit("ns")
    blocks = holiday_blocks(hol)
    marks = {
        HOLIDAY: hol,
        PRE_HOLIDAY: _days_before(hol, hol, lead_days),
        HOLIDAY_BLOCK: blocks,
        PRE_HOLIDAY_BLOCK: _days_before(blocks, hol, lead_days),
    }
    steps = np.diff(np.unique(stamps.asi8))
    span = pd.Timedelta(int(np.median(steps)), "ns") if steps.size else pd.Timedelta(days=1)
    if span <= pd.Timedelta(days=1):
        return pd.DataFrame({col: stamps.isin(marked).astype(float) for col, marked in marks.items()})

    def count(marks: pd.DatetimeIndex) -> np.ndarray:
        values = np.sort(marks.asi8)
        lo = np.searchsorted(values, stamps.asi8, side="left")
        hi = np.searchsorted(values, (stamps + span).asi8, side="left")
        return (hi - lo).astype(float)

    return pd.DataFrame({col: count(marked) for col, marked in marks.items()})


def holiday_runs(days: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive day numbers (days since 1970-01-01) among ``days``, in order."""
    days = np.unique(np.asarray(days, dtype=np.int64))
    if days.size == 0:
        return []
    return np.split(days, np.flatnonzero(np.diff(days) != 1) + 1)


def holiday_blocks(holidays: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The holidays that belong to a run of at least :data:`BLOCK_DAYS` consecutive ones."""
    runs = holiday_runs(holidays.as_unit("ns").asi8 // _NS_PER_DAY)
    if not runs:
        return holidays[:0]
    kept = [d for run in runs if run.size >= BLOCK_DAYS for d in run]
    return pd.DatetimeIndex(np.asarray(kept, dtype="int64") * _NS_PER_DAY).as_unit("ns")


def _days_before(days: pd.DatetimeIndex, holidays: pd.DatetimeIndex, lead_days: int) -> pd.DatetimeIndex:
    """The ``lead_days`` days before each of ``days`` that are not holidays themselves."""
    before = {d - pd.Timedelta(days=k) for d in days for k in range(1, lead_days + 1)} - set(holidays)
    return pd.DatetimeIndex(sorted(before)).as_unit("ns")
