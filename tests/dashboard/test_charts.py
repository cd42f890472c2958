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


def _promo_labels(promos: pd.DataFrame, days: int = 56) -> dict[str, float]:
    """Each promotion label of the fan over ``days`` of history: its text -> its pixel row."""
    history = pd.DataFrame({"ds": pd.date_range(TODAY - pd.Timedelta(days=days), TODAY), "y": 100.0})
    forecast = pd.DataFrame({"ds": pd.date_range(TODAY, periods=15), "0.1": 90.0, "0.5": 100.0, "0.9": 110.0})
    spec = charts.forecast_fan(history, forecast, promos, TODAY).to_dict()
    texts = [layer for layer in spec["layer"] if layer["mark"].get("type") == "text"
             and "kind" in spec["datasets"][layer["data"]["name"]][0]]
    (layer,) = texts
    rows = spec["datasets"][layer["data"]["name"]]
    return {r["name"]: r.get("row_px", 0) for r in rows}  # one row for all before the labels were staggered


def test_when_a_promotion_is_shaded_then_its_label_names_the_kind_in_words() -> None:
    promos = pd.DataFrame({"start": [TODAY - pd.Timedelta(days=20)], "end": [TODAY - pd.Timedelta(days=19)],
                           "kind": ["flash_sale"], "discount_pct": [40.0]})
    labels = _promo_labels(promos)
    assert list(labels) == ["flash sale -40%"]  # the caption under the chart already said "flash sale"


def test_when_two_promotions_are_days_apart_then_their_labels_sit_on_two_rows() -> None:
    # The live demo's FC-BUSAN on an 8-week chart: "flash_sale -40%" ran into "flash_sale -50%" six days later.
    starts = [TODAY - pd.Timedelta(days=d) for d in (47, 41, 20)]
    promos = pd.DataFrame({"start": starts, "end": [s + pd.Timedelta(days=1) for s in starts],
                           "kind": ["flash_sale", "flash_sale", "discount"], "discount_pct": [40.0, 50.0, 15.0]})
    labels = _promo_labels(promos)
    assert labels["flash sale -40%"] != labels["flash sale -50%"]
    assert labels["discount -15%"] == labels["flash sale -40%"] == 0  # far from the others: the first row


def test_when_labels_are_placed_then_a_row_is_reused_once_the_label_before_has_ended() -> None:
    starts = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-20", "2026-01-21"]))
    assert charts.label_rows(starts, pd.Series([15, 15, 15, 15]), span_days=56) == [0, 1, 0, 1]


def test_a_promotion_without_a_discount_is_labelled_by_its_kind_alone() -> None:
    # The live demo's 120-day chart: "free shipping -0%".
    promos = pd.DataFrame({"start": [TODAY - pd.Timedelta(days=20)], "end": [TODAY - pd.Timedelta(days=19)],
                           "kind": ["free_shipping"], "discount_pct": [0.0]})
    assert list(_promo_labels(promos)) == ["free shipping"]
    assert charts.promo_discount(20.0) == "-20%" and charts.promo_discount(None) == ""
