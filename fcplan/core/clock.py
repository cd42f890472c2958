"""One clock for the whole loop: simulator, retrainer, planner, drift monitor, dashboard.

Everything asks a :class:`Clock` for "now" (tz-aware UTC) and :func:`local_today`
for a center's day, never ``datetime.now()``. :class:`SystemClock` is the wall
clock; :class:`SimulatedClock` runs from a chosen instant at ``speed`` times the
wall clock (``speed=2000`` runs a day in 43 s), or only when advanced by hand
(``speed=0``, for tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, tz-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Simulated time: ``start + speed * (wall seconds since creation) + advanced``.

    ``start``: tz-aware instant the simulation begins at. ``wall``: the wall-clock
    source in seconds (``time.monotonic`` by default; injectable for tests).
    """

    def __init__(self, start: datetime, speed: float = 1.0, wall: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the simulated clock needs a tz-aware start, e.g. 2026-03-01T00:00+09:00; got {start}")
        if speed < 0:
            raise ValueError(f"speed is simulated seconds per wall second and must be >= 0; got {speed}")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._wall = wall
        self._wall0 = wall()
        self._advanced = timedelta(0)

    def now(self) -> datetime:
        elapsed = (self._wall() - self._wall0) * self.speed
        return self.start + timedelta(seconds=elapsed) + self._advanced

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward by ``delta`` (>= 0); returns the new now."""
        if delta < timedelta(0):
            raise ValueError(f"time only moves forward; got {delta}")
        self._advanced += delta
        return self.now()

    def wall_seconds_until(self, moment: datetime) -> float:
        """Wall seconds until simulated ``moment`` (inf when the clock does not run)."""
        ahead = (moment - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        return ahead / self.speed if self.speed > 0 else float("inf")


def local_now(clock: Clock, tz: str) -> datetime:
    """The clock's now in the time zone ``tz``."""
    return clock.now().astimezone(ZoneInfo(tz))


def local_today(clock: Clock, tz: str) -> date:
    """The local calendar day in ``tz`` (each center's day starts at its own midnight)."""
    return local_now(clock, tz).date()
