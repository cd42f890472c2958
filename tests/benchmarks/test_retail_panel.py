"""The real panel of the benchmarks (benchmarks/retail.py), on a made-up orders export."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from retail import retail_panel


def export(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "orders.csv"
    pd.DataFrame(rows, columns=["ts", "region"]).to_csv(path, index=False)
    return path


def test_the_export_s_partial_last_day_is_left_out_and_closed_days_count_zero(tmp_path: Path) -> None:
    path = export(tmp_path, [
        ("2024-01-01 09:00", "UK"), ("2024-01-01 15:00", "UK"), ("2024-01-01 10:00", "EU"),
        ("2024-01-03 11:00", "UK"), ("2024-01-03 12:00", "ROW"),
        ("2024-01-04 09:30", "UK"),  # the export stops during this day
    ])
    panel = retail_panel(path)
    assert panel["ds"].max() == pd.Timestamp("2024-01-03")
    uk = panel[panel["unique_id"] == "UK"].set_index("ds")["y"]
    eu = panel[panel["unique_id"] == "EU"].set_index("ds")["y"]
    assert uk.tolist() == [2.0, 0.0, 1.0]
    assert eu.tolist() == [1.0, 0.0, 0.0]


def test_the_repository_s_export_ends_on_the_last_complete_day() -> None:
    panel = retail_panel()
    assert panel["ds"].max() == pd.Timestamp("2011-12-08")
    assert set(panel["unique_id"]) == {"UK", "EU"}
