"""Intraday re-planning: orders so far update only the shifts not yet started."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.planner.centers import CenterConfig
from fcplan.planner.crews import plan_crews
from fcplan.planner.intraday import (
    NOT_STARTED,
    OVER,
    RUNNING,
    apply_intraday,
    conditional_rest,
    elapsed_share,
    intraday_summary,
    replan_today,
)

MONDAY = pd.Timestamp("2026-03-02")
FLAT = np.full((7, 24), 1 / 24)
LEVELS = np.array([0.1, 0.5, 0.9])
DAY = np.array([2000.0, 2400.0, 2800.0])


def center(**fields) -> CenterConfig:
    base = {"orders_per_packer_hour": 10.0, "shrinkage": 0.0, "min_packers": 0, "service_level": 0.5}
    return CenterConfig(center_id="A", **{**base, **fields})


def test_elapsed_share_counts_whole_and_partial_hours() -> None:
    assert elapsed_share(FLAT[0], 12.5) == pytest.approx(12.5 / 24)
    assert elapsed_share(FLAT[0], 0) == 0.0
    assert elapsed_share(FLAT[0], 24) == pytest.approx(1.0)


def test_orders_on_track_leave_the_rest_of_the_day_as_forecast() -> None:
    rest, level = conditional_rest(DAY, LEVELS, FLAT[0], so_far=1200.0, hours_elapsed=12)
    assert level == pytest.approx(1.0)
    assert rest[1] == pytest.approx(1200.0)


def test_a_busy_morning_raises_the_rest_of_the_day_and_narrows_its_spread() -> None:
    rest, level = conditional_rest(DAY, LEVELS, FLAT[0], so_far=1800.0, hours_elapsed=12)
    assert 1.0 < level < 1.5
    assert rest[1] > 1200.0
    assert (rest[2] - rest[0]) < 0.5 * (DAY[2] - DAY[0])  # half the day left, less uncertain


def test_a_quiet_morning_lowers_it() -> None:
    _, level = conditional_rest(DAY, LEVELS, FLAT[0], so_far=600.0, hours_elapsed=12)
    assert level < 1.0


def test_shifts_over_or_running_keep_their_packers_and_the_rest_are_replanned() -> None:
    booked = {"day": 9, "swing": 9, "night": 9}
    table = replan_today(center(), MONDAY + pd.Timedelta(hours=15), DAY, LEVELS, FLAT, so_far=2000.0,
                         current=booked).set_index("shift")
    assert table.loc["day", "status"] == OVER and table.loc["day", "packers"] == 9
    assert table.loc["swing", "status"] == RUNNING and table.loc["swing", "packers"] == 9
    assert table.loc["night", "status"] == NOT_STARTED
    assert table.loc["night", "packers"] > 9  # 2000 orders by 15:00 is far above 15/24 of 2400
    assert table.loc["night", "action"] == f"call in {table.loc['night', 'packers'] - 9}"
    assert table.loc["day", "action"] == "kept (over)"


def test_a_quiet_day_releases_packers_of_a_shift_not_started() -> None:
    table = replan_today(center(), MONDAY + pd.Timedelta(hours=5), DAY, LEVELS, FLAT, so_far=100.0,
                         current={"day": 99, "swing": 99, "night": 99}).set_index("shift")
    assert (table["status"] == NOT_STARTED).all()
    assert (table["change"] < 0).all()
    assert table.loc["day", "action"].startswith("release ")


def test_after_a_closed_day_the_first_shift_is_replanned_with_the_orders_waiting_since_midnight() -> None:
    # Closed on Sundays: at 03:00 on Monday no night shift has run; the 300 orders so far (on track)
    # and those of 03:00-06:00 wait for the day shift, as the morning plan counted them (14/24 of the day).
    c = center(closed_weekdays=["Sun"])
    table = replan_today(c, MONDAY + pd.Timedelta(hours=3), DAY, LEVELS, FLAT, so_far=300.0,
                         current={}).set_index("shift")
    assert table.loc["day", "orders_planned"] == pytest.approx(14 / 24 * 2400.0)
    planned = plan_crews(pd.DataFrame({"unique_id": "A", "ds": [MONDAY], "0.1": [2000.0], "0.5": [2400.0],
                                       "0.9": [2800.0]}), {"A": c}, {"A": FLAT}).set_index("shift")
    assert table.loc["day", "packers"] == planned.loc["day", "packers"]  # no phantom "release" at 03:00
    assert table.loc["swing", "orders_planned"] == pytest.approx(8 / 24 * 2400.0)
    open_sunday = replan_today(center(), MONDAY + pd.Timedelta(hours=3), DAY, LEVELS, FLAT, so_far=300.0,
                               current={}).set_index("shift")
    assert open_sunday.loc["day", "orders_planned"] == pytest.approx(8 / 24 * 2400.0)


def test_the_night_before_a_closed_day_is_replanned_with_the_morning_it_runs_into_as_the_plan_made_it() -> None:
    # Closed on Tuesday (a stocktake): Monday's night shift still runs to Tuesday 06:00 and customers order
    # then; on track at noon, the re-plan keeps the plan's night (it dropped Tuesday's 00:00-06:00 before).
    c = center(closed_dates=["2026-03-03"])
    fc = pd.DataFrame({"unique_id": "A", "ds": pd.date_range(MONDAY, periods=3), "0.1": 2000.0, "0.5": 2400.0,
                       "0.9": 2800.0})
    plan = plan_crews(fc, {"A": c}, {"A": FLAT})
    _, changes = apply_intraday(plan, fc, {"A": c}, {"A": FLAT}, {"A": MONDAY + pd.Timedelta(hours=12)},
                                {"A": 1200.0}, plan)
    night = changes.set_index("shift").loc["night"]
    assert night["orders_planned"] == pytest.approx(8 / 24 * 2400.0, rel=2e-3)
    assert night["action"] == "no change"


def test_replan_today_alone_gives_the_night_before_a_closed_day_its_morning() -> None:
    table = replan_today(center(closed_dates=["2026-03-03"]), MONDAY + pd.Timedelta(hours=12), DAY, LEVELS, FLAT,
                         1200.0, {}).set_index("shift")
    assert table.loc["night", "orders_planned"] == pytest.approx(8 / 24 * 2400.0, rel=2e-3)


def test_after_a_closed_day_the_first_shift_is_replanned_with_the_closed_days_orders_as_the_plan_made_it() -> None:
    # Closed on Sunday, which the forecast holds: at 03:00 on Monday the day shift still packs Sunday's
    # 06:00-24:00 (1800 orders forecast). The re-plan dropped them and said "day release 22".
    c = center(closed_weekdays=["Sun"])
    fc = pd.DataFrame({"unique_id": "A", "ds": pd.date_range(MONDAY - pd.Timedelta(days=1), periods=2),
                       "0.1": 2000.0, "0.5": 2400.0, "0.9": 2800.0})
    plan = plan_crews(fc, {"A": c}, {"A": FLAT})
    now = {"A": MONDAY + pd.Timedelta(hours=3)}
    _, changes = apply_intraday(plan, fc, {"A": c}, {"A": FLAT}, now, {"A": 300.0}, plan)
    day = changes.set_index("shift").loc["day"]
    assert day["orders_planned"] == pytest.approx(1800.0 + 14 / 24 * 2400.0, rel=2e-3)
    assert day["action"] == "no change"
    # Sunday's orders counted (a busy Sunday: 2500 after 06:00) replace its forecast.
    _, counted = apply_intraday(plan, fc, {"A": c}, {"A": FLAT}, now, {"A": 300.0}, plan, waiting={"A": 2500.0})
    assert counted.set_index("shift").loc["day", "orders_planned"] == pytest.approx(2500.0 + 14 / 24 * 2400.0,
                                                                                     rel=2e-3)


def test_the_night_shift_s_morning_hours_come_from_tomorrows_plan() -> None:
    on_track = replan_today(center(), MONDAY + pd.Timedelta(hours=12), DAY, LEVELS, FLAT, 1200.0, {}, DAY)
    busy_tomorrow = replan_today(center(), MONDAY + pd.Timedelta(hours=12), DAY, LEVELS, FLAT, 1200.0, {},
                                 DAY + 2400.0)
    night = lambda t: t.set_index("shift").loc["night", "orders_planned"]  # noqa: E731
    assert night(busy_tomorrow) - night(on_track) == pytest.approx(6 / 24 * 2400.0, rel=1e-3)


def test_the_night_shift_plans_on_the_quantile_of_the_two_days_sum_not_the_sum_of_quantiles() -> None:
    # Planned at the 0.9 quantile, the evening's and the morning's errors partly cancel.
    levels = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    z = np.array([-1.6449, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.6449])
    today, tomorrow = 2400.0 + 300.0 * z, 2400.0 + 300.0 * z
    shifts = ({"name": "day", "start": 6, "end": 22}, {"name": "night", "start": 22, "end": 6})
    table = replan_today(center(service_level=0.9, shifts=shifts), MONDAY + pd.Timedelta(hours=1), today, levels,
                         FLAT, 100.0, {}, tomorrow).set_index("shift")
    rest, _ = conditional_rest(today, levels, FLAT[0], 100.0, 1.0)
    evening, morning = rest * 2 / 23, tomorrow * 6 / 24
    comonotone = np.interp(0.9, levels, evening) + np.interp(0.9, levels, morning)
    means = np.interp(0.5, levels, evening) + np.interp(0.5, levels, morning)
    sd = np.hypot(*((np.interp(0.9, levels, part) - np.interp(0.5, levels, part)) / 1.2816
                    for part in (evening, morning)))
    night = table.loc["night", "orders_planned"]
    assert night < comonotone - 0.1 * (comonotone - means)
    assert night == pytest.approx(means + 1.2816 * sd, rel=0.01)  # both normal: the normal sum


def plan_and_forecast() -> tuple[pd.DataFrame, pd.DataFrame]:
    fc = pd.DataFrame({"unique_id": "A", "ds": pd.date_range(MONDAY, periods=2),
                       "0.1": 2000.0, "0.5": 2400.0, "0.9": 2800.0})
    return plan_crews(fc, {"A": center()}, {"A": FLAT}), fc


def test_apply_intraday_changes_only_todays_shifts_not_started() -> None:
    plan, fc = plan_and_forecast()
    booked = plan[["unique_id", "ds", "shift", "packers"]].assign(packers=7)
    now = {"A": MONDAY + pd.Timedelta(hours=15)}
    new, changes = apply_intraday(plan, fc, {"A": center()}, {"A": FLAT}, now, {"A": 2000.0}, booked)
    today = new[new["ds"] == MONDAY].set_index("shift")
    assert today.loc["day", "packers"] == 7 and today.loc["swing", "packers"] == 7
    assert today.loc["night", "packers"] > 7
    tomorrow = new["ds"] == MONDAY + pd.Timedelta(days=1)
    pd.testing.assert_frame_equal(new[tomorrow], plan[tomorrow])
    assert list(changes["unique_id"].unique()) == ["A"]
    assert "A night call in" in intraday_summary(changes)


def test_a_center_whose_today_is_not_in_the_forecast_is_left_alone() -> None:
    plan, fc = plan_and_forecast()
    now = {"A": MONDAY + pd.Timedelta(days=5, hours=9)}
    new, changes = apply_intraday(plan, fc, {"A": center()}, {"A": FLAT}, now, {"A": 5.0})
    pd.testing.assert_frame_equal(new, plan)
    assert changes.empty and intraday_summary(changes) == ""


def test_a_center_without_counts_today_is_not_read_as_a_day_without_orders() -> None:
    plan, fc = plan_and_forecast()
    new, changes = apply_intraday(plan, fc, {"A": center()}, {"A": FLAT}, {"A": MONDAY + pd.Timedelta(hours=15)}, {})
    pd.testing.assert_frame_equal(new, plan)
    assert changes.empty


def test_a_replan_after_every_shift_of_today_started_keeps_the_plan() -> None:
    """Late in the evening (a retrain triggered by an alert) nothing is left to re-plan."""
    plan, fc = plan_and_forecast()
    now = {"A": MONDAY + pd.Timedelta(hours=23, minutes=30)}
    new, changes = apply_intraday(plan, fc, {"A": center()}, {"A": FLAT}, now, {"A": 2300.0})
    today = new["ds"] == MONDAY
    assert (changes["status"] != NOT_STARTED).all()
    pd.testing.assert_series_equal(new.loc[today, "orders_planned"], plan.loc[today, "orders_planned"])


def test_a_shift_replanned_over_max_packers_keeps_the_need_it_was_capped_from() -> None:
    # Twice the forecast's pace by 15:00: the night shift needs 13 packers (it needed 10 this morning);
    # max_packers 11 books 11. The stored row said "11 packers, 10 needed (before the cap)": a cap the
    # plan's summary did not count and a page read as one packer too many.
    c = center(max_packers=11)
    fc = pd.DataFrame({"unique_id": "A", "ds": pd.date_range(MONDAY, periods=2), "0.1": 2000.0, "0.5": 2400.0,
                       "0.9": 2800.0})
    plan = plan_crews(fc, {"A": c}, {"A": FLAT})
    assert plan.set_index(["ds", "shift"]).loc[(MONDAY, "night"), "packers_needed"] == 10
    new, changes = apply_intraday(plan, fc, {"A": c}, {"A": FLAT}, {"A": MONDAY + pd.Timedelta(hours=15)},
                                  {"A": 3000.0})
    night = new.set_index(["ds", "shift"]).loc[(MONDAY, "night")]
    replanned = changes.set_index("shift").loc["night"]
    assert night["packers"] == 11
    assert night["packers_needed"] == replanned["packers_needed"] > 11
    # the shifts already running keep the morning plan's need
    assert new.set_index(["ds", "shift"]).loc[(MONDAY, "day"), "packers_needed"] == 10


# Session 20, i30-gaps: hours no shift covers wait for the next shift to start, in the re-plan as in the plan.
def test_a_day_only_centers_shift_is_replanned_with_the_nights_orders_and_the_evening_counted_before() -> None:
    # 08:00-16:00 only: at 03:00 the 300 orders so far (on track) and Monday's 16:00-24:00 (800 counted) wait for
    # Tuesday's day shift, with those still to come before it ends: the morning plan's 800 + 16/24 of the day.
    c = center(shifts=[{"name": "day", "start": "08:00", "end": "16:00"}])
    tuesday = MONDAY + pd.Timedelta(days=1)
    table = replan_today(c, tuesday + pd.Timedelta(hours=3), DAY, LEVELS, FLAT, so_far=300.0, current={},
                         backlog=800.0).set_index("shift")
    assert table.loc["day", "orders_planned"] == pytest.approx(800.0 + 300.0 + 13 / 24 * 2400.0)
    fc = pd.DataFrame({"unique_id": "A", "ds": [tuesday], "0.1": [2000.0], "0.5": [2400.0], "0.9": [2800.0]})
    planned = plan_crews(fc, {"A": c}, {"A": FLAT}, waiting={"A": 800.0}).set_index("shift")
    assert table.loc["day", "packers"] == planned.loc["day", "packers"]  # on track: no change


def test_a_shift_after_a_midday_gap_packs_the_orders_counted_in_the_gap_per_hour() -> None:
    # Shifts 08-10 and 14-18: at noon the orders of 10:00-12:00 lie unpacked; the 14:00 shift packs them and
    # 12:00-18:00's. Counted per hour, the gap's own 300 are used; a total is split by the profile (200).
    c = center(shifts=[{"name": "a", "start": "08:00", "end": "10:00"},
                       {"name": "b", "start": "14:00", "end": "18:00"}])
    counts = np.zeros(24)
    counts[:10], counts[10:12] = 90.0, 150.0
    noon = MONDAY + pd.Timedelta(hours=12)
    by_hour = replan_today(c, noon, DAY, LEVELS, FLAT, so_far=counts, current={}).set_index("shift")
    assert by_hour.loc["b", "orders_planned"] == pytest.approx(300.0 + 6 / 24 * 2400.0)
    total = replan_today(c, noon, DAY, LEVELS, FLAT, so_far=1200.0, current={}).set_index("shift")
    assert total.loc["b", "orders_planned"] == pytest.approx(200.0 + 6 / 24 * 2400.0)
    assert by_hour.loc["a", "status"] == OVER
