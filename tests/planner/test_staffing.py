from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from fcplan.core.settings import CenterParams, PlannerSettings
from fcplan.planner import headcount, interpolate_quantile, plan_staffing
from fcplan.planner.staffing import cheapest_headcount

LEVELS = ("0.05", "0.1", "0.5", "0.9", "0.95")


@pytest.fixture
def make_forecast() -> Callable[..., pd.DataFrame]:
    """Factory: a one-model forecast frame; ``quantiles`` maps level name -> daily orders."""

    def make(quantiles: dict[str, float] | None = None, centers: tuple[str, ...] = ("FC1",),
             days: int = 2, model: str = "ensemble") -> pd.DataFrame:
        quantiles = quantiles or {"0.05": 600.0, "0.1": 700.0, "0.5": 1000.0, "0.9": 1300.0, "0.95": 1400.0}
        rows = [
            {"unique_id": c, "ds": ds, "model": model, **quantiles}
            for c in centers
            for ds in pd.date_range("2024-05-01", periods=days, freq="D")
        ]
        return pd.DataFrame(rows)

    return make


def shares_for(*centers: str, split: dict[str, float] | None = None) -> pd.DataFrame:
    split = split or {"day": 0.5, "swing": 0.3, "night": 0.2}
    return pd.DataFrame([{"unique_id": c, "shift": s, "share": v} for c in centers for s, v in split.items()])


def test_when_costs_are_default_then_the_service_quantile_is_three_quarters() -> None:
    params = CenterParams.from_settings(PlannerSettings())
    assert params.service_quantile == pytest.approx(0.75)
    assert params.productive_hours == pytest.approx(6.8)


def test_when_the_quantile_is_median_then_headcount_matches_the_hand_computation(make_forecast) -> None:
    # Median day 1000 orders; day share 0.5 -> 500 orders * 2 min / 60 = 16.67 h;
    # one packer packs 8 h * (1 - 0.15) = 6.8 h -> 2.45 -> 3 packers.
    params = CenterParams(cost_short=1.0, cost_idle=1.0)
    plan = plan_staffing(make_forecast(days=1), shares_for("FC1"), params)
    day = plan.set_index("shift").loc["day"]
    assert day["orders_planned"] == pytest.approx(500.0)
    assert day["packer_hours"] == pytest.approx(500 * 2 / 60)
    assert day["packers"] == 3
    assert plan["shift"].tolist() == ["day", "swing", "night"]
    # swing 300 orders -> 10 h -> 1.47 -> 2; night 200 -> 6.67 h -> 0.98 -> 1.
    assert plan["packers"].tolist() == [3, 2, 1]


def test_when_shortage_costs_more_than_idle_then_plan_covers_a_high_quantile(make_forecast) -> None:
    # tau = 9/(9+1) = 0.9 -> the 0.9 column: 1300 orders; day 650 -> 21.67 h / 6.8 -> 3.19 -> 4.
    params = CenterParams(cost_short=9.0, cost_idle=1.0)
    plan = plan_staffing(make_forecast(days=1), shares_for("FC1"), params)
    day = plan.set_index("shift").loc["day"]
    assert day["orders_planned"] == pytest.approx(650.0)
    assert day["orders_median"] == pytest.approx(500.0)
    assert day["packers"] == 4


def test_when_tau_falls_between_levels_then_the_quantile_is_interpolated_linearly(make_forecast) -> None:
    # tau = 0.7: halfway between 0.5 (1000) and 0.9 (1300) -> 1150.
    plan = plan_staffing(make_forecast(days=1), shares_for("FC1", split={"all": 1.0}),
                         CenterParams(cost_short=7.0, cost_idle=3.0))
    assert plan["orders_planned"].iloc[0] == pytest.approx(1150.0)


def test_when_tau_is_beyond_the_outermost_level_then_it_is_clamped(make_forecast) -> None:
    plan = plan_staffing(make_forecast(days=1), shares_for("FC1", split={"all": 1.0}),
                         CenterParams(cost_short=99.0, cost_idle=1.0))
    assert plan["orders_planned"].iloc[0] == pytest.approx(1400.0)


def test_when_shortage_cost_rises_then_packers_never_fall(make_forecast) -> None:
    forecast, shares = make_forecast(days=3), shares_for("FC1")
    totals = [
        plan_staffing(forecast, shares, CenterParams(cost_short=c, cost_idle=1.0))["packers"].sum()
        for c in (0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 50.0)
    ]
    assert totals == sorted(totals)
    assert totals[-1] > totals[0]


def test_when_demand_is_tiny_then_min_packers_is_booked(make_forecast) -> None:
    forecast = make_forecast({"0.1": 0.0, "0.5": 1.0, "0.9": 2.0}, days=1)
    plan = plan_staffing(forecast, shares_for("FC1"), CenterParams(min_packers=2))
    assert plan["packers"].tolist() == [2, 2, 2]


def test_when_packer_hours_fill_whole_shifts_exactly_then_no_extra_packer_is_booked() -> None:
    params = CenterParams(shift_hours=8.0, shrinkage=0.0)
    hours = np.array([16.0, 16.0 + 1e-12, 16.01])
    assert headcount(hours, params.productive_hours, params.min_packers).tolist() == [2, 2, 3]
    assert headcount(0.1 + 0.2 - 0.3, CenterParams().productive_hours, 0) == 0


def test_when_quantiles_cross_then_they_are_sorted_before_interpolating() -> None:
    values = np.array([[10.0, 5.0, 20.0]])
    out = interpolate_quantile(values, np.array([0.1, 0.5, 0.9]), 0.5)
    assert out.tolist() == [10.0]


def test_when_centers_have_their_own_params_then_each_uses_its_own(make_forecast) -> None:
    forecast = make_forecast(centers=("A", "B"), days=1)
    params = {"A": CenterParams(minutes_per_order=1.0), "B": CenterParams(minutes_per_order=4.0)}
    plan = plan_staffing(forecast, shares_for("A", "B"), params).set_index(["unique_id", "shift"])
    assert plan.loc[("B", "day"), "packer_hours"] == pytest.approx(4 * plan.loc[("A", "day"), "packer_hours"])


def test_when_the_plan_is_made_then_it_has_one_row_per_center_day_and_shift(make_forecast) -> None:
    plan = plan_staffing(make_forecast(centers=("A", "B"), days=4), shares_for("A", "B"), CenterParams())
    assert list(plan.columns) == ["unique_id", "ds", "shift", "orders_median", "orders_planned",
                                  "packer_hours", "packers"]
    assert len(plan) == 2 * 4 * 3
    assert plan["packers"].dtype == np.int64
    expected = np.maximum(1, np.ceil(plan["packer_hours"] / 6.8 - 1e-9))
    assert (plan["packers"] == expected).all()


def test_when_quantile_columns_are_missing_then_the_error_says_how_they_are_named() -> None:
    forecast = pd.DataFrame({"unique_id": ["A"], "ds": [pd.Timestamp("2024-01-01")], "yhat": [3.0]})
    with pytest.raises(ValueError, match=r'no quantile columns.*"0.5"'):
        plan_staffing(forecast, shares_for("A"), CenterParams())


def test_when_shares_lack_a_forecast_center_then_the_error_names_it(make_forecast) -> None:
    with pytest.raises(ValueError, match=r"no shifts for center\(s\) \['B'\]"):
        plan_staffing(make_forecast(centers=("A", "B")), shares_for("A"), CenterParams())


def test_when_shares_do_not_sum_to_one_then_the_plan_is_refused(make_forecast) -> None:
    with pytest.raises(ValueError, match="sum to 1 per center"):
        plan_staffing(make_forecast(), shares_for("FC1", split={"day": 0.5, "night": 0.2}), CenterParams())


def test_when_params_lack_a_center_then_the_error_names_it(make_forecast) -> None:
    with pytest.raises(ValueError, match=r"params lack center\(s\) \['B'\]"):
        plan_staffing(make_forecast(centers=("A", "B")), shares_for("A", "B"), {"A": CenterParams()})


def test_when_the_forecast_holds_several_models_without_ensemble_then_one_must_be_named(
    make_forecast,
) -> None:
    forecast = pd.concat([make_forecast(model="ets"), make_forecast({"0.5": 5.0}, model="naive")])
    with pytest.raises(ValueError, match="pass model="):
        plan_staffing(forecast, shares_for("FC1"), CenterParams())
    plan = plan_staffing(forecast, shares_for("FC1"), CenterParams(), model="naive")
    assert len(plan) == 2 * 3
    assert plan["orders_median"].sum() == pytest.approx(2 * 5.0)


def test_when_the_forecast_holds_an_ensemble_among_models_then_the_ensemble_is_planned(make_forecast) -> None:
    forecast = pd.concat([make_forecast({"0.5": 5.0}, model="ets"), make_forecast(model="ensemble")])
    plan = plan_staffing(forecast, shares_for("FC1", split={"all": 1.0}), CenterParams())
    assert plan["orders_median"].tolist() == pytest.approx([1000.0, 1000.0])


def test_when_params_are_out_of_range_then_they_are_refused() -> None:
    with pytest.raises(ValueError, match="shrinkage"):
        CenterParams(shrinkage=1.0)


def test_when_the_plan_is_pure_then_inputs_are_left_untouched(make_forecast) -> None:
    forecast, shares = make_forecast(), shares_for("FC1")
    before = (forecast.copy(), shares.copy())
    plan_staffing(forecast, shares, CenterParams())
    pd.testing.assert_frame_equal(forecast, before[0])
    pd.testing.assert_frame_equal(shares, before[1])
    assert math.isclose(CenterParams().service_quantile, 0.75)


def test_when_a_center_has_overrides_then_only_that_center_uses_them() -> None:
    from fcplan.core.settings import PlannerSettings

    settings = PlannerSettings(center_overrides={"FC-B": {"minutes_per_order": 4.0, "min_packers": 2}})
    params = CenterParams.per_center(settings, ["FC-A", "FC-B"])
    assert params["FC-A"] == CenterParams.from_settings(settings)
    assert params["FC-B"].minutes_per_order == 4.0
    assert params["FC-B"].min_packers == 2
    assert params["FC-B"].shrinkage == settings.shrinkage


def test_when_an_override_names_an_unknown_field_then_the_error_lists_the_known_ones() -> None:
    from fcplan.core.settings import PlannerSettings

    settings = PlannerSettings(center_overrides={"FC-B": {"minutes_per_ordr": 4.0}})
    with pytest.raises(ValueError, match="minutes_per_ordr"):
        CenterParams.per_center(settings, ["FC-B"])


def test_whole_packers_are_the_cheapest_of_all_headcounts_not_always_the_ceiling() -> None:
    rng = np.random.default_rng(3)
    rounded_down = 0
    for _ in range(200):
        mean, sd, cap = rng.uniform(5, 60), rng.uniform(0.5, 10), rng.uniform(4, 8)
        short, idle = rng.uniform(0.5, 4), 1.0
        hours = np.sort(np.maximum(rng.normal(mean, sd, 4000), 0.0))
        planned = np.quantile(hours, short / (short + idle))
        got = int(cheapest_headcount(hours[None, :], np.array([cap]), np.array([planned]), short, idle)[0])

        gaps = hours[None, :] - np.arange(40)[:, None] * cap  # every headcount 0..39
        costs = np.mean(short * np.maximum(gaps, 0) + idle * np.maximum(-gaps, 0), axis=1)
        assert costs[got] == pytest.approx(costs.min())
        rounded_down += got < np.ceil(planned / cap)
    assert rounded_down > 0  # the ceiling is not always the cheapest


def test_the_cheapest_headcount_keeps_the_minimum() -> None:
    assert cheapest_headcount(np.zeros((1, 10)), np.array([8.0]), np.array([0.0]), 3.0, 1.0, 2)[0] == 2


# ------------------------------------------------------------------ daylight-saving days
def _dst_plan(days: pd.DatetimeIndex, zone: str = "America/New_York") -> pd.DataFrame:
    from fcplan.planner.shifts import parse_shifts

    flat = dict.fromkeys(LEVELS, 600.0)  # 600 orders a day at every level: 200 a shift, 7.5 packer-hours
    forecast = pd.DataFrame([{"unique_id": "FC1", "ds": d, **flat} for d in days])
    shares = shares_for("FC1", split={"day": 1 / 3, "swing": 1 / 3, "night": 1 / 3})
    params = CenterParams(minutes_per_order=2.25, shift_hours=8.0, shrinkage=0.0, min_packers=0)
    return plan_staffing(forecast, shares, params, shifts=parse_shifts(["day:6-14", "swing:14-22", "night:22-6"]),
                         zones={"FC1": zone})


def test_a_shift_shortened_by_a_daylight_saving_change_plans_on_its_real_length() -> None:
    """The night shift that starts the evening before a spring-forward change lasts 7 hours: 7.5
    packer-hours then need 2 packers (1 on other nights and on the fall-back night, whose ninth
    hour is not paid beyond the 8 configured), as the crew planner counts it
    (:meth:`CenterConfig.productive_hours`)."""
    days = pd.DatetimeIndex(["2026-03-06", "2026-03-07", "2026-03-08", "2026-10-31"])
    plan = _dst_plan(days).set_index(["ds", "shift"])
    assert plan["packer_hours"].round(9).eq(7.5).all()
    nights = plan.xs("night", level="shift")["packers"]
    assert nights.to_dict() == {pd.Timestamp("2026-03-06"): 1, pd.Timestamp("2026-03-07"): 2,
                                pd.Timestamp("2026-03-08"): 1, pd.Timestamp("2026-10-31"): 1}
    assert plan.xs("day", level="shift")["packers"].eq(1).all()


def test_the_shift_length_on_a_day_is_the_crew_planners() -> None:
    from fcplan.planner.centers import CenterConfig, ShiftConfig
    from fcplan.planner.shifts import shift_length

    center = CenterConfig(center_id="FC1", timezone="America/New_York",
                          shifts=[ShiftConfig(name="day", start=6, end=18), ShiftConfig(name="night", start=18, end=6)])
    for day in pd.date_range("2026-03-06", "2026-03-09").append(pd.date_range("2026-10-30", "2026-11-02")):
        for s in center.shifts:
            assert center.shift_hours(s, day) == shift_length("America/New_York", s.start, s.end, day)
    assert center.shift_hours(center.shifts[1], pd.Timestamp("2026-03-07")) == 11.0


def test_shifts_without_zones_is_an_error_that_says_what_to_pass() -> None:
    from fcplan.planner.shifts import parse_shifts

    forecast = pd.DataFrame([{"unique_id": "FC1", "ds": pd.Timestamp("2026-03-07"), **dict.fromkeys(LEVELS, 600.0)}])
    with pytest.raises(ValueError, match="zones="):
        plan_staffing(forecast, shares_for("FC1"), CenterParams(),
                      shifts=parse_shifts(["day:6-14", "swing:14-22", "night:22-6"]))
