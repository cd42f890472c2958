"""The weight-choice replay (benchmarks/weight_replay.py) on a made-up capture: no engine run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from weight_replay import SCHEMES, greedy, score, top, weighted


def capture(windows: int = 6, steps: int = 14, seed: int = 0) -> dict:
    """Two members: ``good`` forecasts the truth with a narrow band, ``bad`` is 30 % too high."""
    rng = np.random.default_rng(seed)
    n = windows * steps
    y = 100 + rng.normal(0, 2, n)
    good = np.column_stack([y - 3, y, y + 3])
    bad = 1.3 * good
    return {"names": ["good", "bad"], "preds": np.stack([good, bad]), "actuals": y,
            "groups": np.repeat(np.arange(windows), steps), "steps": np.tile(np.arange(steps), windows)}


def test_the_schemes_choose_on_the_history_windows_and_forecast_the_test_window():
    cap = capture()
    history, test = list(range(5)), 5
    for name, scheme in SCHEMES.items():
        pred = scheme(cap, history, test)
        assert pred.shape == (14, 3), name
        if not name.startswith("equal"):  # equal weights over the top 3 of 2 members: both
            assert score(cap, pred, test) < 0.01, name  # the others find the good member
    alone = score(cap, cap["preds"][1, cap["groups"] == test], test)
    assert alone > 0.2


def test_equal_weights_over_the_top_members_mix_them_and_greedy_does_not():
    cap = capture()
    history, test = list(range(5)), 5
    mixed = weighted(top(2), 2)(cap, history, test)
    greedy_pick = weighted(greedy(), 2)(cap, history, test)
    np.testing.assert_allclose(greedy_pick, cap["preds"][0, cap["groups"] == test])
    np.testing.assert_allclose(mixed, cap["preds"][:, cap["groups"] == test].mean(axis=0))
