"""``fcplan plan --forecasts F.csv`` on files nobody listed (round 3): ds written as a person
or another tool writes it (DD/MM/YYYY, YYYYMMDD, a stray space, an offset that changes with
daylight saving time), an empty ds cell, and two columns for one quantile level. Each used to
be a misleading error (or a NaN headcount); now it is read as meant or a one-line error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app

from .test_plan_offline_odd_inputs import _forecast, plan

DAYS = pd.date_range("2026-03-02", periods=5)


def _planned_days(here: Path) -> list[str]:
    return sorted(pd.read_csv(here / "p.csv")["ds"].astype(str).unique())


@pytest.mark.parametrize(
    "ds",
    [
        # 02/03/2026..06/03/2026 were read month-first (Feb 3, Mar 3, ...): "look like weekly or monthly totals"
        DAYS.strftime("%d/%m/%Y"),
        # 20260302: nanoseconds after 1970, "holds times of day"
        DAYS.strftime("%Y%m%d").astype(int),
        # "2026-03-03 " (a trailing space) on some rows: "ds '2026-03-03 ' (row 3) is not a date"
        [d + (" " if i % 2 else "") for i, d in enumerate(DAYS.strftime("%Y-%m-%d"))],
        # an offset that changes with daylight saving time: the rows after the change were "not a date"
        [f"{d}T00:00:00{'+01:00' if i < 3 else '+02:00'}" for i, d in enumerate(DAYS.strftime("%Y-%m-%d"))],
    ],
    ids=["day-first", "yyyymmdd", "stray-space", "dst-offset"],
)
def test_days_written_another_way_are_the_same_days(here: Path, ds) -> None:
    _forecast(ds).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert _planned_days(here) == list(DAYS.strftime("%Y-%m-%d"))


# An empty ds cell was "ds nan (row 4) is not a date".
def test_an_empty_day_is_named_as_empty(here: Path) -> None:
    frame = _forecast(DAYS.strftime("%Y-%m-%d"))
    frame.loc[2, "ds"] = None
    frame.to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "ds is empty in 1 row(s) (e.g. row 4)" in out.output


# "0.5" and "0.50": the interpolation divided by zero and the error said the plan needed "nan packers".
def test_two_columns_of_one_level_are_an_error(here: Path) -> None:
    _forecast(DAYS.date, **{"0.50": 1000.0}).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "'0.5' and '0.50' are both the 0.5 quantile" in out.output


# Only a median column: the 0.75 service level was planned on the median without a word.
def test_a_service_level_outside_the_forecast_s_levels_is_said(here: Path) -> None:
    pd.DataFrame({"unique_id": "FC-SEOUL-1", "ds": DAYS.date, "0.5": 1000.0}).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert "lies above the forecast's highest quantile 0.5: planned on the 0.5 column" in out.output


# Negative quantiles (a linear model at low volume) were planned as 0 orders without a word.
def test_negative_forecast_values_are_said_to_be_planned_as_zero(here: Path) -> None:
    _forecast(DAYS.date, **{"0.1": -50.0, "0.5": -10.0, "0.9": 5.0}).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert "10 forecast quantile value(s) below 0 orders (e.g. -50) were planned as 0 orders" in out.output


def test_an_ordinary_forecast_has_no_note(here: Path) -> None:
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0 and "note:" not in out.output, out.output


# "FC-SEOUL-1\x00" (a NUL from an export) was an unlisted center planned on the defaults, and
# `fcplan forecast` made a series of it, written back with the NUL.
def test_an_id_with_a_control_character_is_an_error_naming_it(here: Path) -> None:
    _forecast(DAYS.date).assign(unique_id=["FC-SEOUL-1"] * 4 + ["FC-SEOUL-1\x00"]).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "'FC-SEOUL-1\\x00' (CSV line 6) holds the control character U+0000" in out.output


def test_a_history_file_with_a_control_character_in_an_id_is_refused(here: Path) -> None:
    from fcplan.app.files import InputError, read_csv

    (here / "h.csv").write_text("unique_id,ds,y\na,2026-01-01,1\nb\x07,2026-01-01,2\n\ta,2026-01-02,3\n")
    with pytest.raises(InputError, match=r"history file 'h.csv': history.unique_id 'b\\x07' \(CSV line 3\)"):
        read_csv(Path("h.csv"), "history", "unique_id, ds, y")


# A folder given as --centers was "does not exist"; an --out in a missing folder was found out
# only after the plan was made.
def test_a_folder_for_centers_and_an_unwritable_out_are_named(here: Path) -> None:
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)
    (here / "sub").mkdir()
    out = CliRunner().invoke(app, ["plan", "--forecasts", "f.csv", "--centers", "sub", "--out", "p.csv"])
    assert out.exit_code == 1 and "centers file 'sub' is a directory" in out.output
    out = CliRunner().invoke(app, ["plan", "--forecasts", "f.csv", "--centers", "centers.toml", "--out", "no/p.csv"])
    assert out.exit_code == 1 and "folder 'no' does not exist" in out.output


# An empty "0.5" column (a failed export) was dropped without a word and the plan interpolated
# between 0.1 and 0.9 instead.
def test_an_empty_quantile_column_is_an_error_not_skipped(here: Path) -> None:
    _forecast(DAYS.date, **{"0.5": None}).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 1 and "quantile columns hold missing" in out.output


# A "q0.99" or "P95" column beside 0.1, 0.5, 0.9 was dropped without a word (the note even asked
# for the higher quantile the file holds under another name).
@pytest.mark.parametrize("column", ["q0.99", "P95", "99%"])
def test_a_quantile_column_the_plan_cannot_read_is_named(here: Path, column: str) -> None:
    _forecast(DAYS.date, **{column: 5000.0}).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert f"column(s) ['{column}'] of the forecasts file are not quantile columns and were not used" in out.output


# orders_per_packer_hour = 1e12 (a wrong unit) planned min_packers on every shift, silently.
def test_an_absurd_productivity_is_noted(here: Path) -> None:
    (here / "centers.toml").write_text('[defaults]\ntimezone = "Asia/Seoul"\norders_per_packer_hour = 1e12\n')
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert "orders_per_packer_hour 1e+12 of ['FC-SEOUL-1'] is more than 3600" in out.output


# One day of hours written 05/03/2026 HH:MM (March 5, day first) reads as May 3: after the plan's
# first day, so no hour was learned from and every day was spread evenly without a word.
def test_an_hourly_file_with_nothing_before_the_plan_is_said(here: Path) -> None:
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)  # from 2026-03-02
    hours = pd.date_range("2026-01-05", periods=24, freq="h")
    one_day = pd.DataFrame({"unique_id": "FC-SEOUL-1", "ds": hours.strftime("%d/%m/%Y %H:%M"), "y": 10.0})
    one_day.to_csv(here / "h.csv", index=False)  # 05/01/2026: read month first, May 1
    out = plan("--forecasts", "f.csv", "--hourly", "h.csv")
    assert out.exit_code == 0, out.output
    assert "the hourly file has no hours before the forecast's first day 2026-03-02" in out.output
    assert "written with slashes" in out.output



# An hourly file of another center (or ids written differently): the forecast's centers were spread
# evenly over the 24 hours without a word; a negative y was named as "np.float64(-40.0)".
@pytest.mark.parametrize(
    ("center", "y", "expected"),
    [
        ("FC-OTHER", 10.0, "the hourly file has no rows of center(s) ['FC-SEOUL-1'] (it has ['FC-OTHER'])"),
        ("FC-SEOUL-1", -40.0, "y -40.0 (row 2) is not a number of orders"),
    ],
)
def test_an_hourly_file_without_the_forecast_s_centers_or_with_negative_orders_is_said(
    here: Path, center: str, y: float, expected: str
) -> None:
    _forecast(DAYS.date).to_csv(here / "f.csv", index=False)
    hours = pd.date_range("2026-02-01", periods=24 * 14, freq="h")
    pd.DataFrame({"unique_id": center, "ds": hours, "y": y}).to_csv(here / "h.csv", index=False)
    out = plan("--forecasts", "f.csv", "--hourly", "h.csv")
    assert "Traceback" not in out.output and expected in out.output, out.output

# "FC-SEOUL1" (a typo of FC-SEOUL-1) was planned on the [defaults] as an unknown center without a word.
def test_a_center_the_file_does_not_list_is_named_with_the_closest_id(here: Path) -> None:
    _forecast(DAYS.date).assign(unique_id="FC-SEOUL1").to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert "note: center(s) ['FC-SEOUL1'] (1) are not in the centers.toml" in out.output
    assert "planned on its [defaults]; did you mean 'FC-SEOUL-1' for 'FC-SEOUL1'?" in out.output


def test_a_file_of_defaults_alone_plans_every_center_without_a_note(here: Path) -> None:
    text = (here / "centers.toml").read_text()
    (here / "centers.toml").write_text(text[: text.index('[centers."FC-SEOUL-1"]')])
    _forecast(DAYS.date).assign(unique_id="FC-X").to_csv(here / "f.csv", index=False)
    out = plan("--forecasts", "f.csv")
    assert out.exit_code == 0, out.output
    assert "not in the" not in out.output
