"""Crews that match shifts: a shift belongs to the day it starts; hour profiles per weekday."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from fcplan.core.panel import PanelError
from fcplan.planner.centers import CenterConfig
from fcplan.planner.crews import (
    carried_days,
    hour_profiles,
    plan_crews,
    plan_notes,
    waiting_before,
    waiting_orders,
)

MONDAY = pd.Timestamp("2026-03-02")
FLAT = np.full((7, 24), 1 / 24)


def center(center_id: str = "A", **fields) -> CenterConfig:
    base = {"orders_per_packer_hour": 10.0, "shrinkage": 0.0, "min_packers": 0, "service_level": 0.5}
    return CenterConfig(center_id=center_id, **{**base, **fields})


def forecast(medians: list[float], center_id: str = "A", start: pd.Timestamp = MONDAY) -> pd.DataFrame:
    m = np.asarray(medians, dtype=float)
    return pd.DataFrame({
        "unique_id": center_id, "ds": pd.date_range(start, periods=len(m)),
        "0.1": 0.8 * m, "0.5": m, "0.9": 1.2 * m,
    })


def test_the_night_shift_of_a_day_takes_its_evening_from_that_day_and_its_morning_from_the_next() -> None:
    plan = plan_crews(forecast([240.0, 2400.0]), {"A": center()}, {"A": FLAT})
    night = plan[(plan["ds"] == MONDAY) & (plan["shift"] == "night")].iloc[0]
    assert night["orders_planned"] == pytest.approx(2 / 24 * 240 + 6 / 24 * 2400)
    assert night["starts_at"] == MONDAY + pd.Timedelta(hours=22)
    day = plan[(plan["ds"] == MONDAY) & (plan["shift"] == "day")].iloc[0]
    assert day["orders_planned"] == pytest.approx(8 / 24 * 240)


def test_the_last_days_night_shift_uses_that_day_for_its_morning_and_says_so() -> None:
    plan = plan_crews(forecast([240.0, 480.0]), {"A": center()}, {"A": FLAT})
    last = plan[(plan["ds"] == MONDAY + pd.Timedelta(days=1)) & (plan["shift"] == "night")].iloc[0]
    assert last["orders_planned"] == pytest.approx(8 / 24 * 480)
    assert not last["next_day_forecast"]
    assert plan.loc[plan["ds"] == MONDAY, "next_day_forecast"].all()


def test_rows_follow_the_start_of_each_shift() -> None:
    plan = plan_crews(forecast([100.0, 100.0]), {"A": center()}, {})
    assert plan["starts_at"].is_monotonic_increasing
    assert list(plan["shift"][:3]) == ["day", "swing", "night"]


def test_headcount_uses_paid_hours_less_break_less_shrinkage_and_the_shifts_productivity() -> None:
    shifts = [
        {"name": "day", "start": 0, "end": 12, "paid_hours": 10, "break_minutes": 60},
        {"name": "night", "start": 12, "end": 24, "paid_hours": 10, "break_minutes": 60, "orders_per_packer_hour": 5},
    ]
    c = center(shifts=shifts, shrinkage=0.1)
    plan = plan_crews(forecast([2 * 810.0]), {"A": c}, {"A": FLAT}).set_index("shift")
    # 810 orders / 10 per hour = 81 packer-hours; one packer delivers (10 - 1) * 0.9 = 8.1 -> 10 packers.
    assert plan.loc["day", "packer_hours"] == pytest.approx(81.0)
    assert plan.loc["day", "packers"] == 10
    assert plan.loc["night", "packers"] == 20


def test_max_packers_caps_the_plan_and_the_need_stays_visible() -> None:
    plan = plan_crews(forecast([24000.0]), {"A": center(max_packers=7)}, {})
    assert (plan["packers"] == 7).all()
    assert (plan["packers_needed"] > 7).all()


def test_min_packers_floors_a_quiet_shift() -> None:
    plan = plan_crews(forecast([0.0]), {"A": center(min_packers=2)}, {})
    assert (plan["packers"] == 2).all()


def test_the_service_level_picks_the_quantile() -> None:
    shifts = [{"name": "day", "start": 0, "end": 12}, {"name": "late", "start": 12, "end": 24}]
    low = plan_crews(forecast([240.0]), {"A": center(service_level=0.5, shifts=shifts)}, {})["orders_planned"].sum()
    high = plan_crews(forecast([240.0]), {"A": center(service_level=0.9, shifts=shifts)}, {})["orders_planned"].sum()
    assert high == pytest.approx(1.2 * low)


def test_an_overnight_shift_plans_on_the_quantile_of_the_sum_of_its_two_days() -> None:
    # At the 0.9 quantile the evening's and the morning's errors partly cancel: less than the sum of quantiles,
    # more than the sum of medians.
    plan = plan_crews(forecast([2400.0, 2400.0]), {"A": center(service_level=0.9)}, {"A": FLAT})
    night = plan[(plan["ds"] == MONDAY) & (plan["shift"] == "night")].iloc[0]["orders_planned"]
    assert 800.0 < night < 0.99 * 1.2 * 800.0


def test_a_forecast_center_without_configuration_is_named() -> None:
    with pytest.raises(ValueError, match=r"\['B'\]"):
        plan_crews(pd.concat([forecast([1.0]), forecast([1.0], "B")]), {"A": center()}, {})


def hourly(days: pd.DatetimeIndex, per_hour, center_id: str = "A") -> pd.DataFrame:
    rows = [(center_id, d + pd.Timedelta(hours=h), per_hour(d, h)) for d in days for h in range(24)]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def test_profiles_are_learned_per_weekday_from_the_hourly_aggregates() -> None:
    days = pd.date_range(MONDAY - pd.Timedelta(days=28), periods=28)
    # Mondays are busy in the morning, other days in the evening.
    data = hourly(days, lambda d, h: 10.0 if (h < 12) == (d.weekday() == 0) else 1.0)
    prof = hour_profiles(data, ["A", "NEW"])
    assert prof["A"].shape == (7, 24)
    np.testing.assert_allclose(prof["A"].sum(axis=1), 1.0)
    assert prof["A"][0, :12].sum() > 0.7
    assert prof["A"][2, :12].sum() < 0.3
    np.testing.assert_allclose(prof["NEW"], FLAT)


def test_a_weekday_with_little_history_leans_on_the_centers_week() -> None:
    days = pd.date_range(MONDAY - pd.Timedelta(days=6), periods=6)  # Tuesday .. Sunday, no Monday
    data = hourly(days, lambda d, h: 10.0 if h < 12 else 1.0)
    prof = hour_profiles(data)
    assert prof["A"][0, :12].sum() == pytest.approx(prof["A"][3, :12].sum(), rel=0.05)
    assert prof["A"][0, :12].sum() > 0.8


def test_the_day_still_filling_is_left_out() -> None:
    days = pd.date_range(MONDAY - pd.Timedelta(days=7), periods=8)
    data = hourly(days, lambda d, h: 100.0 if d == MONDAY and h == 3 else 1.0)
    prof = hour_profiles(data, before=MONDAY)
    assert prof["A"][0, 3] == pytest.approx(1 / 24, rel=0.01)


def test_shares_from_profiles_move_the_crews() -> None:
    prof = np.zeros((7, 24))
    prof[:, 6:14] = 1 / 8  # every order in the day shift's hours
    plan = plan_crews(forecast([800.0, 800.0]), {"A": center()}, {"A": prof}).set_index(["ds", "shift"])
    assert plan.loc[(MONDAY, "day"), "orders_planned"] == pytest.approx(800.0)
    assert plan.loc[(MONDAY, "night"), "orders_planned"] == pytest.approx(0.0)


def test_on_a_closed_weekday_no_shift_runs_and_the_night_before_packs_the_morning_it_runs_into() -> None:
    # Monday and Tuesday; the center is closed on Tuesdays, min_packers notwithstanding. Monday's night
    # shift (22-6) still runs into Tuesday's morning, and customers order then: it packs those hours too
    # (it packed 22-24 only, planned as if nobody ordered on a closed day).
    c = center(closed_weekdays=["Tuesday"], min_packers=2)
    plan = plan_crews(forecast([240.0, 240.0]), {"A": c}, {"A": FLAT})
    tuesday = plan[plan["ds"] == MONDAY + pd.Timedelta(days=1)]
    assert (tuesday["packers"] == 0).all() and (tuesday["orders_planned"] == 0).all()
    monday_night = plan[(plan["ds"] == MONDAY) & (plan["shift"] == "night")].iloc[0]
    assert monday_night["orders_planned"] == pytest.approx(8 / 24 * 240, rel=1e-3)


def test_after_a_closed_day_the_first_shift_packs_its_orders_and_the_early_hours_its_night_shift_would_have() -> None:
    # Closed on Sundays: customers order on Sunday all the same. Saturday's night shift packs Sunday's
    # 00:00-06:00; the rest of Sunday and Monday's 00:00-06:00 (no Sunday night ran) wait for Monday's
    # day shift. It planned Monday's early hours only (1400 orders), and Sunday's 1800 were in no shift.
    c = center(closed_weekdays=["Sun"])
    plan = plan_crews(forecast([2400.0] * 3, start=MONDAY - pd.Timedelta(days=1)), {"A": c}, {"A": FLAT})
    plan = plan.set_index(["ds", "shift"])
    sunday = MONDAY - pd.Timedelta(days=1)
    assert plan.loc[(sunday, "night"), "orders_planned"] == 0.0 and plan.loc[(sunday, "night"), "packers"] == 0
    assert plan.loc[(MONDAY, "day"), "orders_planned"] == pytest.approx(18 / 24 * 2400 + 14 / 24 * 2400, rel=1e-3)
    assert plan.loc[(MONDAY, "day"), "orders_median"] == pytest.approx(3200.0)
    assert plan.loc[(MONDAY, "day"), "packers"] == 40  # 3200 orders / 10 per hour / 8 h
    assert plan.loc[(MONDAY + pd.Timedelta(days=1), "day"), "orders_planned"] == pytest.approx(8 / 24 * 2400)
    # every order of the three days is planned once (Tuesday night's morning comes from Tuesday: no Wednesday)
    assert plan["orders_median"].sum() == pytest.approx(3 * 2400 - 6 / 24 * 2400 + 6 / 24 * 2400)


def test_after_a_closed_day_on_the_first_plan_day_the_first_shift_packs_the_early_hours_and_the_counted_backlog(
) -> None:
    # The forecast starts on Monday; Sunday, closed, is not in it: its orders are counted, not forecast.
    c = center(closed_weekdays=["Sun"])
    plan = plan_crews(forecast([2400.0]), {"A": c}, {"A": FLAT}).set_index("shift")
    assert plan.loc["day", "orders_planned"] == pytest.approx(14 / 24 * 2400)
    counted = plan_crews(forecast([2400.0]), {"A": c}, {"A": FLAT}, waiting={"A": 900.0}).set_index("shift")
    assert counted.loc["day", "orders_planned"] == pytest.approx(900.0 + 14 / 24 * 2400)
    assert counted.loc["day", "orders_median"] == pytest.approx(900.0 + 14 / 24 * 2400)
    assert counted.loc["swing", "orders_planned"] == pytest.approx(plan.loc["swing", "orders_planned"])


def test_an_open_day_between_two_closed_days_packs_the_first_ones_orders_and_its_night_runs_into_the_second() -> None:
    # Closed on Sunday and on Tuesday (a stocktake): Monday's day shift packs Sunday's 06:00-24:00 and Monday's
    # 00:00-06:00, Monday's night packs 22:00 to Tuesday 06:00, Wednesday's day shift the rest of Tuesday.
    c = center(closed_weekdays=["Sun"], closed_dates=["2026-03-03"])
    plan = plan_crews(forecast([2400.0] * 4, start=MONDAY - pd.Timedelta(days=1)), {"A": c}, {"A": FLAT})
    monday = plan[plan["ds"] == MONDAY].set_index("shift")["orders_planned"]
    assert monday["day"] == pytest.approx(32 / 24 * 2400, rel=1e-3)
    assert monday["night"] == pytest.approx(8 / 24 * 2400, rel=1e-3)
    wednesday = plan[plan["ds"] == MONDAY + pd.Timedelta(days=2)].set_index("shift")["orders_planned"]
    assert wednesday["day"] == pytest.approx(32 / 24 * 2400, rel=1e-3)
    assert plan["orders_median"].sum() == pytest.approx(4 * 2400)  # Wednesday's night takes its morning from itself


def test_a_holiday_weekend_waits_for_the_first_shift_after_it_planned_on_the_quantile_of_its_sum() -> None:
    # Closed Saturday, Sunday and a Monday holiday: Friday's night packs Saturday's 00:00-06:00; Tuesday's day
    # shift packs the rest of Saturday, Sunday, Monday and Tuesday's 00:00-06:00. At the 0.9 quantile the four
    # days' errors partly cancel: less than the sum of their 0.9 quantiles, more than the sum of medians.
    friday = MONDAY + pd.Timedelta(days=4)
    c = center(closed_weekdays=["Sat", "Sun"], closed_dates=["2026-03-09"], service_level=0.9)
    plan = plan_crews(forecast([2400.0] * 5, start=friday), {"A": c}, {"A": FLAT}).set_index(["ds", "shift"])
    tuesday = friday + pd.Timedelta(days=4)
    median = 18 / 24 * 2400 + 2400 + 2400 + 14 / 24 * 2400
    assert plan.loc[(tuesday, "day"), "orders_median"] == pytest.approx(median)
    assert median < plan.loc[(tuesday, "day"), "orders_planned"] < 0.99 * 1.2 * median
    assert plan.loc[(friday, "night"), "orders_median"] == pytest.approx(8 / 24 * 2400)
    assert all(plan.loc[(friday + pd.Timedelta(days=k), s), "packers"] == 0 for k in (1, 2, 3)
               for s in ("day", "swing", "night"))


def test_a_center_without_a_night_shift_carries_the_whole_closed_day_to_its_first_shift() -> None:
    shifts = [{"name": "early", "start": 0, "end": 12}, {"name": "late", "start": 12, "end": 24}]
    c = center(shifts=shifts, closed_weekdays=["Sun"])
    plan = plan_crews(forecast([2400.0] * 2, start=MONDAY - pd.Timedelta(days=1)), {"A": c}, {"A": FLAT})
    monday = plan[plan["ds"] == MONDAY].set_index("shift")["orders_median"]
    assert monday["early"] == pytest.approx(2400 + 1200) and monday["late"] == pytest.approx(1200)


def test_a_forecast_ending_on_a_closed_day_says_its_orders_are_in_no_shift_of_the_plan() -> None:
    # Monday to Sunday, closed on Sundays: Saturday's night packs Sunday's 00:00-06:00; the rest waits for a
    # Monday the forecast does not reach.
    fc = forecast([2400.0] * 7)
    c = {"A": center(closed_weekdays=["Sun"])}
    plan = plan_crews(fc, c, {"A": FLAT})
    saturday_night = plan[(plan["ds"] == MONDAY + pd.Timedelta(days=5)) & (plan["shift"] == "night")].iloc[0]
    assert saturday_night["orders_median"] == pytest.approx(8 / 24 * 2400) and saturday_night["next_day_forecast"]
    assert any("ends on a closed day (A 2026-03-08)" in n for n in plan_notes(fc, c))
    assert not any("closed day" in n for n in plan_notes(forecast([2400.0] * 6), c))


def test_the_last_days_night_shift_before_a_closed_day_past_the_forecast_takes_its_morning_from_its_own_day() -> None:
    # Monday to Saturday; closed on Sundays, which the forecast does not reach: Saturday's night runs into
    # Sunday's morning (customers order) and takes it from Saturday's forecast, as any last night.
    plan = plan_crews(forecast([2400.0] * 6), {"A": center(closed_weekdays=["Sun"])}, {"A": FLAT})
    saturday_night = plan[(plan["ds"] == MONDAY + pd.Timedelta(days=5)) & (plan["shift"] == "night")].iloc[0]
    assert saturday_night["orders_planned"] == pytest.approx(8 / 24 * 2400)
    assert not saturday_night["next_day_forecast"]


def test_waiting_orders_counts_the_closed_days_hours_no_shift_packed() -> None:
    # Closed Saturday and Sunday: Friday's night packed Saturday's 00:00-06:00; the rest waits for Monday.
    c = center(closed_weekdays=["Sat", "Sun"])
    hours = hourly(pd.date_range(MONDAY - pd.Timedelta(days=3), periods=4), lambda d, h: 1.0)
    assert waiting_orders(c, hours, MONDAY) == 18 + 24
    assert waiting_orders(c, hours, MONDAY, until=MONDAY - pd.Timedelta(days=1)) == 18  # Sunday is forecast
    assert waiting_orders(c, hours, MONDAY + pd.Timedelta(days=1)) == 0.0  # Monday was open
    assert carried_days(c, MONDAY) == [(MONDAY - pd.Timedelta(days=2), pytest.approx(0.75)),
                                       (MONDAY - pd.Timedelta(days=1), pytest.approx(1.0))]


def test_closed_dates_and_holidays_have_no_shifts() -> None:
    # 2026-03-01 is Korea's Independence Movement Day, 03-02 its substitute holiday; 03-03 a stocktake.
    c = center(holiday_country="KR", closed_on_holidays=True, closed_dates=["2026-03-03"], min_packers=1)
    plan = plan_crews(forecast([240.0] * 4, start=MONDAY - pd.Timedelta(days=1)), {"A": c}, {})
    by_day = plan.groupby("ds")["packers"].sum()
    assert by_day[pd.Timestamp("2026-03-01")] == 0 and by_day[pd.Timestamp("2026-03-02")] == 0
    assert by_day[pd.Timestamp("2026-03-03")] == 0 and by_day[pd.Timestamp("2026-03-04")] > 0


def test_a_closed_weekday_that_is_not_a_weekday_is_refused_with_the_names_to_use() -> None:
    with pytest.raises(ValueError, match="not a weekday"):
        center(closed_weekdays=["Caturday"])
    with pytest.raises(ValueError, match="needs a holiday_country"):
        center(holiday_country=None, closed_on_holidays=True)


# Daylight saving: a shift over the skipped hour (spring forward) or the repeated one (fall back)
# lasts 7 or 9 hours; it was planned as 8, with the orders of a 24-hour day.
LA = "America/Los_Angeles"  # 2026-03-08 02:00 is skipped; 2026-11-01 01:00 occurs twice


def _dst_plan(first: str, **shift_fields) -> pd.DataFrame:
    shifts = [{"name": n, "start": a, "end": b, **shift_fields} for n, a, b in
              (("day", 6, 14), ("swing", 14, 22), ("night", 22, 6))]
    days = pd.date_range(first, periods=3)
    fc = pd.DataFrame({"unique_id": "A", "ds": days, "0.1": 24000.0, "0.5": 24000.0, "0.9": 24000.0})
    conf = center(timezone=LA, orders_per_packer_hour=100.0, shifts=shifts, service_level=0.9)
    plan = plan_crews(fc, {"A": conf}, {"A": FLAT})
    return plan.set_index(["ds", "shift"])


def test_a_shift_across_a_skipped_hour_has_an_hour_less_to_pack_its_orders() -> None:
    plan = _dst_plan("2026-03-07")
    night = plan.loc[(pd.Timestamp("2026-03-07"), "night")]
    # 2 h of Mar 7 (1000 orders an hour) + 5 real hours of the 23-hour Mar 8, over 7 hours: 11 packers, not 10
    assert night["orders_planned"] == pytest.approx(2000 + 5 * 24000 / 23)
    assert night["packers"] == 11
    assert plan.loc[(pd.Timestamp("2026-03-08"), "day"), "packers"] == 11  # 8 of 23 hours' orders
    assert plan.loc[(pd.Timestamp("2026-03-09"), "day"), "packers"] == 10


def test_a_shift_across_a_repeated_hour_keeps_its_configured_paid_hours() -> None:
    night = (pd.Timestamp("2026-10-31"), "night")
    orders = 2000 + 7 * 24000 / 25  # 2 h of Oct 31 + 7 of the 25-hour Nov 1
    unpaid = _dst_plan("2026-10-31")  # paid for the 9 hours it lasts: 87.2 / 9 -> 10
    assert unpaid.loc[night, "orders_planned"] == pytest.approx(orders)
    assert unpaid.loc[night, "packers"] == 10
    paid = _dst_plan("2026-10-31", paid_hours=8)  # paid (and working) 8 hours: 87.2 / 8 -> 11
    assert paid.loc[night, "packers"] == 11


def test_a_shift_wholly_in_a_skipped_hour_gets_no_packers() -> None:
    shifts = [{"name": "early", "start": 2, "end": 3}, {"name": "rest", "start": 3, "end": 2}]
    fc = forecast([2400.0, 2400.0], start=pd.Timestamp("2026-03-08"))
    plan = plan_crews(fc, {"A": center(timezone=LA, shifts=shifts, min_packers=1)}, {"A": FLAT})
    early = plan[plan["shift"] == "early"].set_index("ds")["packers"]
    assert early[pd.Timestamp("2026-03-08")] == 0 and early[pd.Timestamp("2026-03-09")] > 0


# Session 19 (i29-probe): a hand-made hour profile of the wrong shape was "IndexError: invalid index to
# scalar variable"; a NaN one "the plan needs nan packers ... check the forecast's scale"; a list for the
# forecast "'list' object has no attribute 'columns'".
@pytest.mark.parametrize(("profile", "expected"), [
    (np.full(24, 1 / 24), "got shape (24,)"),
    (np.full((7, 24), np.nan), "with missing, negative or all-zero rows"),
    (np.zeros((7, 24)), "with missing, negative or all-zero rows"),
])
def test_a_malformed_hour_profile_is_named(profile, expected) -> None:
    forecast = pd.DataFrame({"unique_id": "FC-1", "ds": pd.date_range("2026-03-02", periods=2), "0.5": 100.0})
    with pytest.raises(PanelError, match=re.escape("hour profile of center 'FC-1' must be a (7, 24) array")) as err:
        plan_crews(forecast, {"FC-1": CenterConfig(center_id="FC-1")}, {"FC-1": profile})
    assert expected in str(err.value)


def test_a_forecast_that_is_not_a_frame_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="forecast must be a pandas DataFrame"):
        plan_crews([1, 2], {"FC-1": CenterConfig(center_id="FC-1")}, {})


def test_waiting_before_counts_the_closed_days_before_the_forecast_but_not_a_day_still_to_come() -> None:
    c = {"A": center(closed_weekdays=["Sun"])}
    hours = hourly(pd.date_range(MONDAY - pd.Timedelta(days=1), periods=1), lambda d, h: 2.0)
    assert waiting_before(c, forecast([2400.0]), hours) == {"A": 36.0}  # Sunday 06:00-24:00
    assert waiting_before(c, forecast([2400.0]), hours, {"A": MONDAY - pd.Timedelta(days=1)}) == {}


def test_the_days_of_one_shift_are_planned_with_the_centers_day_correlation() -> None:
    # Consecutive days' forecast errors are correlated on real data (benchmarks/day_correlation.py): at the 0.9
    # quantile a correlated evening and morning, or closed Sunday and Monday, need more than independent ones.
    fc = forecast([2400.0] * 3, start=MONDAY - pd.Timedelta(days=1))

    def planned(**fields) -> pd.Series:
        c = center(service_level=0.9, closed_weekdays=["Sun"], **fields)
        return plan_crews(fc, {"A": c}, {"A": FLAT}).set_index(["ds", "shift"])["orders_planned"]

    independent, default, lockstep = planned(day_correlation=0.0), planned(), planned(day_correlation=1.0)
    for key in ((MONDAY, "night"), (MONDAY, "day")):  # overnight; Sunday carried to Monday's day shift
        assert independent[key] < default[key] < lockstep[key]
    assert lockstep[(MONDAY, "day")] == pytest.approx(1.2 * (18 / 24 + 14 / 24) * 2400)


# Session 20, i30-gaps: centers that do not staff 24 hours (a day shift only; two shifts 06:00-22:00).
DAY_ONLY = [{"name": "day", "start": "08:00", "end": "16:00"}]
TWO = [{"name": "early", "start": "06:00", "end": "14:00"}, {"name": "late", "start": "14:00", "end": "22:00"}]


def test_a_day_only_centers_shift_packs_the_evening_before_and_the_night_planned_on_the_quantile_of_their_sum(
) -> None:
    # 08:00-16:00 only (the centers file refused it: "hours 0-7, 16-23 are covered by no shift"). Tuesday's day
    # shift packs Monday's 16:00-24:00 and Tuesday's 00:00-16:00: 8/24 of Monday and 16/24 of Tuesday.
    c = center(shifts=DAY_ONLY, service_level=0.9)
    plan = plan_crews(forecast([2400.0, 4800.0]), {"A": c}, {"A": FLAT}).set_index("ds")
    tuesday = plan.loc[MONDAY + pd.Timedelta(days=1)]
    assert tuesday["orders_median"] == pytest.approx(8 / 24 * 2400 + 16 / 24 * 4800)
    assert 1.0 * tuesday["orders_median"] < tuesday["orders_planned"] < 1.2 * tuesday["orders_median"] - 1
    # the first day's shift packs its 00:00-16:00; the evening before is counted (waiting), not forecast
    assert plan.loc[MONDAY, "orders_median"] == pytest.approx(16 / 24 * 2400)
    counted = plan_crews(forecast([2400.0, 4800.0]), {"A": c}, {"A": FLAT}, waiting={"A": 500.0}).set_index("ds")
    assert counted.loc[MONDAY, "orders_median"] == pytest.approx(500 + 16 / 24 * 2400)
    assert plan["next_day_forecast"].all()


def test_two_shifts_06_22_the_first_packs_the_night_before_it_and_the_orders_of_each_hour_once() -> None:
    c = center(shifts=TWO)
    plan = plan_crews(forecast([2400.0] * 3), {"A": c}, {"A": FLAT}).set_index(["ds", "shift"])
    tuesday = MONDAY + pd.Timedelta(days=1)
    assert plan.loc[(tuesday, "early"), "orders_median"] == pytest.approx(8 / 24 * 2400 + 2 / 24 * 2400 + 6 / 24 * 2400)
    assert plan.loc[(tuesday, "late"), "orders_median"] == pytest.approx(8 / 24 * 2400)
    # every hour once: the three days less Wednesday's 22:00-24:00, which waits for Thursday's early shift
    assert plan["orders_median"].sum() == pytest.approx(3 * 2400 - 2 / 24 * 2400)


def test_after_a_closed_weekend_a_day_only_centers_shift_packs_fridays_evening_the_weekend_and_its_night() -> None:
    friday = MONDAY + pd.Timedelta(days=4)
    c = center(shifts=DAY_ONLY, closed_weekdays=["Sat", "Sun"])
    plan = plan_crews(forecast([2400.0] * 4, start=friday), {"A": c}, {"A": FLAT}).set_index("ds")
    monday = friday + pd.Timedelta(days=3)
    assert plan.loc[monday, "orders_median"] == pytest.approx((8 + 48 + 16) / 24 * 2400)
    assert carried_days(c, monday) == [(friday, pytest.approx(8 / 24)), (friday + pd.Timedelta(days=1), 1.0),
                                       (friday + pd.Timedelta(days=2), 1.0)]
    hours = hourly(pd.date_range(friday, periods=3), lambda d, h: 1.0)
    assert waiting_orders(c, hours, monday) == 8 + 48
    assert waiting_orders(c, hours, friday + pd.Timedelta(days=1)) == 0.0  # closed: no shift of its own
    assert carried_days(c, friday) == [(friday - pd.Timedelta(days=1), pytest.approx(8 / 24))]


def test_waiting_before_counts_the_evening_no_shift_covered_before_the_forecasts_first_day() -> None:
    c = center(shifts=DAY_ONLY)
    hours = hourly(pd.date_range(MONDAY - pd.Timedelta(days=2), periods=2), lambda d, h: float(h))
    waiting = waiting_before({"A": c}, forecast([2400.0]), hours)
    assert waiting == {"A": float(sum(range(16, 24)))}


def test_the_cap_summary_says_how_many_orders_a_capped_shift_leaves_and_that_they_do_not_spill() -> None:
    # A day-only center after a closed weekend: Monday's shift packs Friday's evening, the weekend and its own
    # night, capped at 10 packers: the orders of the packers it lacks stay unpacked, not moved to the next shift.
    from fcplan.planner.crews import capped_summary

    friday = MONDAY + pd.Timedelta(days=4)
    c = center(shifts=DAY_ONLY, closed_weekdays=["Sat", "Sun"], max_packers=10)
    plan = plan_crews(forecast([2400.0] * 4, start=friday), {"A": c}, {"A": FLAT})
    capped = plan[plan["packers"] < plan["packers_needed"]].reset_index(drop=True)
    assert (capped["packers"] == 10).all() and len(capped) == 2  # Friday's and Monday's shifts
    left = sum(r["orders_planned"] * (r["packers_needed"] - 10) / r["packers_needed"] for _, r in capped.iterrows())
    assert capped["orders_planned"].sum() > left > 0
    text = capped_summary(capped)
    assert f"else about {left:,.0f} orders (at the planned quantile) stay unpacked after those shifts" in text
    assert "does not move them to the next shift" in text
