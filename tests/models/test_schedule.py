"""The retrain schedule: daily at a local time, and debounced triggers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fcplan.models.schedule import TriggerDebounce, daily_due, next_daily_run

SEOUL = ZoneInfo("Asia/Seoul")


def test_the_daily_retrain_is_due_once_per_local_day_after_its_time() -> None:
    before = datetime(2026, 3, 2, 3, 59, tzinfo=SEOUL)
    after = datetime(2026, 3, 2, 4, 0, tzinfo=SEOUL)
    assert not daily_due(before, "Asia/Seoul", date(2026, 3, 1))
    assert daily_due(after, "Asia/Seoul", date(2026, 3, 1))
    assert not daily_due(after, "Asia/Seoul", date(2026, 3, 2))
    assert daily_due(after, "Asia/Seoul", None)


def test_the_retrain_time_is_read_on_the_centers_local_clock() -> None:
    utc_19h = datetime(2026, 3, 1, 19, 30, tzinfo=ZoneInfo("UTC"))  # 04:30 next day in Seoul
    assert daily_due(utc_19h, "Asia/Seoul", date(2026, 3, 1))
    assert not daily_due(utc_19h, "Europe/London", date(2026, 3, 1), at=time(20, 0))


def test_the_next_daily_run_is_today_or_tomorrow_at_the_local_time() -> None:
    assert next_daily_run(datetime(2026, 3, 2, 1, 0, tzinfo=SEOUL), "Asia/Seoul") == datetime(
        2026, 3, 2, 4, 0, tzinfo=SEOUL
    )
    assert next_daily_run(datetime(2026, 3, 2, 5, 0, tzinfo=SEOUL), "Asia/Seoul") == datetime(
        2026, 3, 3, 4, 0, tzinfo=SEOUL
    )


def test_alert_triggered_retrains_are_debounced_per_center() -> None:
    debounce = TriggerDebounce(hours=6)
    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=SEOUL)
    assert debounce.allow("FC-A", t0)
    assert not debounce.allow("FC-A", t0 + timedelta(hours=5))
    assert debounce.allow("FC-B", t0 + timedelta(hours=5))
    assert debounce.allow("FC-A", t0 + timedelta(hours=6))
