"""The one clock: wall or simulated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fcplan.core.clock import SimulatedClock, SystemClock, local_today


class FakeWall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


START = datetime(2026, 3, 1, 23, 0, tzinfo=timezone(timedelta(hours=9)))


def test_a_simulated_clock_runs_speed_times_the_wall_clock() -> None:
    wall = FakeWall()
    clock = SimulatedClock(START, speed=2000, wall=wall)
    assert clock.now() == START
    wall.t += 43.2  # 86,400 simulated seconds
    assert clock.now() == START + timedelta(days=1)
    assert clock.now().tzinfo == UTC


def test_a_stopped_clock_moves_only_when_advanced() -> None:
    wall = FakeWall()
    clock = SimulatedClock(START, speed=0, wall=wall)
    wall.t += 1000
    assert clock.now() == START
    assert clock.advance(timedelta(hours=2)) == START + timedelta(hours=2)
    assert clock.wall_seconds_until(START + timedelta(hours=3)) == float("inf")
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(hours=-1))


def test_today_is_the_local_day_of_each_time_zone() -> None:
    clock = SimulatedClock(START, speed=0, wall=FakeWall())  # 23:00 in Seoul = 14:00 UTC
    assert str(local_today(clock, "Asia/Seoul")) == "2026-03-01"
    clock.advance(timedelta(hours=2))
    assert str(local_today(clock, "Asia/Seoul")) == "2026-03-02"
    assert str(local_today(clock, "Europe/London")) == "2026-03-01"


def test_a_naive_start_or_negative_speed_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        SimulatedClock(datetime(2026, 3, 1), speed=1)
    with pytest.raises(ValueError, match=">= 0"):
        SimulatedClock(START, speed=-1)


def test_the_system_clock_is_utc_and_current() -> None:
    now = SystemClock().now()
    assert now.tzinfo == UTC and abs(now - datetime.now(UTC)) < timedelta(minutes=1)
