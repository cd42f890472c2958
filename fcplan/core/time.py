"""Time as the database and the stream keep it: UTC epoch microseconds, naive UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np

US_PER_HOUR = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T", int, np.ndarray)


def epoch_us(ts: datetime) -> int:
    """UTC epoch microseconds of a datetime (naive = UTC), exactly."""
    aware = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


def hour_us(t_us: T) -> T:
    """The start of the UTC hour of epoch microseconds (an int or an int64 array;
    floor, also before 1970). The PostgreSQL sink computes the same in SQL."""
    return t_us - t_us % US_PER_HOUR


def from_epoch_us(us: int) -> datetime:
    """Naive UTC datetime (the database's convention) of epoch microseconds."""
    return datetime(1970, 1, 1) + timedelta(microseconds=int(us))


def iso_us(t_us: int) -> str:
    """ISO text (UTC) of epoch microseconds, or the number where no datetime can hold it (year 0)."""
    try:
        return from_epoch_us(t_us).replace(tzinfo=UTC).isoformat()
    except (OverflowError, ValueError):
        return f"{t_us} microseconds from 1970-01-01T00:00:00+00:00"
