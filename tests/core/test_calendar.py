"""Holiday flags from the maintained calendar: single holidays, blocks and the days before."""

import pandas as pd
import pytest

from fcplan.core.calendar import HOLIDAY_COLUMNS, holiday_features


def test_seollal_is_a_holiday_block_and_a_single_holiday_is_not():
    ds = pd.date_range("2025-01-23", "2025-03-01")
    flags = holiday_features(ds, "KR").set_index(ds)
    assert list(flags.columns) == HOLIDAY_COLUMNS
    seollal = pd.date_range("2025-01-27", "2025-01-30")  # with the extra holiday of 2025
    assert flags.loc[seollal, "holiday_block"].eq(1).all()
    assert flags.loc[pd.date_range("2025-01-24", "2025-01-26"), "pre_holiday_block"].eq(1).all()
    assert flags.loc["2025-01-23", "pre_holiday_block"] == 0
    assert flags.loc["2025-03-01", "holiday"] == 1 and flags.loc["2025-03-01", "holiday_block"] == 0
    assert flags.loc["2025-02-27", "pre_holiday"] == 1 and flags.loc["2025-02-27", "pre_holiday_block"] == 0


def test_weekly_periods_count_the_days_they_contain():
    weeks = pd.date_range("2025-01-22", periods=3, freq="W-WED")
    flags = holiday_features(weeks, "KR")
    assert flags["holiday_block"].tolist() == [2.0, 2.0, 0.0]  # Mon 27 .. Thu 30 Jan straddle two weeks
    assert flags["pre_holiday_block"].tolist() == [3.0, 0.0, 0.0]


def test_an_unknown_country_gets_a_clear_error():
    with pytest.raises(ValueError, match="unknown holiday country"):
        holiday_features(pd.date_range("2025-01-01", periods=3), "XX")


def test_a_region_adds_its_own_holidays_to_the_countrys():
    days = pd.date_range("2024-03-30", "2024-08-31")
    bank = pd.DatetimeIndex(["2024-04-01", "2024-08-26"])  # Easter Monday, late summer bank holiday
    uk = holiday_features(days, "GB").set_index(days)["holiday"]
    england = holiday_features(days, "GB-ENG").set_index(days)["holiday"]
    assert uk[bank].tolist() == [0.0, 0.0]  # not in Scotland, so not UK-wide
    assert england[bank].tolist() == [1.0, 1.0]


def test_an_unknown_region_gets_a_clear_error():
    with pytest.raises(ValueError, match="GB-ENG"):
        holiday_features(pd.date_range("2025-01-01", periods=3), "GB-XX")
