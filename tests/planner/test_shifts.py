from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from fcplan.planner import Shift, ShiftError, parse_shifts, shift_shares
from fcplan.planner.shifts import next_shift_of_hour

DEFAULT = ("day:6-14", "swing:14-22", "night:22-6")


@pytest.fixture
def make_hourly() -> Callable[..., pd.DataFrame]:
    """Factory: ``per_hour`` orders in every hour of ``days`` days (a dict hour -> orders)."""

    def make(center: str = "FC1", days: int = 3, per_hour: dict[int, float] | None = None,
             start: str = "2024-03-01") -> pd.DataFrame:
        ds = pd.date_range(start, periods=24 * days, freq="h")
        per_hour = per_hour or {}
        y = [per_hour.get(ts.hour, 0.0) for ts in ds]
        return pd.DataFrame({"unique_id": center, "ds": ds, "y": y})

    return make


def test_when_night_shift_wraps_midnight_then_it_owns_the_late_and_early_hours() -> None:
    night = Shift("night", 22, 6)
    assert night.hours == (22, 23, 0, 1, 2, 3, 4, 5)
    assert night.length == 8


def test_when_default_shifts_are_parsed_then_they_cover_the_day_once() -> None:
    shifts = parse_shifts(DEFAULT)
    assert [s.name for s in shifts] == ["day", "swing", "night"]
    assert sorted(h for s in shifts for h in s.hours) == list(range(24))


def test_when_one_shift_spans_the_whole_day_then_it_is_accepted() -> None:
    (whole,) = parse_shifts(["all:0-24"])
    assert whole.length == 24


def test_when_a_spec_is_malformed_then_the_error_shows_the_expected_form() -> None:
    with pytest.raises(ShiftError, match=r"shift 'day6-14' must look like name:start-end, e.g. day:6-14"):
        parse_shifts(["day6-14", "night:14-6"])


def test_shifts_may_leave_hours_uncovered_whose_orders_the_next_shift_to_start_packs() -> None:
    # a center staffing 6-22 only was refused: "hour(s) 0-5, 22-23 are covered by no shift"
    shifts = parse_shifts(["day:6-14", "swing:14-22"])
    assert [s.name for s in shifts] == ["day", "swing"]
    owner = next_shift_of_hour(shifts)
    assert list(owner[:6]) == [0] * 6 and list(owner[22:]) == [0, 0] and list(owner[14:22]) == [1] * 8
    assert list(next_shift_of_hour(parse_shifts(["a:8-10", "b:14-18"]))) == [0] * 10 + [1] * 8 + [0] * 6


def test_with_no_history_a_shift_gets_the_share_of_the_hours_it_packs_own_and_uncovered() -> None:
    empty = pd.DataFrame({"unique_id": ["A"], "ds": [pd.Timestamp("2026-03-02 07:00")], "y": [0.0]})
    shares = shift_shares(empty, parse_shifts(["day:6-14", "swing:14-22"]))
    assert shares["share"].tolist() == pytest.approx([16 / 24, 8 / 24])


def test_when_shifts_overlap_then_the_error_names_the_doubled_hours_and_shifts() -> None:
    with pytest.raises(ShiftError, match=r"hour\(s\) 13 are covered by both day and swing"):
        parse_shifts(["day:6-14", "swing:13-22", "night:22-6"])


def test_when_a_shift_name_repeats_then_it_is_rejected() -> None:
    with pytest.raises(ShiftError, match="more than once"):
        parse_shifts(["a:0-12", "a:12-0"])


def test_when_a_shift_starts_where_it_ends_then_the_error_suggests_0_24() -> None:
    with pytest.raises(ShiftError, match="x:0-24"):
        parse_shifts(["x:6-6"])


def test_when_orders_arrive_only_in_day_hours_then_the_day_share_is_one(make_hourly) -> None:
    hourly = make_hourly(per_hour={h: 10.0 for h in range(6, 14)})
    shares = shift_shares(hourly, parse_shifts(DEFAULT))
    assert shares["shift"].tolist() == ["day", "swing", "night"]
    assert shares["share"].tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_when_orders_are_split_then_shares_follow_the_hand_computed_ratio(make_hourly) -> None:
    # Per day: day 8 h x 3 = 24, swing 8 h x 1 = 8, night only hour 23 = 8 -> 24:8:8 of 40.
    per_hour = {**{h: 3.0 for h in range(6, 14)}, **{h: 1.0 for h in range(14, 22)}, 23: 8.0}
    hourly = make_hourly(per_hour=per_hour)
    shares = shift_shares(hourly, parse_shifts(DEFAULT)).set_index("shift")["share"]
    assert shares.to_dict() == pytest.approx({"day": 0.6, "swing": 0.2, "night": 0.2})


def test_when_history_is_long_then_only_the_last_days_count(make_hourly) -> None:
    old = make_hourly(days=10, per_hour={7: 5.0}, start="2024-01-01")
    recent = make_hourly(days=2, per_hour={15: 5.0}, start="2024-02-01")
    shares = shift_shares(pd.concat([old, recent]), parse_shifts(DEFAULT), days=2)
    assert shares.set_index("shift")["share"]["swing"] == pytest.approx(1.0)


def test_when_today_is_still_filling_then_before_leaves_it_out(make_hourly) -> None:
    hist = make_hourly(days=3, per_hour={7: 5.0}, start="2024-03-01")
    today = make_hourly(days=1, per_hour={0: 100.0}, start="2024-03-04")
    shares = shift_shares(pd.concat([hist, today]), parse_shifts(DEFAULT), before=pd.Timestamp("2024-03-04"))
    assert shares.set_index("shift")["share"]["day"] == pytest.approx(1.0)


def test_when_a_center_has_no_history_then_shares_follow_shift_length(make_hourly) -> None:
    shifts = parse_shifts(["early:0-6", "late:6-0"])
    shares = shift_shares(make_hourly(center="FC1", per_hour={1: 1.0}), shifts, centers=["FC9"])
    new = shares[shares["unique_id"] == "FC9"].set_index("shift")["share"]
    assert new.to_dict() == pytest.approx({"early": 0.25, "late": 0.75})


def test_when_shares_are_computed_then_they_sum_to_one_per_center(make_hourly) -> None:
    rng = np.random.default_rng(0)
    frames = [make_hourly(center=c, per_hour={h: float(rng.integers(0, 9)) for h in range(24)})
              for c in "ABC"]
    shares = shift_shares(pd.concat(frames), parse_shifts(DEFAULT))
    assert shares.groupby("unique_id")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0, 1.0])


def test_when_hourly_lacks_y_then_the_error_says_which_columns_to_pass() -> None:
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['y'\]"):
        hourly = pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2024-01-01")]})
        shift_shares(hourly, parse_shifts(DEFAULT))


# session 20, i30-probe: FCPLAN_PLANNER_SHIFTS="day:06:00-18:00,night:18:00-06:00" (the centers file's way of
# writing times) was "must look like name:start-end, e.g. day:6-14"
def test_shift_specs_take_whole_hours_written_as_hh_00() -> None:
    assert [str(s) for s in parse_shifts("day:06:00-18:00,night:18:00-06:00")] == ["day:6-18", "night:18-6"]
    with pytest.raises(ShiftError, match="whole hours"):
        parse_shifts("day:06:30-18:00,night:18:00-06:30")
