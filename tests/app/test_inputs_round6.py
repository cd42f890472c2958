"""Inputs nobody listed, round 6 (session 19, i29-probe): the offline paths' readers and the centers file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app
from fcplan.app.files import read_csv

IDS = ["NA", "None", "null", "n/a", "NaN"]


# A center or region written "NA" (North America, Namibia) or "None" was read as a missing id:
# "unique_id is empty in 120 row(s)", and the forecast and the plan refused the file.
def test_ids_spelt_like_missing_values_are_ids(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    rows = [f"{uid},2026-03-0{d},{d}" for uid in IDS for d in (2, 3)]
    path.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n,2026-03-02,NA\n")
    frame = read_csv(path, "history", "unique_id, ds, y")
    assert frame["unique_id"].tolist()[:-1] == [uid for uid in IDS for _ in (2, 3)]
    assert frame["unique_id"].iloc[-1] == ""  # an empty cell is still no id (refused by the callers)
    assert frame["y"].isna().tolist() == [False] * 10 + [True]  # "NA" in y stays a missing value


def test_a_forecast_of_center_na_is_planned(here: Path) -> None:
    pd.DataFrame({"unique_id": "NA", "ds": pd.date_range("2026-03-02", periods=3).date,
                  "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0}).to_csv(here / "f.csv", index=False)
    out = CliRunner().invoke(app, ["plan", "--centers", "centers.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 0, out.output
    assert set(pd.read_csv(here / "p.csv", keep_default_na=False)["unique_id"]) == {"NA"}


# The check for a line above the header ("# exported ...") refused a header whose first column is named
# "#" (a row number, as spreadsheets and SQL clients export): "starts with '#,unique_id,ds,...', not its
# header row: delete the line(s) above the header", though there was none.
def test_a_header_whose_first_column_is_named_hash_is_the_header(here: Path) -> None:
    pd.DataFrame({"#": [1, 2, 3], "unique_id": "FC-1", "ds": pd.date_range("2026-03-02", periods=3).date,
                  "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0}).to_csv(here / "f.csv", index=False)
    out = CliRunner().invoke(app, ["plan", "--centers", "centers.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 0, out.output
    assert set(pd.read_csv(here / "p.csv")["unique_id"]) == {"FC-1"}
    assert "not its header row" not in out.output


def _plan_with(here: Path, toml: str):
    (here / "c.toml").write_text(toml)
    pd.DataFrame({"unique_id": "FC-1", "ds": pd.date_range("2026-03-02", periods=3).date,
                  "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0}).to_csv(here / "f.csv", index=False)
    return CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"])


TWO_SHIFTS = """[defaults]
[[defaults.shifts]]
name = "day"
start = {day}
end = 18:00:00
[[defaults.shifts]]
name = "night"
start = 18:00:00
end = 06:00:00
"""


# `start = 06:00:00` unquoted is a TOML local time: "field shifts[0].start: Input should be a valid
# integer (and 3 more)", which says neither what is wrong nor how to write it.
def test_shift_times_written_as_toml_local_times_are_read(here: Path) -> None:
    out = _plan_with(here, TWO_SHIFTS.format(day="06:00:00"))
    assert out.exit_code == 0, out.output
    plan = pd.read_csv(here / "p.csv")
    assert plan.groupby("shift")["starts_at"].first().str[-8:].to_dict() == {"day": "06:00:00", "night": "18:00:00"}


def test_a_toml_local_time_off_the_hour_is_refused_saying_how(here: Path) -> None:
    out = _plan_with(here, TWO_SHIFTS.format(day="06:30:00"))
    assert out.exit_code == 1
    assert "shifts[0].start: 06:30:00: shifts start and end on whole hours" in out.output


# shrinkage = 15 or service_level = 95 (percentages) were "Input should be less than 1", no word of how.
@pytest.mark.parametrize(("field", "value", "hint"), [("shrinkage", "15", "write 0.15 for 15 %"),
                                                       ("service_level", "95", "write 0.95 for 95 %")])
def test_a_percentage_for_a_share_is_refused_saying_how(here: Path, field: str, value: str, hint: str) -> None:
    out = _plan_with(here, f"[defaults]\n{field} = {value}\n")
    assert out.exit_code == 1
    assert f"field {field}: {value} must be less than 1, a share between 0 and 1; if it is a percentage, {hint}" \
        in out.output


def test_a_percentage_in_the_shrinkage_variable_is_refused_saying_how(here: Path, monkeypatch) -> None:
    monkeypatch.setenv("FCPLAN_PLANNER_SHRINKAGE", "15")
    out = CliRunner().invoke(app, ["plan", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 2
    assert ("FCPLAN_PLANNER_SHRINKAGE='15': '15' must be less than 1, a share between 0 and 1; if it is a "
            "percentage, write 0.15 for 15 %") in out.output


# `plan --out -` wrote a file named "-"; `--out plan.xlsx` wrote CSV text under that name.
def test_plan_out_dash_writes_the_plan_to_standard_output(here: Path) -> None:
    out = _plan_with(here, "[defaults]\nmin_packers = 2\n")
    assert out.exit_code == 0, out.output
    result = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "-"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(io.StringIO(result.stdout)).equals(pd.read_csv(here / "p.csv"))
    assert "to standard output" in result.stderr and not (here / "-").exists()


def test_a_plan_out_of_another_format_is_refused(here: Path) -> None:
    _plan_with(here, "[defaults]\nmin_packers = 2\n")
    result = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "plan.xlsx"])
    assert result.exit_code == 1 and "name it 'plan.csv'" in result.output
    assert not (here / "plan.xlsx").exists()


def _hours_9_to_18(here: Path) -> pd.DataFrame:
    """Orders of a Seoul center between 09:00 and 18:00 Seoul time, four weeks, as instants."""
    (here / "c.toml").write_text('[defaults]\ntimezone = "Asia/Seoul"\n')
    pd.DataFrame({"unique_id": "FC-1", "ds": pd.date_range("2026-03-02", periods=3).date,
                  "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0}).to_csv(here / "f.csv", index=False)
    local = pd.date_range("2026-02-01", "2026-03-01 23:00", freq="h", tz="Asia/Seoul")
    busy = (local.hour >= 9) & (local.hour < 18)
    return pd.DataFrame({"unique_id": "FC-1", "ds": local, "y": np.where(busy, 100, 0)})


def _orders_by_shift(here: Path, hourly: str) -> tuple[dict[str, float], str]:
    out = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--hourly", hourly,
                                   "--out", "p.csv"])
    assert out.exit_code == 0, out.output
    plan = pd.read_csv(here / "p.csv")
    return plan[plan["ds"] == "2026-03-02"].set_index("shift")["orders_median"].round(1).to_dict(), out.output


# Orders per hour exported in UTC ("2026-02-01T00:00:00Z") for a Seoul center were read as Seoul wall
# clock: the 09:00-18:00 orders fell on 00:00-09:00, and the night shift got two thirds of the day's
# orders (664 of 1000) while the day shift's hours had none, without a word.
@pytest.mark.parametrize("written", ["utc-text", "utc-parquet", "seoul-offset-text"])
def test_hourly_times_with_an_offset_are_read_in_the_centers_zone(here: Path, written: str) -> None:
    hours = _hours_9_to_18(here)
    hours.assign(ds=hours["ds"].dt.tz_localize(None)).to_csv(here / "wall.csv", index=False)
    expected, _ = _orders_by_shift(here, "wall.csv")  # the same orders written as Seoul wall clock
    if written == "utc-text":
        hours.assign(ds=hours["ds"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            here / "h.csv", index=False)
    elif written == "utc-parquet":
        hours.assign(ds=hours["ds"].dt.tz_convert("UTC")).to_parquet(here / "h.csv")
    else:
        hours.assign(ds=hours["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S+09:00")).to_csv(here / "h.csv", index=False)
    got, output = _orders_by_shift(here, "h.csv")
    assert got == expected and got["night"] < 10
    assert ("read in each center's zone, ['FC-1: Asia/Seoul']" in output) == (written != "seoul-offset-text")


# A forecasts file with a model column of two models and no ensemble said "pass model=... to plan on
# one", an argument of the Python function that `fcplan plan` had no option for.
def test_plan_model_picks_one_model_of_a_forecasts_file(here: Path) -> None:
    (here / "c.toml").write_text("[defaults]\nmin_packers = 0\n")
    days = pd.date_range("2026-03-02", periods=3).date
    pd.concat([pd.DataFrame({"unique_id": "FC-1", "ds": days, "model": name, "0.1": level * 0.8, "0.5": level,
                             "0.9": level * 1.2}) for name, level in (("lgbm", 1000.0), ("ets", 5000.0))]
              ).to_csv(here / "f.csv", index=False)
    plan = ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"]
    refused = CliRunner().invoke(app, plan)
    assert refused.exit_code == 1 and "`fcplan plan --model ets`" in refused.output
    medians = {}
    for name in ("ets", "lgbm"):
        out = CliRunner().invoke(app, [*plan, "--model", name])
        assert out.exit_code == 0, out.output
        medians[name] = pd.read_csv(here / "p.csv").groupby("ds")["orders_median"].sum().round(6).unique().tolist()
    assert medians == {"ets": [5000.0], "lgbm": [1000.0]}
    typo = CliRunner().invoke(app, [*plan, "--model", "lgb"])
    assert typo.exit_code == 1 and "(did you mean 'lgbm'?)" in typo.output


# A forecasts file lacking a day in the middle (a filter, a failed export) planned no shift that day,
# 0 packers booked, without a word.
def test_a_forecast_lacking_a_day_is_noted(here: Path) -> None:
    days = pd.date_range("2026-03-02", periods=5).delete(2)
    pd.DataFrame({"unique_id": "FC-1", "ds": days.date, "0.1": 800.0, "0.5": 1000.0, "0.9": 1200.0}).to_csv(
        here / "f.csv", index=False)
    (here / "c.toml").write_text("[defaults]\nmin_packers = 1\n")
    out = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 0, out.output
    assert "lacks days between a center's first and last day (FC-1: 1 day(s), e.g. 2026-03-04)" in out.output
    pd.DataFrame({"unique_id": "FC-1", "ds": pd.date_range("2026-03-02", periods=5).date, "0.1": 800.0,
                  "0.5": 1000.0, "0.9": 1200.0}).to_csv(here / "f.csv", index=False)
    full = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert full.exit_code == 0 and "lacks days" not in full.output


# A centers file holding only "[defaults]" (every built-in default) was refused: "no centers; add a
# [centers."<id>"] table per center (or a [defaults] table)", though it has one.
def test_an_empty_defaults_table_plans_on_the_built_in_defaults(here: Path) -> None:
    out = _plan_with(here, "[defaults]\n")
    assert out.exit_code == 0, out.output
    assert pd.read_csv(here / "p.csv")["shift"].unique().tolist() == ["day", "swing", "night"]
    empty = _plan_with(here, "# nothing yet\n")
    assert empty.exit_code == 1 and "no centers" in empty.output


@pytest.mark.parametrize("option", ["--forecasts", "--hourly"])
def test_a_plan_out_that_is_an_input_is_refused_and_the_input_kept(here: Path, option: str) -> None:
    _plan_with(here, "[defaults]\n")
    pd.DataFrame({"unique_id": "FC-1", "ds": pd.date_range("2026-02-02 00:00", periods=24 * 28, freq="h"),
                  "y": 5.0}).to_csv(here / "h.csv", index=False)
    target = "f.csv" if option == "--forecasts" else "h.csv"
    before = (here / target).read_bytes()
    out = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--hourly", "h.csv",
                                   "--out", str(here / target)])
    assert out.exit_code == 1 and f"is the {option} file" in out.output
    assert (here / target).read_bytes() == before


# Ctrl-C (or a kill, a full disk) while the forecast or plan was being written left half a file
# where the previous one was: a plan read it as a forecast of fewer centers.
@pytest.mark.parametrize("name", ["o.csv", "o.csv.gz", "o.parquet"])
def test_a_write_interrupted_halfway_leaves_the_previous_file(tmp_path: Path, monkeypatch, name: str) -> None:
    from fcplan.app.files import write_csv

    out = tmp_path / name
    old = pd.DataFrame({"unique_id": ["a", "b"], "ds": ["2026-03-02"] * 2, "0.5": [1.0, 2.0]})
    write_csv(old, out)
    before = out.read_bytes()

    def halfway(self, path, *args, **kwargs):
        Path(path).write_bytes(b"unique_id,ds,0.5\na,2026-")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", halfway)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", halfway)
    with pytest.raises(KeyboardInterrupt):
        write_csv(old.assign(**{"0.5": 9.0}), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no partial file left


# The partial file was named ".o.csv.partial-PID.zip": the zip archive's member was that hidden name, not
# o.csv, and "o.csv.tar.gz" (partial ".o.csv.partial-PID.gz") was written as gzip, not as a tar archive.
def test_an_archive_out_is_written_as_pandas_writes_that_name(tmp_path: Path) -> None:
    import tarfile
    import zipfile

    from fcplan.app.files import write_csv

    frame = pd.DataFrame({"unique_id": ["a"], "ds": ["2026-03-02"], "0.5": [1.0]})
    (tmp_path / "direct").mkdir()
    for name in ("o.csv.zip", "o.csv.tar.gz"):
        write_csv(frame, tmp_path / name)
        frame.to_csv(tmp_path / "direct" / name, index=False)
        assert pd.read_csv(tmp_path / name).equals(frame)
    assert zipfile.ZipFile(tmp_path / "o.csv.zip").namelist() == ["o.csv"]
    with tarfile.open(tmp_path / "o.csv.tar.gz", "r:gz") as ours, \
            tarfile.open(tmp_path / "direct" / "o.csv.tar.gz", "r:gz") as direct:
        assert ours.getnames() == direct.getnames()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["direct", "o.csv.tar.gz", "o.csv.zip"]


# A centers file saved by Windows Notepad (UTF-8 with a byte-order mark) was "not valid TOML: Invalid
# statement (at line 1, column 1)"; [centers." FC-1"] (a stray space) was not center FC-1, whose
# forecast was then planned on [defaults] without its max_packers; "fc-1" had no "did you mean".
def test_a_centers_file_with_a_byte_order_mark_is_read(here: Path) -> None:
    (here / "c.toml").write_bytes("\ufeff[defaults]\nmin_packers = 3\n".encode())
    _plan_with(here, (here / "c.toml").read_text(encoding="utf-8"))
    out = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 0, out.output
    assert pd.read_csv(here / "p.csv")["packers"].min() == 3


def test_a_centers_file_in_utf16_says_to_save_it_as_utf8(here: Path) -> None:
    _plan_with(here, "[defaults]\n")
    (here / "c.toml").write_text("[defaults]\n", encoding="utf-16")
    out = CliRunner().invoke(app, ["plan", "--centers", "c.toml", "--forecasts", "f.csv", "--out", "p.csv"])
    assert out.exit_code == 1 and "is not UTF-8 text" in out.output and "save it as UTF-8" in out.output


def test_a_center_table_with_a_stray_space_is_that_center(here: Path) -> None:
    out = _plan_with(here, '[defaults]\n[centers." FC-1 "]\nmax_packers = 1\n')
    assert out.exit_code == 0, out.output
    assert pd.read_csv(here / "p.csv")["packers"].max() == 1 and "note" not in out.output
    twice = _plan_with(here, '[centers." FC-1"]\nmax_packers = 1\n[centers."FC-1"]\nmax_packers = 2\n')
    assert twice.exit_code == 1 and "centers ' FC-1' and 'FC-1' are one center" in twice.output
    upper = _plan_with(here, '[defaults]\n[centers."fc-1"]\nmax_packers = 1\n')
    assert upper.exit_code == 0 and "did you mean 'fc-1' for 'FC-1'?" in upper.output


# "15%" was "Input should be a valid number, unable to parse string as a number"; FCPLAN_TIMEZONE with
# a space after "=" was "' Asia/Seoul' is not an IANA zone, e.g. Asia/Seoul".
@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("FCPLAN_PLANNER_SHRINKAGE", "15%", "'15%' is a percentage; write the share between 0 and 1, 0.15"),
    ("FCPLAN_TIMEZONE", " Asia/Seoul", None),
])
def test_settings_written_as_people_write_them(here: Path, monkeypatch, variable: str, value: str,
                                               expected: str | None) -> None:
    _plan_with(here, "[defaults]\n")
    monkeypatch.setenv(variable, value)
    out = CliRunner().invoke(app, ["plan", "--forecasts", "f.csv", "--out", "p.csv"])
    if expected is None:
        assert out.exit_code == 0, out.output
    else:
        assert out.exit_code == 2 and expected in out.output
