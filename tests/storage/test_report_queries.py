"""Reads across runs: the forecast issued for each day, hourly counts, the plan's center zones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fcplan.app.seed_db import forecast_rows, store_run
from fcplan.storage import make_engine
from fcplan.storage import report_queries as rq

DAY = pd.Timestamp("2026-03-10")


@pytest.fixture
def engine(tmp_path: Path):
    eng = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    yield eng
    eng.dispose()


def _daily(level: float) -> pd.DataFrame:
    days = pd.date_range(DAY - pd.Timedelta(days=40), DAY + pd.Timedelta(days=20))
    return pd.DataFrame({"unique_id": "A", "ds": days, "y": level})


def _run(engine, run_id: str, data_end: pd.Timestamp, level: float, created: str) -> None:
    wide = forecast_rows(_daily(level), run_id, data_end + pd.Timedelta(days=1), 7)
    store_run(engine, wide, run_id, pd.Timestamp(created), data_end, "retired", 7)


def test_when_several_runs_cover_a_day_then_the_newest_made_before_it_is_the_issued_one(engine) -> None:
    _run(engine, "old", DAY - pd.Timedelta(days=3), 100.0, "2026-03-07 20:00")
    _run(engine, "day-ahead", DAY - pd.Timedelta(days=1), 200.0, "2026-03-09 20:00")
    _run(engine, "retriggered", DAY - pd.Timedelta(days=1), 300.0, "2026-03-09 23:00")
    _run(engine, "after", DAY, 400.0, "2026-03-10 20:00")  # made on the day's data: not issued for it
    issued = rq.issued_forecasts(engine, "A", (DAY - pd.Timedelta(days=2)).date(), (DAY + pd.Timedelta(days=1)).date(),
                                 (0.1, 0.5, 0.9)).set_index("ds")
    assert issued["run_id"].to_dict() == {
        DAY - pd.Timedelta(days=2): "old", DAY - pd.Timedelta(days=1): "old", DAY: "retriggered"}
    assert list(issued.columns) == ["unique_id", "run_id", "data_end", "0.1", "0.5", "0.9"]
    assert issued.loc[DAY, "0.1"] < issued.loc[DAY, "0.5"] < issued.loc[DAY, "0.9"]


def test_when_no_run_covers_the_center_then_issued_forecasts_are_empty(engine) -> None:
    issued = rq.issued_forecasts(engine, "B", DAY.date(), (DAY + pd.Timedelta(days=3)).date(), (0.1, 0.5, 0.9))
    assert issued.empty and "0.5" in issued.columns


def test_when_hourly_counts_are_read_for_some_centers_then_only_theirs_come_back(engine) -> None:
    from fcplan.storage.schema import center_hourly

    hours = pd.date_range("2026-03-01", periods=5, freq="h")
    rows = [{"center_id": c, "hour": h.to_pydatetime(), "orders": i, "lines": i, "units": i,
             "updated_at": h.to_pydatetime()} for c in ("A", "B") for i, h in enumerate(hours)]
    with engine.begin() as conn:
        conn.execute(center_hourly.insert(), rows)
    got = rq.hourly_counts(engine, hours[2].to_pydatetime(), ["B"])
    assert got["unique_id"].tolist() == ["B"] * 3
    assert got["hour_utc"].tolist() == list(hours[2:]) and got["y"].tolist() == [2.0, 3.0, 4.0]
    assert rq.center_ids(engine) == ["A", "B"]


def test_when_a_plan_stored_its_centers_then_their_zones_are_read_back(engine) -> None:
    from fcplan.storage.schema import plan_runs

    assert rq.plan_center_configs(engine) == {}
    with engine.begin() as conn:
        conn.execute(plan_runs.insert(), [{
            "plan_id": "p", "forecast_run_id": "r", "created_at": DAY.to_pydatetime(), "service_quantile": 0.75,
            "params": {"centers": {"A": {"timezone": "Australia/Sydney", "holiday_country": "AU"}}},
        }])
    assert rq.plan_center_configs(engine)["A"]["timezone"] == "Australia/Sydney"
