"""Inputs nobody listed, round 6 (session 19, i29-probe): the offline paths' readers and the centers file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from fcplan.app.cli import app
from fcplan.app.console import read_csv

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

