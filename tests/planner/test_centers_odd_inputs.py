"""Centers files nobody listed (round 2): TOML's inf and nan, extreme cost ratios, a stray
center_id, shift names in other scripts or longer than the plan table holds, weekday and
country spellings, typos, and scales that overflowed into negative packers. Each is either
read as a person means it or refused with the center, the field and the fix."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from fcplan.core.panel import PanelError
from fcplan.core.settings import PlannerSettings
from fcplan.planner.centers import CentersError, centers_from_settings, parse_centers
from fcplan.planner.crews import plan_crews


def _centers(text: str):
    return parse_centers(tomllib.loads(text), source="centers.toml")


def _error(text: str) -> str:
    with pytest.raises(CentersError) as info:
        _centers(text)
    return str(info.value)


def _plan(conf, high: float = 1200.0) -> pd.DataFrame:
    forecast = pd.DataFrame({"unique_id": conf.center_id, "ds": pd.date_range("2026-03-07", periods=2),
                             "0.1": 800.0, "0.5": 1000.0, "0.9": high})
    return plan_crews(forecast, {conf.center_id: conf}, {})


# `inf` and `nan` are valid TOML floats: cost_short = inf crashed the plan (IndexError) and
# orders_per_packer_hour = inf planned min_packers whatever the orders.
@pytest.mark.parametrize(
    ("line", "field"),
    [("cost_short = inf\ncost_idle = 1", "cost_short"), ("orders_per_packer_hour = inf", "orders_per_packer_hour"),
     ("shrinkage = nan", "shrinkage"), ("service_level = nan", "service_level")],
)
def test_inf_and_nan_are_refused_by_field(line: str, field: str) -> None:
    assert f"field {field}: must be a finite number" in _error(f"[defaults]\n{line}\n")


def test_a_shift_with_an_infinite_break_is_refused_by_field() -> None:
    text = '[defaults]\n[[defaults.shifts]]\nname = "all"\nstart = 0\nend = 24\nbreak_minutes = inf\n'
    assert "field shifts[0].break_minutes: must be a finite number" in _error(text)


# cost_short = 1e300, cost_idle = 1e-300 planned on the demand "quantile" 1.0 (and 1e-300 / 1e300 on 0.0).
@pytest.mark.parametrize(("short", "idle"), [("1e300", "1e-300"), ("1e-300", "1e300")])
def test_a_cost_ratio_that_leaves_no_quantile_is_refused(short: str, idle: str) -> None:
    message = _error(f"[defaults]\ncost_short = {short}\ncost_idle = {idle}\n")
    assert "strictly between 0 and 1" in message and "center '(defaults)'" in message


# center_id in a table failed with "CenterConfig() got multiple values for keyword argument".
@pytest.mark.parametrize("text", ['[centers."A"]\ncenter_id = "B"\n', '[defaults]\ncenter_id = "B"\n'])
def test_a_center_id_field_says_the_id_is_the_table_name(text: str) -> None:
    message = _error(text)
    assert "field center_id" in message and "remove the center_id field" in message
    assert "multiple values" not in message


# A shift named "day shift", "주간" (Korean) or "a:b" was refused with "shift 'day shift:0-24' must
# look like name:start-end": a syntax the TOML file never used.
@pytest.mark.parametrize("name", ["day shift", "주간", "a:b", "-x"])
def test_a_shift_name_can_be_any_text(name: str) -> None:
    conf = _centers(f'[defaults]\n[[defaults.shifts]]\nname = "{name}"\nstart = 0\nend = 24\n')["FC-1"]
    assert [s.name for s in conf.shifts] == [name]
    assert _plan(conf)["shift"].tolist() == [name, name]


# A 40-character shift name was accepted, then every plan failed on PostgreSQL
# (staffing_plans.shift is VARCHAR(32)): the retrain-and-plan loop could never store one.
def test_a_shift_name_longer_than_the_plan_table_holds_is_refused() -> None:
    message = _error(f'[defaults]\n[[defaults.shifts]]\nname = "{"n" * 40}"\nstart = 0\nend = 24\n')
    assert "field shifts[0].name" in message and "32" in message


def test_an_empty_shift_list_says_to_add_shift_tables() -> None:
    assert "add [[shifts]] tables" in _error("[defaults]\nshifts = []\n")


# "Saturn" and "Monkey" were read as Sat and Mon (the first three letters); "Tues"/"Thurs" still work.
def test_weekdays_are_prefixes_of_day_names_not_any_word() -> None:
    assert "'Saturn' is not a weekday" in _error('[defaults]\nclosed_weekdays = ["Saturn"]\n')
    conf = _centers('[defaults]\nclosed_weekdays = ["Tues", "thurs", "SUNDAY"]\n')["FC-1"]
    assert conf.closed_weekdays == ("Tue", "Thu", "Sun")


# TOML has no null: a center that keeps no public holidays could not say so ("" was refused).
def test_an_empty_holiday_country_means_no_holidays_and_codes_are_read_in_any_case() -> None:
    centers = _centers('[defaults]\nholiday_country = "KR"\n[centers."A"]\nholiday_country = ""\n'
                       '[centers."B"]\nholiday_country = "us"\n')
    assert centers["A"].holiday_country is None
    assert centers["B"].holiday_country == "US"
    assert '"" for no public holidays' in _error('[defaults]\nholiday_country = "XX"\n')


def test_typos_get_the_closest_name() -> None:
    assert 'did you mean "shrinkage"' in _error("[defaults]\nshrinkge = 0.1\n")
    shift = '[defaults]\n[[defaults.shifts]]\nname = "a"\nstart = 0\nend = 24\npaid_hour = 8\n'
    assert 'did you mean "paid_hours"' in _error(shift)
    assert 'did you mean "Asia/Seoul"' in _error('[defaults]\ntimezone = "Asia/Seul"\n')
    assert "center_id" not in _error("[defaults]\nshrinkge = 0.1\n")  # not a field a table may set


# A productivity of 1e-300 or a forecast of 1e30 orders planned -9223372036854775808 packers
# (a float past int64 cast to int64); min_packers = 2**63 - 1 did the same.
def test_an_absurd_scale_is_an_error_not_negative_packers() -> None:
    conf = _centers("[defaults]\norders_per_packer_hour = 1e-300\n")["FC-1"]
    with pytest.raises(PanelError, match=r"center 'FC-1', 2026-03-07, shift 'day': the plan needs .* packers"):
        _plan(conf)
    with pytest.raises(PanelError, match="check the forecast's scale"):
        _plan(_centers("[defaults]\nshrinkage = 0.1\n")["FC-1"], high=1e30)
    assert "field min_packers" in _error("[defaults]\nmin_packers = 9223372036854775807\n")


# FCPLAN_PLANNER_SHIFTS="day:6-14,night:14-6x" said "shift 'night:14-6x' must look like name:start-end"
# without naming the variable it came from.
@pytest.mark.parametrize(("shifts", "expected"), [(("day:6-14", "night:14-6x"), "must look like"),
                                                 (("day:6-14", "night:13-5"), "13 are covered by both day and night")])
def test_a_bad_shifts_variable_is_named(shifts: tuple[str, ...], expected: str) -> None:
    with pytest.raises(CentersError) as info:
        centers_from_settings(PlannerSettings(shifts=shifts), "Asia/Seoul")
    assert str(info.value).startswith("FCPLAN_PLANNER_SHIFTS=") and expected in str(info.value)


# {"FC-1": {"min_packers": 2.5}} in FCPLAN_PLANNER_CENTER_OVERRIDES was planned as 2 without a word.
def test_a_fractional_min_packers_override_is_refused_not_truncated() -> None:
    cfg = PlannerSettings(center_overrides={"FC-1": {"min_packers": 2.5}})
    with pytest.raises(CentersError, match=r"center 'FC-1', field min_packers: .*fractional part"):
        centers_from_settings(cfg, "Asia/Seoul")
    assert centers_from_settings(PlannerSettings(center_overrides={"FC-1": {"min_packers": 2.0}}),
                                 "Asia/Seoul")["FC-1"].min_packers == 2
