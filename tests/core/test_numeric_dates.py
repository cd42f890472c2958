"""``ds`` written as whole numbers: YYYYMMDD, YYYYMM and YYYY (session 19, i29-probe).

A yearly panel written ``2000, 2001, ...`` or a monthly one written ``202501, 202502, ...`` (as many
exports write them) was "ds is numeric, not dates"; now they are the year's and the month's first day."""

from __future__ import annotations

import pandas as pd
import pytest

from fcplan.core.panel import PanelError, parse_timestamps


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2000, 2001, 2002], ["2000-01-01", "2001-01-01", "2002-01-01"]),
        ([202511, 202512, 202601], ["2025-11-01", "2025-12-01", "2026-01-01"]),
        ([20251130, 20251201], ["2025-11-30", "2025-12-01"]),
        ([2000.0, float("nan"), 2002.0], ["2000-01-01", None, "2002-01-01"]),
    ],
    ids=["years", "year-months", "yyyymmdd", "years-with-a-hole"],
)
def test_whole_numbers_written_as_dates_are_read_as_dates(values, expected) -> None:
    got = parse_timestamps(pd.Series(values))
    assert got.tolist() == [pd.Timestamp(e) if e else pd.NaT for e in expected]


@pytest.mark.parametrize("values", [[1, 2, 3], [45000, 45001], [1700000000], [2000.5], [202501, 202599]],
                         ids=["steps", "excel-serial", "epoch", "fraction", "month-99"])
def test_other_numbers_are_still_refused_saying_how_to_write_dates(values) -> None:
    with pytest.raises(PanelError, match=r"not dates; write timestamps as YYYY-MM-DD .*YYYYMM for months"):
        parse_timestamps(pd.Series(values))


# session 20, i30-probe: year-week numbers and step counters that looked like dates


def test_year_week_numbers_are_refused_with_the_date_to_write() -> None:
    """202501..202530 (YYYYWW) was "numeric, not dates ... YYYYMM for months": no word of weeks."""
    with pytest.raises(PanelError, match=r"year and week numbers \(YYYYWW, e.g. 202513\).*Monday 2025-03-24"):
        parse_timestamps(pd.Series([202501 + i for i in range(30)]))


def test_the_first_weeks_of_a_year_read_as_months_are_warned(caplog) -> None:
    """202501..202510 (the first ten weeks of 2025, or ten months) was read as months without a word."""
    got = parse_timestamps(pd.Series([202501 + i for i in range(10)]))
    assert got.iloc[-1] == pd.Timestamp("2025-10-01")
    assert "read as months" in caplog.text and "YYYYWW" in caplog.text


def test_months_across_years_are_read_without_a_warning(caplog) -> None:
    parse_timestamps(pd.Series([202411, 202412, 202501]))
    assert "YYYYWW" not in caplog.text


def test_a_step_counter_in_the_years_range_is_not_read_as_centuries() -> None:
    """ds 1700..2261 (562 steps) was read as 562 years, 1700-01-01 to 2261-01-01, without a word."""
    with pytest.raises(PanelError, match="not dates"):
        parse_timestamps(pd.Series(range(1700, 2262)))


def test_a_counter_below_the_years_range_is_not_called_a_year_out_of_range() -> None:
    """ds 1001..1500 said 'outside 1677-09-21 to 2262-04-11 ...; check the years in ds'."""
    with pytest.raises(PanelError, match=r"is numeric .* not dates"):
        parse_timestamps(pd.Series(range(1001, 1501)))
