"""When to retrain: daily at a center-local time, and on a drift alert (debounced).

Pure: the loop asks :func:`daily_due` and :class:`TriggerDebounce` with the
clock's now and records what it ran.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Default daily retrain time, local: early morning, before the day's staff is confirmed.
DEFAULT_RETRAIN_AT = time(4, 0)


def daily_due(now: datetime, tz: str, last_run_day: date | None, at: time = DEFAULT_RETRAIN_AT) -> bool:
    """Whether the daily retrain of a center in ``tz`` is due at ``now`` (tz-aware):
    it is past ``at`` local time and no daily run was made on this local day."""
    local = now.astimezone(ZoneInfo(tz))
    return local.time() >= at and (last_run_day is None or last_run_day < local.date())


def next_daily_run(now: datetime, tz: str, at: time = DEFAULT_RETRAIN_AT) -> datetime:
    """The next instant (tz-aware, in ``tz``) the local clock shows ``at``."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, zone)
    return candidate if candidate > local else datetime.combine(local.date() + timedelta(days=1), at, zone)


class TriggerDebounce:
    """At most one alert-triggered retrain per center per ``hours``."""

    def __init__(self, hours: float = 6.0) -> None:
        if hours < 0:
            raise ValueError(f"the debounce window must be >= 0 hours; got {hours}")
        self.window = timedelta(hours=hours)
        self._last: dict[str, datetime] = {}

    def allow(self, center_id: str, now: datetime) -> bool:
        """True (and remembered) when ``center_id`` had no triggered retrain in the window."""
        last = self._last.get(center_id)
        if last is not None and now - last < self.window:
            return False
        self._last[center_id] = now
        return True
