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


@pytest.mark.parametrize("values", [[1, 2, 3], [45000, 45001], [1700000000], [202513, 202501], [2000.5]],
                         ids=["steps", "excel-serial", "epoch", "month-13", "fraction"])
def test_other_numbers_are_still_refused_saying_how_to_write_dates(values) -> None:
    with pytest.raises(PanelError, match=r"not dates; write timestamps as YYYY-MM-DD .*YYYYMM for months"):
        parse_timestamps(pd.Series(values))
