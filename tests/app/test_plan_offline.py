"""``fcplan plan --forecasts F.csv --centers C.toml [--hourly H.csv] --out plan.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app


@pytest.fixture
def files(centers_dir: Path) -> Path:
    tmp_path = centers_dir
    days = pd.date_range("2026-03-02", periods=3)
    # As `fcplan forecast --quantiles 0.1,0.50,0.9` writes it: the levels as typed.
    pd.DataFrame({
        "unique_id": ["FC-SEOUL-1"] * 3 + ["FC-GWANGJU"] * 3, "ds": [*days.date, *days.date],
        "0.1": 800.0, "0.50": 1000.0, "0.9": 1200.0,
    }).to_csv(tmp_path / "f.csv", index=False)
    hours = pd.date_range("2026-02-01", "2026-03-01 23:00", freq="h")
    pd.DataFrame({"unique_id": "FC-SEOUL-1", "ds": hours, "y": (hours.hour >= 12) * 10.0}).to_csv(
        tmp_path / "h.csv", index=False)
    (tmp_path / "bad.csv").write_text("unique_id,day,0.5\nFC-SEOUL-1,2026-03-02,3\n")
    (tmp_path / "baddate.csv").write_text("unique_id,ds,0.5\nFC-SEOUL-1,soon,3\n")
    return tmp_path


def plan(*args: str):
    return CliRunner().invoke(app, ["plan", *args])


def test_a_forecast_file_becomes_a_plan_per_center_day_and_shift(files: Path) -> None:
    out = plan("--forecasts", "f.csv", "--centers", "centers.toml", "--hourly", "h.csv", "--out", "plan.csv")
    assert out.exit_code == 0, out.output
    assert "wrote 18 rows" in out.output
    table = pd.read_csv(files / "plan.csv")
    assert set(table.groupby("unique_id")["shift"].unique().map(tuple)) == {
        ("day", "swing", "night"), ("early", "late", "overnight")}
    seoul = table[table["unique_id"] == "FC-SEOUL-1"].set_index(["ds", "shift"])
    # The hourly file says every order comes after noon: the day shift (6-14) gets 2 of 12 hours.
    assert seoul.loc[("2026-03-02", "day"), "orders_median"] < 0.25 * 1000
    assert (table["packers"] >= 0).all()


def test_without_hourly_history_the_day_is_spread_evenly(files: Path) -> None:
    out = plan("--forecasts", "f.csv", "--centers", "centers.toml", "--out", "plan.csv")
    assert out.exit_code == 0, out.output
    table = pd.read_csv(files / "plan.csv")
    day = table[(table["unique_id"] == "FC-SEOUL-1") & (table["shift"] == "day")]
    assert day["orders_median"].iloc[0] == pytest.approx(1000 * 8 / 24)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--forecasts", "nope.csv", "--centers", "centers.toml", "--out", "p.csv"), "does not exist"),
        (("--forecasts", "h.csv", "--centers", "centers.toml", "--out", "p.csv"), "no quantile columns"),
        (("--forecasts", "centers.toml", "--centers", "centers.toml", "--out", "p.csv"), "not a readable CSV"),
        (("--forecasts", "bad.csv", "--centers", "centers.toml", "--out", "p.csv"), "lacks column(s) ['ds']"),
        (("--forecasts", "baddate.csv", "--centers", "centers.toml", "--out", "p.csv"), "first at row 2: 'soon'"),
        (("--forecasts", "f.csv", "--centers", "missing.toml", "--out", "p.csv"), "centers file"),
        (("--forecasts", "f.csv", "--centers", "centers.toml"), "--forecasts and --out go together"),
        (("--model", "ets"), "--model go(es) with the offline plan of a forecasts file; --forecasts and --out"),
        (("--forecasts", "f.csv", "--centers", "centers.toml", "--hourly", "f.csv", "--out", "p.csv"), "'y'"),
    ],
)
def test_a_file_that_does_not_fit_gets_a_clear_error_and_exit_1(files: Path, args, expected: str) -> None:
    out = plan(*args)
    assert out.exit_code == 1, out.output
    assert expected in out.output
    assert "Traceback" not in out.output


def test_a_forecast_center_missing_from_a_file_without_defaults_is_named(files: Path) -> None:
    (files / "only.toml").write_text('[centers."FC-SEOUL-1"]\n')
    out = plan("--forecasts", "f.csv", "--centers", "only.toml", "--out", "p.csv")
    assert out.exit_code == 1
    assert "FC-GWANGJU" in out.output and "[defaults]" in out.output


# Odd files that used to get through: a row without a center id crashed with a traceback
# ("'<' not supported between float and str"); an infinite quantile planned 0 packers; text,
# infinite or negative hourly orders were dropped or bent the hour profile without a word.
@pytest.mark.parametrize(
    ("name", "text", "flag", "expected"),
    [
        ("noid.csv", "unique_id,ds,0.5\nFC-SEOUL-1,2026-03-02,3\n,2026-03-03,3\n", "--forecasts",
         "unique_id is empty in 1 row(s) (e.g. row 3)"),
        ("inf.csv", "unique_id,ds,0.1,0.5\nFC-SEOUL-1,2026-03-02,3,inf\n", "--forecasts", "infinite"),
        ("htext.csv", "unique_id,ds,y\nFC-SEOUL-1,2026-02-01 00:00,3\nFC-SEOUL-1,2026-02-01 01:00,many\n", "--hourly",
         "y 'many' (row 3) is not a number of orders"),
        ("hneg.csv", "unique_id,ds,y\nFC-SEOUL-1,2026-02-01 00:00,-3\n", "--hourly", "(row 2) is not a number"),
        ("hinf.csv", "unique_id,ds,y\nFC-SEOUL-1,2026-02-01 00:00,inf\n", "--hourly", "(row 2) is not a number"),
    ],
)
def test_odd_rows_get_a_clear_error(files: Path, name: str, text: str, flag: str, expected: str) -> None:
    (files / name).write_text(text)
    args = {"--forecasts": name, "--hourly": "h.csv"}
    if flag == "--hourly":
        args = {"--forecasts": "f.csv", "--hourly": name}
    out = plan(*[x for k, v in args.items() for x in (k, v)], "--centers", "centers.toml", "--out", "p.csv")
    assert out.exit_code == 1, out.output
    assert expected in out.output
    assert "Traceback" not in out.output


def test_empty_hourly_cells_are_missing_hours_not_errors(files: Path) -> None:
    (files / "hgap.csv").write_text("unique_id,ds,y\nFC-SEOUL-1,2026-02-01 00:00,\nFC-SEOUL-1,2026-02-01 01:00,4\n")
    out = plan("--forecasts", "f.csv", "--centers", "centers.toml", "--hourly", "hgap.csv", "--out", "p.csv")
    assert out.exit_code == 0, out.output


def test_a_plan_capped_by_max_packers_says_by_how_much_and_how_to_book_them(files: Path) -> None:
    # 1000 orders a day, flat: 333 a shift / 10 an hour / 8 h = 4.2 packers; max_packers 3. The line said
    # only "18 shift(s) capped at max_packers", not how short nor where to lift the cap.
    (files / "capped.toml").write_text(
        '[defaults]\norders_per_packer_hour = 10\nshrinkage = 0\nmin_packers = 0\nmax_packers = 3\n'
        'shifts = [{name = "day", start = 6, end = 14}, {name = "swing", start = 14, end = 22},\n'
        '          {name = "night", start = 22, end = 6}]\n')
    out = plan("--forecasts", "f.csv", "--centers", "capped.toml", "--out", "plan.csv")
    assert out.exit_code == 0, out.output
    table = pd.read_csv(files / "plan.csv")
    short = int((table["packers_needed"] - table["packers"]).sum())
    assert short > 0 and (table["packers"] == 3).all()
    line = " ".join(out.output.split())
    assert f"18 shift(s) capped at max_packers, {short} packer(s) short of the need (e.g. FC-GWANGJU" in line
    assert "raise max_packers in the capped.toml to book them" in line


def test_the_orders_counted_on_a_closed_day_before_the_forecast_go_to_its_first_open_days_first_shift(
    files: Path,
) -> None:
    # Closed on Sundays; the forecast starts on Monday 2026-03-02 and the hourly file ends on Sunday: Sunday's
    # orders after 06:00 (120 in 12:00-24:00; none before noon) wait for Monday's day shift. They were dropped.
    (files / "closed.toml").write_text('[defaults]\nclosed_weekdays = ["Sun"]\nmin_packers = 0\n'
                                       'shrinkage = 0\nservice_level = 0.5\n')
    args = ("--forecasts", "f.csv", "--centers", "closed.toml", "--out", "plan.csv")
    assert plan(*args, "--hourly", "h.csv").exit_code == 0
    with_counts = pd.read_csv(files / "plan.csv").set_index(["unique_id", "ds", "shift"])
    assert plan(*args).exit_code == 0
    without = pd.read_csv(files / "plan.csv").set_index(["unique_id", "ds", "shift"])
    key = ("FC-SEOUL-1", "2026-03-02", "day")
    assert without.loc[key, "orders_median"] == pytest.approx(1000 * 14 / 24)  # no counts: nothing waiting
    # the hourly file's profile puts Monday's orders after noon: the day shift's own are 2 of 12 hours
    assert with_counts.loc[key, "orders_median"] == pytest.approx(120.0 + 1000 * 2 / 12, rel=0.05)


def test_a_center_staffing_one_day_shift_is_planned_its_shift_packing_the_evening_and_night_before(
    files: Path,
) -> None:
    # 08:00-16:30 is written 08:00-16:00 (whole hours). The file was refused: "hour(s) 0-7, 16-23 are covered by
    # no shift". The hourly file ends on Sunday with 10 orders an hour after noon: Sunday's 16:00-24:00 (80)
    # wait for Monday's day shift, as do Monday's orders before 08:00 (none: all after noon) and its own.
    (files / "day.toml").write_text('[defaults]\nmin_packers = 0\nshrinkage = 0\nservice_level = 0.5\n\n'
                                    '[[defaults.shifts]]\nname = "day"\nstart = "08:00"\nend = "16:00"\n')
    args = ("--forecasts", "f.csv", "--centers", "day.toml", "--out", "plan.csv")
    out = plan(*args, "--hourly", "h.csv")
    assert out.exit_code == 0, out.output
    table = pd.read_csv(files / "plan.csv").set_index(["unique_id", "ds", "shift"])
    assert set(table.index.get_level_values("shift")) == {"day"}
    # Monday: the 80 counted + Monday's 00:00-16:00 (4 of its 12 hours after noon)
    assert table.loc[("FC-SEOUL-1", "2026-03-02", "day"), "orders_median"] == pytest.approx(80 + 1000 * 4 / 12,
                                                                                            rel=0.05)
    # Tuesday: Monday's 16:00-24:00 (8 of 12 hours) and Tuesday's 00:00-16:00 (4 of 12)
    assert table.loc[("FC-SEOUL-1", "2026-03-03", "day"), "orders_median"] == pytest.approx(1000, rel=0.05)
    assert plan(*args).exit_code == 0  # without counts: the evening before the forecast is not in it
    flat = pd.read_csv(files / "plan.csv").set_index(["unique_id", "ds", "shift"])
    assert flat.loc[("FC-GWANGJU", "2026-03-03", "day"), "orders_median"] == pytest.approx(1000.0)
