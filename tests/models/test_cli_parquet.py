"""``fcplan forecast`` / ``backtest`` / ``plan --forecasts`` on Parquet files. A Parquet history was
"not a readable CSV ('utf-8' codec can't decode byte 0xa0 ...)", and ``--out f.parquet`` held CSV
text that no Parquet reader opens; now Parquet is read (by its first bytes) and written (by the
suffix) with the same checks as a CSV file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app

CENTERS = Path(__file__).resolve().parents[2] / "centers.example.toml"
DAYS = pd.date_range("2026-01-01", periods=40)


def _history() -> pd.DataFrame:
    # ids as written by another tool: a category column; ds with a zone (both are read as in a CSV)
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": DAYS, "y": 900.0 + np.arange(40) % 7 * 30})
            for u in ("FC-SEOUL-1", "FC-BUSAN")
        ],
        ignore_index=True,
    )
    return frame.assign(unique_id=frame["unique_id"].astype("category"), ds=frame["ds"].dt.tz_localize("Asia/Seoul"))


def _invoke(*args: str):
    return CliRunner().invoke(app, [*args])


@pytest.mark.parametrize("index", [False, True], ids=["columns", "indexed"])
def test_a_parquet_history_is_forecast_and_a_parquet_out_is_parquet(tmp_path: Path, index: bool) -> None:
    history = _history()
    (history.set_index(["unique_id", "ds"]) if index else history).to_parquet(tmp_path / "h.parquet")
    out = _invoke(
        "forecast",
        "--history",
        str(tmp_path / "h.parquet"),
        "--horizon",
        "3",
        "--out",
        str(tmp_path / "f.parquet"),
        "--models",
        "seasonal_naive,moving_average",
    )
    assert out.exit_code == 0, out.output
    forecast = pd.read_parquet(tmp_path / "f.parquet")
    assert list(forecast.columns) == ["unique_id", "ds", "0.1", "0.5", "0.9"]
    assert sorted(forecast["unique_id"].unique()) == ["FC-BUSAN", "FC-SEOUL-1"]
    assert forecast["ds"].min() == pd.Timestamp("2026-02-10") and len(forecast) == 6

    shutil.copy(CENTERS, tmp_path / "centers.toml")
    out = _invoke(
        "plan",
        "--forecasts",
        str(tmp_path / "f.parquet"),
        "--centers",
        str(tmp_path / "centers.toml"),
        "--out",
        str(tmp_path / "p.csv"),
    )
    assert out.exit_code == 0, out.output
    assert pd.read_csv(tmp_path / "p.csv")["packers"].sum() > 0


def test_a_file_named_parquet_that_is_not_says_it_is_not_readable(tmp_path: Path) -> None:
    (tmp_path / "h.parquet").write_bytes(b"PAR1 but cut short")
    out = _invoke("backtest", "--history", str(tmp_path / "h.parquet"), "--horizon", "3")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "is not a readable Parquet file" in out.output
