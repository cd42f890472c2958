"""The planner's runner on a real database: centers in their own zones, today re-planned."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fcplan.core.settings import PlannerSettings
from fcplan.planner.centers import parse_centers
from fcplan.planner.runner import make_plan
from fcplan.storage import make_engine
from fcplan.storage import queries as q
from fcplan.storage.schema import center_hourly, forecast_runs, forecasts

SHIFTS = [{"name": "day", "start": 6, "end": 14}, {"name": "swing", "start": 14, "end": 22},
          {"name": "night", "start": 22, "end": 6}]
CENTERS = parse_centers({
    "defaults": {"shifts": SHIFTS, "orders_per_packer_hour": 10, "shrinkage": 0, "min_packers": 0,
                 "service_level": 0.5},
    "centers": {"SEOUL": {"timezone": "Asia/Seoul"}, "LA": {"timezone": "America/Los_Angeles",
                                                            "holiday_country": "US"}},
})


def store_forecast(engine, run_id: str, days: pd.DatetimeIndex, median: float = 2400.0) -> None:
    rows = [
        {"run_id": run_id, "unique_id": c, "ds": d.date(), "model": "ensemble", "quantile": lv, "value": median * f}
        for c in ("SEOUL", "LA") for d in days for lv, f in ((0.1, 0.8), (0.5, 1.0), (0.9, 1.2))
    ]
    with engine.begin() as conn:
        conn.execute(forecast_runs.insert(), {
            "run_id": run_id, "created_at": datetime(2026, 3, 1), "model_version": "t", "horizon": len(days),
            "quantiles": [0.1, 0.5, 0.9], "weights": {}, "data_end": days[0].date(), "fit_seconds": 0.0,
            "fallbacks": {},
        })
        conn.execute(forecasts.insert(), rows)


def store_orders(engine, center: str, tz: str, start: str, hours: int, per_hour: int) -> None:
    local = pd.date_range(start, periods=hours, freq="h", tz=tz)
    utc = local.tz_convert("UTC").tz_localize(None)
    with engine.begin() as conn:
        conn.execute(center_hourly.insert(), [
            {"center_id": center, "hour": h.to_pydatetime(), "orders": per_hour, "lines": per_hour,
             "units": per_hour, "updated_at": datetime(2026, 3, 1)} for h in utc
        ])


@pytest.fixture
def engine(sqlite_url: str):
    return make_engine(sqlite_url)


def test_each_center_is_planned_in_its_own_zone_and_only_shifts_not_started_change(engine) -> None:
    days = pd.date_range("2026-03-02", periods=3)
    store_forecast(engine, "r1", days)
    # Monday 2026-03-02 15:00 in Seoul is Sunday 22:00 in Los Angeles.
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    first = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=now, centers=CENTERS)
    assert first.plan_id is not None
    # Seoul's morning ran at twice the forecast's pace: 200 orders an hour since midnight.
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-02 00:00", 15, 200)
    second = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=now, centers=CENTERS)
    plan = q.plan_frame(engine, second.plan_id)
    before = q.plan_frame(engine, first.plan_id)
    key = ["center_id", "day", "shift"]
    both = plan.merge(before, on=key, suffixes=("", "_first")).set_index(key)
    monday = pd.Timestamp("2026-03-02").date()
    assert both.loc[("SEOUL", monday, "day"), "packers"] == both.loc[("SEOUL", monday, "day"), "packers_first"]
    assert both.loc[("SEOUL", monday, "swing"), "packers"] == both.loc[("SEOUL", monday, "swing"), "packers_first"]
    assert both.loc[("SEOUL", monday, "night"), "packers"] > both.loc[("SEOUL", monday, "night"), "packers_first"]
    assert "SEOUL night call in" in second.message
    # Los Angeles is still on Sunday: none of its Monday shifts has started, none is touched by Seoul's orders.
    la = both.xs("LA", level="center_id")
    assert (la["packers"] == la["packers_first"]).all()
    # The stored plan says what changed and why, for the dashboard.
    night = both.loc[("SEOUL", monday, "night")]
    assert night["packers_before"] == night["packers_first"]
    assert night["packers_change"] == night["packers"] - night["packers_first"] > 0
    assert night["action"] == f"call in {night['packers_change']}"
    assert night["shift_status"] == "not started"
    assert pd.Timestamp(night["starts_at"]) == pd.Timestamp("2026-03-02 22:00")
    assert bool(night["next_day_forecast"])
    assert both.loc[("SEOUL", monday, "day"), "shift_status"] == "over"
    assert both.loc[("SEOUL", monday, "swing"), "action"] == "kept (running)"
    assert (la["action"] == "no change").all() and (la["packers_change"] == 0).all()
    assert before["action"].eq("new").all() and before["packers_before"].isna().all()


# A service level above the forecast's outermost level was planned on that level without a word.
def test_the_plan_says_when_a_service_level_lies_outside_the_forecast_s_levels(engine) -> None:
    days = pd.date_range("2026-03-02", periods=3)
    store_forecast(engine, "r1", days)
    strict = parse_centers({"defaults": {"shifts": SHIFTS, "service_level": 0.97}})
    result = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
                       centers=strict)
    assert result.plan_id is not None
    assert "service level 0.97 of ['LA', 'SEOUL'] lies above the forecast's highest quantile 0.9" in result.message


# A center new in the stream that the centers file does not list (and no [defaults]) failed the
# plan of every center, cycle after cycle, until the file was edited.
def test_the_plan_says_how_many_shifts_max_packers_capped_and_by_how_much(engine) -> None:
    # 2400 orders a day, flat: 800 per shift / 10 per hour / 8 h = 10 packers; capped at 8.
    store_forecast(engine, "r1", pd.date_range("2026-03-02", periods=1))
    capped = parse_centers({"defaults": {"shifts": SHIFTS, "orders_per_packer_hour": 10, "shrinkage": 0,
                                         "min_packers": 0, "max_packers": 8, "service_level": 0.5,
                                         "timezone": "Asia/Seoul"}})
    result = make_plan(engine, PlannerSettings(), "UTC", now=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), centers=capped)
    assert "6 shift(s) capped at max_packers, 12 packer(s) short of the need" in result.message
    assert "LA 2026-03-02 day: 8 of 10" in result.message


def test_the_cap_summary_counts_today_s_shifts_as_re_planned_and_says_how_to_book_them(engine) -> None:
    # The morning plan needs 10 per shift, under max_packers 11 (LA, on Sunday, too); Seoul runs at twice the forecast's
    # pace by 15:00, and its night shift, re-planned, needs 13: 11 booked. The summary was taken
    # before the re-plan and said nothing (nor how to book them when it did).
    store_forecast(engine, "r1", pd.date_range("2026-03-02", periods=3))
    capped = parse_centers({"defaults": {"shifts": SHIFTS, "orders_per_packer_hour": 10, "shrinkage": 0,
                                         "min_packers": 0, "max_packers": 11, "service_level": 0.5},
                            "centers": {"SEOUL": {"timezone": "Asia/Seoul"}}})
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-02 00:00", 15, 200)
    result = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
                       centers=capped)
    night = q.plan_frame(engine, result.plan_id).set_index(["center_id", "day", "shift"]).loc[
        ("SEOUL", pd.Timestamp("2026-03-02").date(), "night")]
    assert night["packers"] == 11 and night["packers_needed"] > 11
    assert (f"1 shift(s) capped at max_packers, {night['packers_needed'] - 11} packer(s) short of the need "
            f"(e.g. SEOUL 2026-03-02 night: 11 of {night['packers_needed']}); raise max_packers in the centers file"
            in result.message)


def test_a_center_missing_from_the_file_is_left_out_with_a_note_not_every_plan(engine) -> None:
    days = pd.date_range("2026-03-02", periods=3)
    store_forecast(engine, "r1", days)
    only_seoul = parse_centers({"centers": {"SEOUL": {"timezone": "Asia/Seoul", "shifts": SHIFTS}}})
    result = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
                       centers=only_seoul)
    assert result.plan_id is not None and "note: center(s) ['LA'] are not in the centers file" in result.message
    assert set(q.plan_frame(engine, result.plan_id)["center_id"]) == {"SEOUL"}
    nobody = parse_centers({"centers": {"BUSAN": {"shifts": SHIFTS}}})
    with pytest.raises(ValueError, match=r"center\(s\) \['LA', 'SEOUL'\] are not in the centers file"):
        make_plan(engine, PlannerSettings(), "Asia/Seoul", now=datetime(2026, 3, 2, 6, 0, tzinfo=UTC), centers=nobody)


def test_a_simulation_started_in_the_past_plans_from_its_own_run_not_a_newer_stamped_real_time_one(engine) -> None:
    """A simulated loop started in the past on a database holding a real-time loop's runs: the
    real-time champion (stamped by the wall clock, months after the simulated now) was the newest,
    so the simulation's plans were made from it and kept its booked packers."""
    store_forecast(engine, "sim", pd.date_range("2026-03-02", periods=3), median=1200.0)
    store_forecast(engine, "real", pd.date_range("2026-12-07", periods=3))
    with engine.begin() as conn:
        conn.execute(forecast_runs.update().where(forecast_runs.c.run_id == "real").values(
            created_at=datetime(2026, 12, 7, 4), status="champion"))
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    first = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=now, centers=CENTERS)
    assert q.current_forecast_run(engine)["run_id"] == "real"  # the newest champion, whatever its clock
    assert q.latest_plan_run(engine, now)["plan_id"] == first.plan_id
    assert q.latest_plan_run(engine, now)["forecast_run_id"] == "sim"
    assert set(q.plan_frame(engine, first.plan_id)["day"].astype(str)) >= {"2026-03-02", "2026-03-03"}
    # In real time (the wall clock after both) the newest run is used, as before.
    later = make_plan(engine, PlannerSettings(), "Asia/Seoul", now=datetime(2026, 12, 7, 6, tzinfo=UTC),
                      centers=CENTERS)
    assert q.latest_plan_run(engine)["plan_id"] == later.plan_id
    assert q.latest_plan_run(engine)["forecast_run_id"] == "real"


def test_the_orders_counted_on_a_closed_sunday_before_the_forecast_are_planned_on_mondays_first_shift(engine) -> None:
    # Seoul is closed on Sundays; the forecast starts on Monday. Sunday's orders (10 an hour) came all the same:
    # Saturday's night shift packed 00:00-06:00, the 180 after it wait for Monday's day shift, at 05:00 on Monday
    # (before it starts) with the 500 counted since midnight. They were in no shift.
    centers = parse_centers({
        "defaults": {"shifts": SHIFTS, "orders_per_packer_hour": 10, "shrinkage": 0, "min_packers": 0,
                     "service_level": 0.5, "closed_weekdays": ["Sun"], "timezone": "Asia/Seoul"},
        "centers": {"SEOUL": {}, "LA": {"timezone": "America/Los_Angeles"}},
    })
    store_forecast(engine, "r1", pd.date_range("2026-03-02", periods=2))
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-01 00:00", 24, 10)
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-02 00:00", 5, 100)  # Monday on the forecast's pace
    now = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # Monday 05:00 in Seoul
    plan = q.plan_frame(engine, make_plan(engine, PlannerSettings(), "Asia/Seoul", now=now,
                                          centers=centers).plan_id).set_index(["center_id", "day", "shift"])
    monday = pd.Timestamp("2026-03-02").date()
    # 180 waiting from Sunday + 500 so far + Monday's 05:00-06:00 and the day shift's own 8 hours (flat profile)
    assert plan.loc[("SEOUL", monday, "day"), "orders_planned"] == pytest.approx(180 + 500 + 2400 / 24 * 9, rel=2e-2)


def test_a_center_with_a_midday_gap_replans_its_second_shift_with_the_orders_counted_in_the_gap(engine) -> None:
    # Shifts 06-10 and 14-22 (session 20, i30-gaps; the file was refused). At 12:00 on Monday the 14:00 shift
    # packs the orders of 10:00-12:00 (counted per hour: 2 x 300) and 12:00-22:00. The 06:00 shift packed
    # Sunday's 22:00 on (it was open): nothing waits from Sunday but the orders of 22:00-06:00 it packs.
    centers = parse_centers({
        "defaults": {"shifts": [{"name": "am", "start": "06:00", "end": "10:00"},
                                {"name": "pm", "start": "14:00", "end": "22:00"}],
                     "orders_per_packer_hour": 10, "shrinkage": 0, "min_packers": 0, "service_level": 0.5,
                     "timezone": "Asia/Seoul"},
        "centers": {"SEOUL": {}},
    })
    store_forecast(engine, "r1", pd.date_range("2026-03-02", periods=2))
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-02 00:00", 10, 60)  # 600 by 10:00
    store_orders(engine, "SEOUL", "Asia/Seoul", "2026-03-02 10:00", 2, 300)  # 600 in the gap: 1200 on pace
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 12:00 in Seoul
    plan = q.plan_frame(engine, make_plan(engine, PlannerSettings(), "Asia/Seoul", now=now,
                                          centers=centers).plan_id).set_index(["center_id", "day", "shift"])
    monday = pd.Timestamp("2026-03-02").date()
    assert plan.loc[("SEOUL", monday, "pm"), "orders_planned"] == pytest.approx(600 + 2400 / 24 * 10, rel=2e-2)
