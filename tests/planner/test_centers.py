"""The centers file: per-center zone, calendar, shifts, productivity, bounds and costs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fcplan.core.settings import PlannerSettings
from fcplan.planner.centers import CentersError, centers_from_settings, load_centers, parse_centers

EXAMPLE = Path(__file__).resolve().parents[2] / "centers.example.toml"


def shifts(*specs: tuple[str, str, str], **extra) -> list[dict]:
    return [{"name": n, "start": s, "end": e, **extra} for n, s, e in specs]


THREE = shifts(("day", "06:00", "14:00"), ("swing", "14:00", "22:00"), ("night", "22:00", "06:00"))


def error_of(data: dict) -> str:
    with pytest.raises(CentersError) as info:
        parse_centers(data, source="centers.toml")
    return str(info.value)


def test_the_example_file_has_two_time_zones_and_an_overnight_shift() -> None:
    centers = load_centers(EXAMPLE)
    zones = {c.timezone for c in centers.centers.values()}
    assert len(zones) >= 2
    assert any(s.end <= s.start for c in centers.centers.values() for s in c.shifts)
    assert centers["FC-BUSAN"].service_quantile == 0.8  # its service level replaces the defaults' costs
    assert centers["FC-SEOUL-1"].service_quantile == 0.75


def test_a_center_table_overrides_the_defaults_field_by_field() -> None:
    centers = parse_centers({
        "defaults": {"timezone": "Asia/Seoul", "shrinkage": 0.2, "shifts": THREE},
        "centers": {"FC-LA": {"timezone": "America/Los_Angeles", "holiday_country": "US"}, "FC-SEOUL": {}},
    })
    la, seoul = centers["FC-LA"], centers["FC-SEOUL"]
    assert (la.timezone, la.holiday_country, la.shrinkage) == ("America/Los_Angeles", "US", 0.2)
    assert seoul.timezone == "Asia/Seoul"
    assert [s.name for s in la.shifts] == ["day", "swing", "night"]


def test_an_unlisted_center_takes_the_defaults_and_without_defaults_is_named_in_the_error() -> None:
    with_defaults = parse_centers({"defaults": {"shifts": THREE}, "centers": {"A": {}}})
    assert with_defaults["Z"].center_id == "Z"
    without = parse_centers({"centers": {"A": {"shifts": THREE}}})
    with pytest.raises(CentersError, match="'Z'"):
        without.for_ids(["A", "Z"])


def test_productive_hours_are_paid_hours_less_break_less_shrinkage_and_productivity_can_be_per_shift() -> None:
    data = {"centers": {"A": {
        "shrinkage": 0.1, "orders_per_packer_hour": 30,
        "shifts": [*shifts(("day", "6", "14"), paid_hours=8, break_minutes=30),
                   {"name": "rest", "start": 14, "end": 6, "orders_per_packer_hour": 20}],
    }}}
    a = parse_centers(data)["A"]
    day, rest = a.shifts
    assert a.productive_hours(day) == pytest.approx(7.5 * 0.9)
    assert rest.paid == 16
    assert (a.productivity(day), a.productivity(rest)) == (30, 20)


def test_cost_ratio_or_service_level_sets_the_quantile() -> None:
    both = parse_centers({"centers": {"A": {"cost_short": 2, "cost_idle": 1}, "B": {"service_level": 0.9}}})
    assert both["A"].service_quantile == pytest.approx(2 / 3)
    assert both["B"].service_quantile == 0.9


@pytest.mark.parametrize(
    ("table", "field", "hint"),
    [
        ({"timezone": "Mars/Olympus"}, "field timezone", "IANA"),
        ({"holiday_country": "XX"}, "field holiday_country", "country code"),
        ({"holiday_country": "GB-XX"}, "field holiday_country", "GB-ENG"),
        ({"shifts": shifts(("day", "06:00", "14:00"), paid_hours=9)}, "field shifts[0]", "exceeds"),
        ({"shifts": shifts(("day", "06:30", "14:00"))}, "field shifts[0].start", "whole hours"),
        ({"shifts": shifts(("day", "06:00", "14:00"), ("late", "12:00", "20:00"))}, "must not overlap",
         "hour(s) 12-13 are covered by both day and late"),
        ({"min_packers": 5, "max_packers": 2}, "max_packers=2", "min_packers=5"),
        ({"service_level": 0.9, "cost_short": 3, "cost_idle": 1}, "service_level", "not both"),
        ({"cost_short": 3}, "cost_idle", "both"),
        ({"packers_per_hour": 3}, "field packers_per_hour", "unknown field"),
        ({"shrinkage": 1.5}, "field shrinkage", "less than 1"),
    ],
)
def test_errors_name_the_file_the_center_and_the_field(table: dict, field: str, hint: str) -> None:
    message = error_of({"centers": {"FC-BAD": table}})
    assert message.startswith("centers.toml: center 'FC-BAD'"), message
    assert field in message and hint in message, message


def test_a_missing_or_malformed_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CentersError, match="does not exist"):
        load_centers(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[centers.A\n")
    with pytest.raises(CentersError, match="not valid TOML"):
        load_centers(bad)
    other = tmp_path / "other.toml"
    other.write_text("[center.A]\n")
    with pytest.raises(CentersError, match=r"unknown top-level table\(s\) \['center'\]"):
        load_centers(other)


def test_without_a_file_the_planner_variables_make_one_default_center() -> None:
    cfg = PlannerSettings(minutes_per_order=1.5, shift_hours=7.5, center_overrides={"FC-2": {"shrinkage": 0.3}})
    centers = centers_from_settings(cfg, "Europe/Berlin", "DE")
    one = centers["FC-1"]
    assert (one.timezone, one.holiday_country, one.orders_per_packer_hour) == ("Europe/Berlin", "DE", 40.0)
    assert [s.paid for s in one.shifts] == [7.5, 7.5, 7.5]
    assert centers["FC-2"].shrinkage == 0.3


def test_shift_hours_longer_than_a_shift_is_an_error_naming_the_variable() -> None:
    cfg = PlannerSettings(shift_hours=9, shifts=("day:6-14", "rest:14-6"))
    with pytest.raises(CentersError, match="FCPLAN_PLANNER_SHIFT_HOURS=9 exceeds shift day:6-14"):
        centers_from_settings(cfg, "Asia/Seoul")


def test_the_centers_file_variable_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[centers."FC-X"]\ntimezone = "Europe/Paris"\nholiday_country = "FR"\n')
    centers = centers_from_settings(PlannerSettings(centers_file=str(path)), "Asia/Seoul")
    assert centers["FC-X"].timezone == "Europe/Paris"


def test_closed_on_answers_for_one_center_and_day_and_false_for_a_center_the_file_lacks() -> None:
    """What the drift loop's silence watch asks (a closed day's empty hours are no silent feed)."""
    from datetime import date


    centers = parse_centers({"centers": {"FC-1": {"closed_weekdays": ["Sat"], "closed_dates": [date(2026, 5, 1)]}}})
    assert centers.closed_on("FC-1", date(2026, 5, 2))  # a Saturday
    assert centers.closed_on("FC-1", date(2026, 5, 1))
    assert not centers.closed_on("FC-1", date(2026, 5, 4))
    assert not centers.closed_on("FC-UNKNOWN", date(2026, 5, 2))


def test_a_center_closed_on_its_regions_holidays_closes_on_them() -> None:
    england = parse_centers({"centers": {"FC-LEEDS": {"timezone": "Europe/London", "holiday_country": "gb-eng",
                                                      "closed_on_holidays": True}}})["FC-LEEDS"]
    assert england.holiday_country == "GB-ENG"
    assert england.closed(pd.DatetimeIndex(["2024-04-01", "2024-04-02"])).tolist() == [True, False]  # Easter Monday
