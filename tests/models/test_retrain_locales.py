"""The retrainer builds each center's days in its own zone, with its own holidays."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fcplan.core.calendar import HOLIDAY
from fcplan.core.locales import Locales
from fcplan.models.retrain import training_frames
from fcplan.planner.centers import parse_centers
from fcplan.storage import make_engine
from fcplan.storage.schema import center_hourly

LOCALES = parse_centers({
    "defaults": {"timezone": "Asia/Seoul", "holiday_country": "KR"},
    "centers": {"SEOUL": {}, "LA": {"timezone": "America/Los_Angeles", "holiday_country": "US"}},
}).locales("Asia/Seoul", "KR")


def store_utc_hours(engine, center: str, start_utc: str, hours: int) -> None:
    """One order in each UTC hour from ``start_utc``."""
    utc = pd.date_range(start_utc, periods=hours, freq="h")
    with engine.begin() as conn:
        conn.execute(center_hourly.insert(), [
            {"center_id": center, "hour": h.to_pydatetime(), "orders": 1, "lines": 1, "units": 1,
             "updated_at": datetime(2026, 1, 1)} for h in utc
        ])


@pytest.fixture
def engine(sqlite_url: str):
    return make_engine(sqlite_url)


def test_the_same_utc_hours_make_each_centers_own_local_days(engine) -> None:
    # The same 10 days of UTC hours for both; Seoul is UTC+9, Los Angeles UTC-8 in December.
    for center in ("SEOUL", "LA"):
        store_utc_hours(engine, center, "2025-12-20 00:00", 24 * 10)
    now = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)  # Seoul: Dec 30 21:00; Los Angeles: Dec 30 04:00
    history, future = training_frames(engine, LOCALES, steps=3, now=now)
    days = history.set_index(["unique_id", "ds"])["y"]
    # Seoul's first local day (Dec 20) starts at 09:00 of its clock: 15 orders; then whole days.
    assert days[("SEOUL", pd.Timestamp("2025-12-20"))] == 15
    assert days[("SEOUL", pd.Timestamp("2025-12-21"))] == 24
    # Los Angeles' first local day is Dec 19 (16:00-24:00): 8 orders; Dec 20 is a whole day.
    assert days[("LA", pd.Timestamp("2025-12-19"))] == 8
    assert days[("LA", pd.Timestamp("2025-12-20"))] == 24
    # Each center's today (Dec 30 at both here) is left out; the last UTC hours end Dec 29 15:59 in LA.
    assert history.groupby("unique_id")["ds"].max().to_dict() == {
        "LA": pd.Timestamp("2025-12-29"), "SEOUL": pd.Timestamp("2025-12-29")}
    assert days[("LA", pd.Timestamp("2025-12-29"))] == 16
    assert future.groupby("unique_id")["ds"].min().to_dict() == {
        "LA": pd.Timestamp("2025-12-30"), "SEOUL": pd.Timestamp("2025-12-30")}


def test_today_is_each_centers_local_date(engine) -> None:
    for center in ("SEOUL", "LA"):
        store_utc_hours(engine, center, "2025-12-20 00:00", 24 * 10)
    now = datetime(2025, 12, 29, 20, 0, tzinfo=UTC)  # Seoul: Dec 30 05:00; Los Angeles: Dec 29 12:00
    history, _ = training_frames(engine, LOCALES, steps=2, now=now)
    last = history.groupby("unique_id")["ds"].max().to_dict()
    assert last == {"SEOUL": pd.Timestamp("2025-12-29"), "LA": pd.Timestamp("2025-12-28")}


def test_each_center_flags_its_own_countrys_holidays(engine) -> None:
    # Christmas is a holiday in both; Jan 1 too; Korea's is not Thanksgiving, the US's is.
    for center in ("SEOUL", "LA"):
        store_utc_hours(engine, center, "2025-11-20 00:00", 24 * 20)
    now = datetime(2025, 12, 10, 12, 0, tzinfo=UTC)
    history, _ = training_frames(engine, LOCALES, steps=2, now=now)
    flags = history.set_index(["unique_id", "ds"])[HOLIDAY]
    thanksgiving = pd.Timestamp("2025-11-27")
    assert flags[("LA", thanksgiving)] == 1.0
    assert flags[("SEOUL", thanksgiving)] == 0.0


def test_without_a_holiday_country_no_holiday_columns_are_added(engine) -> None:
    store_utc_hours(engine, "SEOUL", "2025-11-20 00:00", 24 * 5)
    history, future = training_frames(engine, Locales("Asia/Seoul"), steps=2, now=datetime(2025, 11, 30, tzinfo=UTC))
    assert HOLIDAY not in history.columns and HOLIDAY not in future.columns
    assert len(history) == 6  # Nov 20 09:00 .. Nov 25 09:00 Seoul time


def test_the_stored_forecast_starts_at_each_centers_own_today(engine) -> None:
    from fcplan.core.settings import ForecastSettings
    from fcplan.models.retrain import retrain
    from fcplan.storage import queries as q

    for center in ("SEOUL", "LA"):
        store_utc_hours(engine, center, "2025-10-01 00:00", 24 * 40)
    now = datetime(2025, 11, 9, 20, 0, tzinfo=UTC)  # Seoul: Nov 10 05:00; Los Angeles: Nov 9 12:00
    cfg = ForecastSettings(quantiles=(0.1, 0.5, 0.9), models=("glm",), horizon=2, backtest_windows=1,
                           min_history_days=7)
    result = retrain(engine, cfg, "Asia/Seoul", now=now, drift_hours=0, locales=LOCALES)
    assert result.run_id is not None, result.message
    frame = q.forecast_frame(engine, result.run_id)
    first = frame.groupby("unique_id")["ds"].min().map(pd.Timestamp).to_dict()
    assert first == {"LA": pd.Timestamp("2025-11-09"), "SEOUL": pd.Timestamp("2025-11-10")}
