"""The calibration benchmark's summary (benchmarks/calibration.py), on made-up frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from calibration import COLS, LEVELS, summary


def window(y: list[float], half_width: float) -> pd.DataFrame:
    """Quantiles around a median of 10, the outer levels ``half_width`` away (linear in between)."""
    offsets = (np.asarray(LEVELS) - 0.5) / 0.45 * half_width
    frame = pd.DataFrame({"y": y})
    frame[COLS] = 10.0 + np.tile(offsets, (len(y), 1))
    return frame


def test_summary_reports_the_spread_of_the_windows_own_coverage_beside_the_pooled_one() -> None:
    covered = window([10.0, 11.0, 9.0, 10.5], half_width=5.0)
    missed = window([30.0, -10.0, 40.0, 25.0], half_width=5.0)
    out = summary([covered, missed])
    assert out["coverage_80"] == 0.5
    assert (out["coverage_80_window_min"], out["coverage_80_window_max"]) == (0.0, 1.0)


def test_summary_reports_the_coverage_of_the_steps_with_a_known_ahead_flag() -> None:
    frame = window([10.0, 11.0, 30.0, 40.0], half_width=5.0).assign(flagged=[False, False, True, True])
    out = summary([frame])
    assert (out["coverage_80"], out["coverage_80_flagged"]) == (0.5, 0.0)
    assert "coverage_80_flagged" not in summary([frame.assign(flagged=False)])
