"""Inputs nobody listed: odd timestamps, ids and values, business-day and mixed-weekday
data, rows off the grid. Bad input is a PanelError saying how to fix it; good-but-unusual
input is read as a person would read it (no row lost, no silent garbage)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from fcplan.core.frequency import check_on_grid, infer_freq, season_length
from fcplan.core.panel import PanelError, future_index, parse_timestamps, validate_panel


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"unique_id": str})


def _panel(ds: list, ids: list | None = None) -> pd.DataFrame:
    ids = ids or ["a"] * len(ds)
    return pd.DataFrame({"unique_id": ids, "ds": ds, "y": np.arange(len(ds), dtype=float)})


# Integer dates 20250101 were read as nanoseconds since 1970 (the forecast dated 1970-01-01).
def test_integer_yyyymmdd_dates_are_dates_not_nanoseconds() -> None:
    panel = validate_panel(_csv("unique_id,ds,y\na,20250101,1\na,20250102,2\n"))
    assert panel["ds"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")]


def test_other_numeric_dates_are_rejected_with_the_layout_to_use() -> None:
    with pytest.raises(PanelError, match=r"numeric.*YYYY-MM-DD"):
        validate_panel(_panel([1735689600, 1735776000]))


# Day-first dates failed on the 13th ("doesn't match format %m/%d/%Y"), a 00:00:00 time on one
# row of date-only strings failed the whole file.
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["01/12/2025", "13/12/2025"], ["2025-12-01", "2025-12-13"]),
        (["2025-01-03", "2025-01-04 00:00:00"], ["2025-01-03", "2025-01-04"]),
        (["12/30/2025", "12/31/2025"], ["2025-12-30", "2025-12-31"]),
    ],
)
def test_common_date_layouts_are_read(values: list[str], expected: list[str]) -> None:
    assert parse_timestamps(pd.Series(values)).tolist() == [pd.Timestamp(v) for v in expected]


# The engine validates each model's training frame: to_datetime on timestamps it already
# held cost ~8 ms a call on a 34 x 365 panel (pandas' cache check iterates the values).
def test_timestamps_are_kept_without_parsing_them_again(monkeypatch: pytest.MonkeyPatch) -> None:
    values = pd.Series([pd.Timestamp("2025-01-03"), pd.NaT, pd.Timestamp("2025-01-05 06:00")]).astype("datetime64[us]")

    def parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(pd, "to_datetime", parse)
    out = parse_timestamps(values)
    assert out.dtype == "datetime64[ns]" and out.isna().tolist() == [False, True, False]
    assert out.dropna().tolist() == [pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-05 06:00")]


def test_unreadable_dates_name_a_bad_value_and_the_layout() -> None:
    with pytest.raises(PanelError, match=r"'garbage'.*YYYY-MM-DD"):
        validate_panel(_panel(["2025-01-01", "garbage"]))


# Offsets that change with daylight saving time failed with pandas' "Mixed timezones detected".
def test_changing_utc_offsets_keep_the_local_wall_clock() -> None:
    values = pd.Series(["2025-03-09T01:00:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"])
    assert parse_timestamps(values).dt.hour.tolist() == [1, 3, 4]


# A row without an id became the series "nan" and crashed the backtest with a traceback.
def test_a_row_without_an_id_is_rejected_with_its_line() -> None:
    frame = _csv("unique_id,ds,y\na,2025-01-01,1\n,2025-01-02,2\n")
    with pytest.raises(PanelError, match=r"unique_id is empty in 1 row.*\[3\]"):
        validate_panel(frame)


# inf was accepted, and the models fell back to "far outside their history" without a word.
@pytest.mark.parametrize("column", ["y", "promo"])
def test_infinite_values_are_rejected(column: str) -> None:
    frame = _panel(["2025-01-01", "2025-01-02"]).assign(promo=0.0)
    frame.loc[1, column] = np.inf
    with pytest.raises(PanelError, match=f"{column} has 1 infinite"):
        validate_panel(frame)


# A history whose y column is empty in every row gave a forecast of zeros.
def test_a_history_without_any_target_value_is_rejected() -> None:
    with pytest.raises(PanelError, match="y is empty in every row"):
        validate_panel(_panel(["2025-01-01", "2025-01-02"]).assign(y=np.nan))


def test_a_history_with_no_rows_says_so() -> None:
    with pytest.raises(PanelError, match="no rows"):
        infer_freq(validate_panel(_csv("unique_id,ds,y\n")))


# Business-day data was inferred as "D" and forecast Saturdays and Sundays.
def test_weekday_only_data_is_business_daily() -> None:
    ds = pd.bdate_range("2025-01-06", periods=20)
    panel = validate_panel(_panel(list(ds)))
    assert infer_freq(panel) == "B"
    assert season_length("B") == 5
    future = future_index(panel, 2, "B")
    assert future["ds"].tolist() == [pd.Timestamp("2025-02-03"), pd.Timestamp("2025-02-04")]


def test_daily_data_with_weekends_stays_daily() -> None:
    assert infer_freq(validate_panel(_panel(list(pd.date_range("2025-01-06", periods=20))))) == "D"


# Weekly series on different weekdays were all put on the first row's weekday: the Wednesday
# series was forecast on Mondays (and its rows were off the W-MON grid).
def test_weekly_series_on_different_weekdays_each_keep_their_own() -> None:
    mondays = list(pd.date_range("2025-01-06", periods=6, freq="7D"))
    wednesdays = list(pd.date_range("2025-01-08", periods=6, freq="7D"))
    panel = validate_panel(_panel(mondays + wednesdays, ["a"] * 6 + ["b"] * 6))
    freq = infer_freq(panel)
    assert freq == "7D"
    assert season_length(freq) == 52
    check_on_grid(panel, freq)
    future = future_index(panel, 1, freq).set_index("unique_id")["ds"]
    assert future["a"].day_name() == "Monday"
    assert future["b"].day_name() == "Wednesday"


# A row off its series' grid (another time of day) was dropped by the models without a word.
def test_a_row_off_the_grid_is_rejected_with_the_fix() -> None:
    ds = list(pd.date_range("2025-01-01 03:00", periods=10, freq="D"))
    ds[4] = pd.Timestamp("2025-01-05 00:00")
    panel = validate_panel(_panel(ds))
    with pytest.raises(PanelError, match=r"1 row.*off the D grid.*2025-01-05"):
        check_on_grid(panel, infer_freq(panel))


@pytest.mark.parametrize("freq", ["D", "h", "ME", "QS", "B", "W-WED"])
def test_regular_data_with_gaps_is_on_the_grid(freq: str) -> None:
    ds = pd.date_range("2024-01-03", periods=30, freq=freq).delete([3, 4, 10])
    check_on_grid(validate_panel(_panel(list(ds))), freq)


# Fiscal quarters and years (quarters from February, years from July) were fixed 92D / 365D
# steps: most rows off that grid and dropped. Monthly data on the 15th was a 31D grid (the same).
@pytest.mark.parametrize(
    ("freq", "start", "expected"),
    [("QS-FEB", "2001-02-01", "QS-FEB"), ("QE-NOV", "2001-02-28", "QE-NOV"), ("YS-JUL", "2001-07-01", "YS-JUL"),
     ("YE-JUN", "2001-06-30", "YE-JUN")],
)
def test_fiscal_quarters_and_years_keep_their_anchor(freq: str, start: str, expected: str) -> None:
    panel = validate_panel(_panel(list(pd.date_range(start, periods=12, freq=freq))))
    assert infer_freq(panel) == expected
    check_on_grid(panel, expected)


def test_monthly_data_mid_month_says_how_to_date_it() -> None:
    panel = validate_panel(_panel(list(pd.date_range("2001-01-01", periods=12, freq="MS") + pd.Timedelta(days=14))))
    with pytest.raises(PanelError, match=r"day 15 of each month.*first day"):
        infer_freq(panel)


# y = 1e308 (a unit error) overflowed the models' squared losses: `fcplan forecast` ended on a bare
# AssertionError in the ensemble's weight search.
@pytest.mark.parametrize("value", [1e308, -1e150])
def test_values_too_large_to_compute_with_are_rejected_naming_the_column(value: float) -> None:
    panel = _panel(["2025-01-01", "2025-01-02"]).assign(y=[1.0, value])
    with pytest.raises(PanelError, match=r"history\.y has 1 value\(s\) beyond \+-1e\+100.*rescale"):
        validate_panel(panel)


# Up to 1e100 the squares (1e200) stay finite: such a panel is read.
def test_large_but_computable_values_are_read() -> None:
    assert validate_panel(_panel(["2025-01-01", "2025-01-02"]).assign(y=[1.0, 1e99]))["y"].iloc[1] == 1e99
