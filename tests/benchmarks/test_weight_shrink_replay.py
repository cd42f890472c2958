"""The thin-evidence weight rules' replay (benchmarks/weight_shrink_replay.py) on a made-up capture."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from weight_shrink_replay import SCHEMES, fixed, greedy_weights, lowo, run


def capture(windows: int = 6, steps: int = 12) -> dict:
    """Two members of one series: ``good`` near the truth, ``bad`` 2 % too high (about twice good's wQL:
    no outlier, but not near the best)."""
    rng = np.random.default_rng(1)
    y = 100 + rng.normal(0, 2, windows * steps)
    median = y + rng.normal(0, 1, y.size)
    good = np.column_stack([median - 2, median, median + 2])
    return {"names": ["good", "bad"], "preds": np.stack([good, 1.02 * good]), "actuals": y,
            "groups": np.repeat(np.arange(windows), steps)}


def _history(cap: dict, windows: list[int]):
    mask = np.isin(cap["groups"], windows)
    return cap["preds"][:, mask], cap["actuals"][mask], cap["groups"][mask]


def test_shrinking_toward_every_member_mixes_in_the_bad_one_and_the_honest_choice_does_not():
    cap = capture()
    p, y, g = _history(cap, [3, 4])
    np.testing.assert_allclose(greedy_weights(p, y, g), [1.0, 0.0])
    np.testing.assert_allclose(fixed("eq", 0.5)(p, y, g), [0.75, 0.25])
    np.testing.assert_allclose(lowo("eq")(p, y, g), [1.0, 0.0])  # left-out windows say: do not shrink
    np.testing.assert_allclose(fixed("ratio", 0.5, ratio=1.2)(p, y, g), [1.0, 0.0])  # bad is not near the best


def test_every_scheme_scores_the_test_windows_and_the_median_of_one_member_is_that_member():
    cap = capture(windows=6)
    for name, choose in SCHEMES.items():
        assert run(cap, choose, 2, range(3, 6)) > 0, name
    assert run(cap, None, 2, range(3, 6), median_ratio=1.2) == run(cap, greedy_weights, 2, range(3, 6))
