"""Pure time logic: the hour an event belongs to, by its own timestamp.

Times leave this module as naive UTC, the database's convention. In-batch dedupe
and lateness work on whole columns: :mod:`fcplan.streams.columns`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fcplan.core.time import epoch_us, from_epoch_us, hour_us


def to_naive_utc(ts: datetime) -> datetime:
    """A tz-aware time as naive UTC (naive input is taken to be UTC already)."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def hour_start(ts: datetime) -> datetime:
    """The UTC hour an event belongs to, by its own timestamp (not its arrival)."""
    return from_epoch_us(hour_us(epoch_us(ts)))

