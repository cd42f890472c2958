"""The panel shape: validation errors say what is wrong; frequencies and future rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.core.frequency import infer_freq
from fcplan.core.panel import PanelError, future_index, validate_future, validate_panel
from fcplan.core.quantiles import parse_quantiles, quantile_columns, sort_quantiles


def make_panel(ids=("a", "b"), start="2024-01-01", periods=5, freq="D", **covariates) -> pd.DataFrame:
    """A small long panel: every id gets ``periods`` rows from ``start``."""
    parts = []
    for i, uid in enumerate(ids):
        ds = pd.date_range(start, periods=periods, freq=freq)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.arange(periods, dtype=float) + i}))
    frame = pd.concat(parts, ignore_index=True)
    for name, value in covariates.items():
        frame[name] = value
    return frame


def test_a_valid_panel_comes_back_sorted_with_normalised_types() -> None:
    frame = make_panel().sample(frac=1.0, random_state=0)
    frame["unique_id"] = frame["unique_id"].map({"a": 1, "b": 2})
    frame["y"] = frame["y"].astype(int)
    out = validate_panel(frame)
    assert out["unique_id"].tolist() == ["1"] * 5 + ["2"] * 5
    assert out.equals(out.sort_values(["unique_id", "ds"]).reset_index(drop=True))
    assert out["y"].dtype == np.float64
    assert out["ds"].dtype == "datetime64[ns]"


def test_tz_aware_timestamps_become_naive() -> None:
    frame = make_panel(ids=("a",))
    frame["ds"] = frame["ds"].dt.tz_localize("Asia/Seoul")
    out = validate_panel(frame)
    assert out["ds"].dt.tz is None
    assert out["ds"].iloc[0] == pd.Timestamp("2024-01-01")


def test_duplicate_rows_are_counted_and_shown_with_a_fix() -> None:
    frame = make_panel(ids=("a",))
    frame = pd.concat([frame, frame.iloc[[1, 2]]], ignore_index=True)
    with pytest.raises(PanelError) as info:
        validate_panel(frame)
    message = str(info.value)
    assert "4 duplicate (unique_id, ds) rows" in message
    assert "'unique_id': 'a'" in message
    assert "aggregate them" in message


def test_duplicates_in_an_already_sorted_panel_are_still_rejected() -> None:
    frame = make_panel(ids=("a", "b"))
    frame = pd.concat([frame, frame.iloc[[2]]]).sort_values(["unique_id", "ds"], kind="stable")
    with pytest.raises(PanelError, match="2 duplicate"):
        validate_panel(frame.reset_index(drop=True))


def test_a_sorted_panel_comes_back_as_the_sort_would_give_it() -> None:
    frame = make_panel(ids=("a", "b"), promo=1)
    frame["y"] = frame["y"].astype(int)
    shuffled = validate_panel(frame.sample(frac=1.0, random_state=1).reset_index(drop=True))
    in_order = validate_panel(frame.set_axis(range(10, 20)))
    pd.testing.assert_frame_equal(in_order, shuffled)
    assert in_order["promo"].dtype == "float64" and in_order.index.equals(pd.RangeIndex(10))


def test_a_blank_id_in_a_sorted_panel_is_rejected() -> None:
    frame = make_panel(ids=(" ", "a"))
    with pytest.raises(PanelError, match="unique_id is empty in 5 row"):
        validate_panel(frame)


def test_missing_columns_are_named_along_with_the_columns_present() -> None:
    frame = make_panel().rename(columns={"ds": "date", "y": "orders"})
    with pytest.raises(PanelError) as info:
        validate_panel(frame, name="history")
    message = str(info.value)
    assert "history lacks column(s) ['ds', 'y']" in message
    assert "'date'" in message and "'orders'" in message


def test_a_future_frame_needs_no_target() -> None:
    frame = make_panel().drop(columns="y")
    assert "y" not in validate_panel(frame, require_target=False).columns


def test_a_non_numeric_covariate_is_rejected_with_how_to_encode_it() -> None:
    frame = make_panel(promo="yes")
    with pytest.raises(PanelError, match=r"covariate 'promo' is not numeric.*one 0/1 column per category"):
        validate_panel(frame)


def test_boolean_and_integer_covariates_become_floats() -> None:
    out = validate_panel(make_panel(promo=True, price=3))
    assert out["promo"].dtype == np.float64 and out["promo"].eq(1.0).all()
    assert out["price"].dtype == np.float64


def test_a_non_numeric_target_is_rejected_with_examples() -> None:
    frame = make_panel()
    frame["y"] = frame["y"].astype(object)
    frame.loc[3, "y"] = "n/a"
    with pytest.raises(PanelError, match=r"history.y has 1 non-numeric values, e.g. \['n/a'\]"):
        validate_panel(frame)


def test_missing_timestamps_are_rejected() -> None:
    frame = make_panel()
    frame["ds"] = frame["ds"].astype(object)
    frame.loc[0, "ds"] = None
    with pytest.raises(PanelError, match="1 missing timestamps"):
        validate_panel(frame)


def test_not_a_dataframe_is_rejected() -> None:
    with pytest.raises(PanelError, match="must be a pandas DataFrame, got dict"):
        validate_panel({"unique_id": [], "ds": [], "y": []})  # type: ignore[arg-type]


def test_daily_data_infers_d() -> None:
    assert infer_freq(make_panel(freq="D")) == "D"


def test_hourly_data_infers_h() -> None:
    assert infer_freq(make_panel(freq="h", start="2024-03-30 22:00")) == "h"


def test_weekly_data_on_a_wednesday_infers_w_wed() -> None:
    panel = make_panel(start="2024-01-03", freq="7D")  # 2024-01-03 is a Wednesday
    assert pd.Timestamp("2024-01-03").day_name() == "Wednesday"
    assert infer_freq(panel) == "W-WED"


# Month-end dates are 28-31 days apart: the most common step (31 days) used to be taken as a
# fixed 744h grid, and the engine dropped 44 of 60 monthly rows as "off the grid".
@pytest.mark.parametrize(
    ("freq", "expected"), [("ME", "ME"), ("MS", "MS"), ("QE", "QE"), ("QS", "QS"), ("YE", "YE"), ("YS", "YS")]
)
def test_calendar_frequencies_are_inferred_from_their_anchor(freq: str, expected: str) -> None:
    panel = make_panel(ids=("a", "b"), periods=30, start="2019-01-01", freq=freq)
    assert infer_freq(panel) == expected
    stamps = pd.DatetimeIndex(panel[panel["unique_id"] == "a"]["ds"])
    assert stamps.equals(pd.date_range(stamps[0], periods=30, freq=expected))


def test_monthly_data_off_the_month_end_keeps_a_fixed_step() -> None:
    panel = make_panel(ids=("a",), periods=12, start="2024-01-15", freq="30D")
    assert infer_freq(panel) == "30D"


def test_the_most_common_step_wins_over_a_gap() -> None:
    panel = make_panel(ids=("a",), periods=10)
    panel = panel.drop(index=[4, 5]).reset_index(drop=True)
    assert infer_freq(panel) == "D"


def test_one_row_per_series_cannot_infer_a_frequency() -> None:
    with pytest.raises(PanelError, match="pass --freq"):
        infer_freq(make_panel(periods=1))


def test_future_index_continues_each_series_from_its_own_end() -> None:
    panel = make_panel(ids=("a",), periods=3)
    panel = pd.concat([panel, make_panel(ids=("b",), periods=5)], ignore_index=True)
    future = future_index(panel, horizon=2, freq="D")
    assert future.groupby("unique_id")["ds"].apply(list).to_dict() == {
        "a": [pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-05")],
        "b": [pd.Timestamp("2024-01-06"), pd.Timestamp("2024-01-07")],
    }


def test_future_index_keeps_the_weekly_anchor() -> None:
    panel = make_panel(ids=("a",), start="2024-01-03", freq="7D", periods=3)
    future = future_index(panel, horizon=2, freq=infer_freq(panel))
    assert future["ds"].tolist() == [pd.Timestamp("2024-01-24"), pd.Timestamp("2024-01-31")]


def test_validate_future_names_the_missing_rows_and_the_fix() -> None:
    history = make_panel()
    future = future_index(history, horizon=3, freq="D")
    future["promo"] = 0.0
    future = future.drop(index=[4]).reset_index(drop=True)  # b's 2nd step
    with pytest.raises(PanelError) as info:
        validate_future(future, history, horizon=3, freq="D")
    message = str(info.value)
    assert "future lacks 1 of the 6 (unique_id, ds) rows" in message
    assert "'unique_id': 'b'" in message
    assert "next 3 steps at frequency D" in message


def test_validate_future_returns_rows_aligned_to_the_horizon() -> None:
    history = make_panel()
    future = future_index(history, horizon=3, freq="D")
    future["promo"] = 1
    future["y"] = np.nan  # a target column in the future frame is dropped
    extra = pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2030-01-01")], "promo": [0]})
    out = validate_future(pd.concat([future, extra]), history, horizon=3, freq="D")
    assert len(out) == 6
    assert "y" not in out.columns
    assert out["promo"].eq(1.0).all()


def test_validate_future_gives_the_same_frame_for_rows_in_order_or_not() -> None:
    history = make_panel()
    future = future_index(history, horizon=3, freq="D")
    future["promo"] = [True, False, True, False, False, True]
    future["price"] = np.arange(6)
    future["y"] = np.nan
    in_order = validate_future(future, history, horizon=3, freq="D")
    shuffled = validate_future(future.sample(frac=1.0, random_state=0), history, horizon=3, freq="D")
    pd.testing.assert_frame_equal(in_order, shuffled)
    assert list(in_order.columns) == ["unique_id", "ds", "promo", "price"]
    assert in_order["promo"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    spaced = future.assign(unique_id=future["unique_id"] + " ")  # ids as written: stripped, then matched
    pd.testing.assert_frame_equal(validate_future(spaced, history, horizon=3, freq="D"), in_order)


def test_validate_future_rejects_infinite_or_huge_covariates_in_rows_in_order() -> None:
    history = make_panel()
    future = future_index(history, horizon=2, freq="D")
    future["promo"] = [1.0, np.inf, 0.0, 0.0]
    with pytest.raises(PanelError, match="infinite"):
        validate_future(future, history, horizon=2, freq="D")
    future["promo"] = [1.0, 1e200, 0.0, 0.0]
    with pytest.raises(PanelError, match="beyond"):
        validate_future(future, history, horizon=2, freq="D")


def test_validate_future_rejects_missing_covariate_values() -> None:
    history = make_panel()
    future = future_index(history, horizon=2, freq="D")
    future["promo"] = [1.0, np.nan, 0.0, 0.0]
    with pytest.raises(PanelError, match=r"future covariate\(s\) \['promo'\] have missing values"):
        validate_future(future, history, horizon=2, freq="D")


def test_quantile_names_are_written_as_levels() -> None:
    assert quantile_columns([0.05, 0.1, 0.5, 0.95]) == ["0.05", "0.1", "0.5", "0.95"]


def test_parse_quantiles_rejects_words_and_out_of_range_levels() -> None:
    assert parse_quantiles("0.1, 0.5,0.9") == [0.1, 0.5, 0.9]
    with pytest.raises(PanelError, match="numbers separated by commas"):
        parse_quantiles("0.1,median")
    with pytest.raises(PanelError, match="strictly between 0 and 1"):
        parse_quantiles("0.5,1")


def test_sorted_quantiles_never_cross() -> None:
    values = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert (np.diff(sort_quantiles(values), axis=-1) >= 0).all()


# Hourly DD/MM/YYYY HH:MM whose days are all 12 or less read month-first: the hours of
# Jan 3, Feb 3, ..., Dec 3 (a forecast from December on); the days follow one another.
def test_hourly_day_first_timestamps_with_small_days_are_read_day_first() -> None:
    from fcplan.core.panel import parse_timestamps

    hours = pd.date_range("2026-03-01", "2026-03-12 23:00", freq="h")
    hours = hours[hours.hour % 3 != 1]  # a few hours without orders do not change the reading
    read = parse_timestamps(pd.Series(hours.strftime("%d/%m/%Y %H:%M")))
    assert list(read) == list(hours)
    us = parse_timestamps(pd.Series(hours.strftime("%m/%d/%Y %H:%M")))  # month first stays month first
    assert list(us) == list(hours)
    monthly = pd.date_range("2026-01-01", periods=12, freq="MS")  # 01/01/2026 ... 12/01/2026 (US, monthly)
    assert list(parse_timestamps(pd.Series(monthly.strftime("%m/%d/%Y")))) == list(monthly)
