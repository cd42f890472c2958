"""The dev-suite benchmark's scoring and summary (benchmarks/devsuite_accuracy.py), on made-up frames:
they need no bench-only package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from devsuite import Panel
from devsuite_accuracy import score, summarize


def actuals_and_forecast(y: list[float], lo: list[float], mid: list[float], hi: list[float]):
    ds = pd.date_range("2024-01-01", periods=len(y), freq="D")
    actuals = pd.DataFrame({"unique_id": "a", "ds": ds, "y": y})
    frame = pd.DataFrame({"unique_id": "a", "ds": ds, "0.1": lo, "0.5": mid, "0.9": hi})
    return actuals, frame


def test_score_counts_the_actuals_inside_the_outer_band_and_is_zero_for_a_perfect_forecast() -> None:
    actuals, frame = actuals_and_forecast([10, 20, 30, 40], [10, 25, 29, 41], [10, 20, 30, 40], [10, 26, 31, 45])
    value, inside, n = score(actuals, frame, [0.1, 0.5, 0.9])
    assert (inside, n) == (2, 4)  # 10 on the band's edge counts; 20 below it and 40 below it do not
    perfect = frame.assign(**{"0.1": actuals["y"], "0.5": actuals["y"], "0.9": actuals["y"]})
    assert score(actuals, perfect, [0.1, 0.5, 0.9])[0] == 0.0
    assert value > 0


def test_score_refuses_a_forecast_that_misses_test_rows() -> None:
    actuals, frame = actuals_and_forecast([1, 2, 3], [0, 1, 2], [1, 2, 3], [2, 3, 4])
    with pytest.raises(AssertionError, match="2 of 3"):
        score(actuals, frame.head(2), [0.1, 0.5, 0.9])


def test_summary_ratios_pick_the_best_statsforecast_model_and_check_each_target() -> None:
    result = {
        "wql": {"fcplan": 0.08, "AutoETS": 0.10, "AutoARIMA": 0.12, "autogluon": 0.09},
        "coverage_80": {"fcplan": 0.9, "AutoETS": 0.8, "AutoARIMA": 0.7, "autogluon": 0.82},
        "seconds_per_window": {"fcplan": 30.0, "statsforecast": 2.0, "autogluon": 20.0},
    }
    s = summarize(result)
    assert s["best_statsforecast"] == "AutoETS"
    assert s["ratio_to_best_statsforecast"] == pytest.approx(0.8)
    assert s["ratio_to_autogluon"] == pytest.approx(0.08 / 0.09)
    assert s["targets_met"] == {"wql_vs_statsforecast": True, "wql_vs_autogluon": True, "coverage": False,
                                "speed_vs_autogluon": False}


def test_summary_without_autogluon_leaves_its_figures_empty() -> None:
    s = summarize({"wql": {"fcplan": 0.1, "AutoETS": 0.1}, "coverage_80": {"fcplan": 0.8, "AutoETS": 0.8},
                   "seconds_per_window": {"fcplan": 1.0, "statsforecast": 1.0}})
    assert s["autogluon_wql"] is None and s["targets_met"]["wql_vs_autogluon"] is None
    assert s["targets_met"]["wql_vs_statsforecast"] is False  # 1.0 > 0.90


def test_window_k_holds_out_the_kth_last_horizon_and_keeps_covariates_known_ahead() -> None:
    ds = pd.date_range("2024-01-01", periods=20, freq="D")
    frame = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(20.0), "promo": np.arange(20) % 2 * 1.0})
    panel = Panel("toy", "toy", frame, "D", horizon=4, windows=3, season_length=7, source="made up",
                  covariates=["promo"])
    window = panel.window(2)
    assert window.history["ds"].max() == ds[11]
    assert list(window.actuals["y"]) == [12.0, 13.0, 14.0, 15.0]
    assert list(window.future.columns) == ["unique_id", "ds", "promo"]
    with pytest.raises(ValueError, match=r"1\.\.3"):
        panel.window(4)
