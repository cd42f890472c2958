"""``fcplan plan --forecasts F.csv`` on files nobody listed (round 2): an hourly or a weekly
forecast, a header without rows, a forecast of 1e30 orders, ids with a stray space, and an
"hourly" file of daily totals. Each used to give a plan that was wrong without a word (or a
misleading error); now it is a one-line error (exit 1) saying what to pass, or read as meant."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app

DAYS = pd.date_range("2026-03-02", periods=3)


def _forecast(ds, **cols) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "FC-SEOUL-1", "ds": ds, "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0, **cols})


def plan(*args: str):
    return CliRunner().invoke(app, ["plan", "--centers", "centers.toml", "--out", "p.csv", *args])


def _error(out, expected: str) -> None:
    assert out.exit_code == 1, out.output
    assert expected in out.output and "Traceback" not in out.output


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # 72 hourly rows: "69 duplicate (unique_id, ds) rows ... keep one row per center and day (one model)"
        (_forecast(pd.date_range("2026-03-02", periods=72, freq="h")), "holds times of day"),
        # weekly totals were planned as one day's orders each: 244 packer-shifts instead of about 18 a week
        (_forecast(pd.date_range("2026-03-01", periods=4, freq="W-SUN").date), "look like weekly or monthly totals"),
        # a header without rows: exit 0 and "wrote 0 rows"
        (_forecast(DAYS.date).head(0), "has a header but no rows"),
        # 1e30 orders: -9223372036854775808 packer-shifts
        (_forecast(DAYS.date, **{"0.9": 1e30}), "check the forecast's scale"),
    ],
)
def test_a_forecast_that_is_not_daily_orders_is_an_error(here: Path, frame: pd.DataFrame, expected: str) -> None:
    frame.to_csv(here / "f.csv", index=False)
    _error(plan("--forecasts", "f.csv"), expected)


# "FC-SEOUL-1 " (a trailing space) was an unlisted center planned on the defaults, without its
# max_packers = 120.
def test_an_id_with_a_stray_space_is_its_center(here: Path) -> None:
    big = _forecast(DAYS.date, **{"0.1": 50_000.0, "0.5": 100_000.0, "0.9": 150_000.0})
    big.assign(unique_id="FC-SEOUL-1 ").to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    table = pd.read_csv(here / "p.csv")
    assert set(table["unique_id"]) == {"FC-SEOUL-1"}
    assert table["packers"].max() == 120


# Daily totals given as --hourly (every row at 00:00) put the whole day in its first hour:
# the night shift got every order (27 packer-shifts instead of 18).
def test_daily_totals_given_as_hourly_history_are_an_error(here: Path) -> None:
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)
    days = pd.date_range("2026-02-01", periods=28)
    pd.DataFrame({"unique_id": "FC-SEOUL-1", "ds": days, "y": 120.0}).to_csv(here / "h.csv", index=False)
    _error(plan("--forecasts", "f.csv", "--hourly", "h.csv"), "looks like daily totals")


def test_business_days_and_a_missing_day_are_still_daily(here: Path) -> None:
    ds = pd.bdate_range("2026-03-02", periods=8).delete(2)
    _forecast(ds.date).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
