"""The speed panel's peers, scores and CPU clock (benchmarks/speed_panel.py), with the engine and
AutoGluon replaced by stand-ins: no bench-only package is needed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import speed_panel as sp

from fcplan.models.engine import EngineResult


def _truth(frame: pd.DataFrame, shift: float = 0.0) -> pd.DataFrame:
    out = frame[["unique_id", "ds"]].copy()
    for q, col in zip(sp.LEVELS, sp.COLS, strict=True):
        out[col] = frame["y"].to_numpy() * (0.5 + q) + shift
    return out


def test_score_gives_the_issue_wql_over_three_levels_and_the_80_band_coverage() -> None:
    ds = pd.date_range("2024-01-07", periods=4, freq=sp.FREQ)
    test = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [10.0, 20.0, 30.0, 40.0]})
    frame = test[["unique_id", "ds"]].copy()
    frame[sp.COLS] = np.tile(np.linspace(15, 35, len(sp.COLS)), (4, 1))  # 0.1 -> 15, 0.9 -> 35
    s = sp.score(test, frame)
    assert (s["inside"], s["n"]) == (2.0, 4.0)
    q = frame[sp.COLS].to_numpy()
    assert s["wql3"] == pytest.approx(sp.wql(test["y"].to_numpy(), q[:, [0, 4, 8]], [0.1, 0.5, 0.9]))
    assert s["wql"] == pytest.approx(sp.wql(test["y"].to_numpy(), q, sp.LEVELS))
    assert s["wql3"] != pytest.approx(s["wql"])


def test_tree_cpu_counts_a_grandchild_that_is_still_running() -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(30)"
    spawn = (
        f"import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', {burn!r}])\n"
        "print(p.pid, flush=True)\ntime.sleep(30)"
    )
    before = sp.tree_cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", spawn], stdout=subprocess.PIPE, text=True)
    grandchild = int(child.stdout.readline())
    try:
        for _ in range(200):  # until the grandchild has burnt its 0.6 s (at most 20 s)
            used = sp.tree_cpu_seconds() - before
            if used >= 0.6:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert used >= 0.6  # this process alone used far less: the live grandchild is counted
    finally:
        os.kill(grandchild, signal.SIGKILL)
        child.kill()
        child.wait()


def test_run_scores_autogluon_beside_fcplan_with_the_known_covariates(monkeypatch, capsys) -> None:
    panel = sp.weekly_panel(n_series=3, weeks=40, seed=1)
    seen: dict[str, object] = {}

    def engine(train, horizon, levels, future, freq, models):
        return EngineResult(
            _truth(future.merge(panel, on=list(future.columns))),
            pd.DataFrame({"model": ["x"], "window": ["all"], "wql": [0.1], "coverage": [0.8], "fit_seconds": [1.0]}),
            {"x": 1.0},
            pd.DataFrame(),
            {},
        )

    def autogluon(train, future, horizon, levels, freq, time_limit_s=None):
        seen.update(
            train_cols=list(train.columns),
            future_cols=list(future.columns),
            limit=time_limit_s,
            levels=list(levels),
            freq=freq,
        )
        return _truth(future.merge(panel, on=list(future.columns)), shift=5.0)

    monkeypatch.setattr(sp, "run_engine", engine)
    monkeypatch.setitem(sys.modules, "devsuite_peers", types.SimpleNamespace(autogluon_forecast=autogluon))
    result = sp.run(panel, windows=2, models=None, peers=["autogluon"], ag_time_limit=90.0)
    assert seen == {
        "train_cols": ["unique_id", "ds", "y", "price", "promo", "holiday"],
        "future_cols": ["unique_id", "ds", "price", "promo", "holiday"],
        "limit": 90.0,
        "levels": sp.LEVELS,
        "freq": sp.FREQ,
    }
    assert set(result["wql"]) == {"fcplan", "autogluon"} == set(result["cpu_seconds_per_window"])
    assert result["wql"]["fcplan"] < result["wql"]["autogluon"]
    assert result["coverage_80"]["fcplan"] == 1.0
    # each window's scores as it ends
    assert len(re.findall(r"; wQL3 fcplan \d\.\d{4}, autogluon \d\.\d{4}\n", capsys.readouterr().out)) == 2
    with pytest.raises(ValueError, match="unknown peers"):
        sp.run(panel, windows=1, models=None, peers=["prophet"])
