"""The charts carry what the pages promise: holidays on the forecast's time axis."""

from __future__ import annotations

import json

import pandas as pd

from fcplan.core.calendar import holiday_names
from fcplan.dashboard import charts

TODAY = pd.Timestamp("2026-09-20")


def _fan(holidays: list[pd.Timestamp] | dict[pd.Timestamp, str]) -> str:
    history = pd.DataFrame({"ds": pd.date_range(TODAY - pd.Timedelta(days=10), TODAY), "y": 100.0})
    forecast = pd.DataFrame({"ds": pd.date_range(TODAY, periods=7), "0.1": 90.0, "0.5": 100.0, "0.9": 110.0})
    promos = pd.DataFrame(columns=["start", "end", "kind", "discount_pct"])
    return json.dumps(charts.forecast_fan(history, forecast, promos, TODAY, holidays).to_dict())


def test_when_holidays_fall_in_the_window_then_the_fan_marks_them_and_only_them() -> None:
    inside, outside = pd.Timestamp("2026-09-25"), pd.Timestamp("2026-12-25")  # Chuseok; Christmas, past the end
    spec = _fan([inside, outside])
    assert "public holiday" in spec
    assert "2026-09-25" in spec and "2026-12-25" not in spec


def test_when_no_holiday_falls_in_the_window_then_nothing_is_marked() -> None:
    assert "public holiday" not in _fan([])


def test_when_holidays_come_with_names_then_the_fan_writes_each_name_on_its_day() -> None:
    spec = _fan(holiday_names("KR", TODAY, TODAY + pd.Timedelta(days=7)))
    assert "Chuseok" in spec and "The day preceding Chuseok" in spec
    assert "National Foundation Day" not in spec  # 3 Oct: past the window


def test_when_the_calendar_is_asked_for_names_then_it_gives_each_day_its_holiday() -> None:
    names = holiday_names("KR", pd.Timestamp("2026-09-24"), pd.Timestamp("2026-10-03"))
    assert list(names.values()) == ["The day preceding Chuseok", "Chuseok", "The second day of Chuseok",
                                    "National Foundation Day"]


def test_when_holidays_follow_each_other_then_one_label_names_the_run() -> None:
    days = holiday_names("KR", pd.Timestamp("2026-09-24"), pd.Timestamp("2026-10-09"))
    labels = charts.holiday_labels(days)
    assert labels["name"].tolist() == ["Chuseok · 3 days", "National Foundation Day · 2 days", "Hangul Day"]
    assert labels["ds"].dt.day.tolist() == [24, 3, 9]
