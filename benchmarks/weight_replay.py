"""Replay ensemble weight-choice schemes on the members' own forecasts (issue #15, short series).

Each panel's whole frame is backtested once on ``--windows`` rolling windows (default 11) by the
non-network members (the race and the calibration off): the three newest windows are the dev
suite's test windows 1-3, and for each of them a scheme chooses weights on the older windows
only and is scored there (wQL at 0.1/0.5/0.9, *uncalibrated*: the engine's conformal calibration,
disagreement and networks are not replayed). The table gives each scheme's mean wQL over the
three test windows as a ratio to ``g2`` (the engine's greedy weights on its 2 backtest windows)
and the geometric mean over panels; then each member alone.

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/weight_replay.py [--panels a,b] [--cache DIR]

The captures are pickled in ``--cache`` (default /tmp/weight_replay) and reused.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fcplan.core.quantiles import quantile_columns
from fcplan.models import engine
from fcplan.models.backtest import point_evidence, stack_predictions
from fcplan.models.ensemble import _greedy, combine
from fcplan.models.metrics import window_wql

LEVELS = [0.1, 0.5, 0.9]
MEMBERS = ["seasonal_naive", "moving_average", "ets", "sarimax", "theta", "glm", "lightgbm"]
PANELS = ("hyndsight_daily", "births_short", "births_2y", "jfk_daily", "ewr_daily", "elec_daily", "retail_uk",
          "retail_eu_2y")
TESTS = 3

#: (capture, history windows, test window) -> (n_points of the test window, n_q) forecasts
Scheme = Callable[[dict, list[int], int], np.ndarray]


def capture(panel, windows: int) -> dict:
    """The members' forecasts of ``windows`` rolling windows of the panel's whole frame."""
    store: dict = {}
    race = engine._race

    def keep(*args, **kwargs):
        out = race(*args, **kwargs)
        store["results"], store["splits"] = out[0], args[4]
        return out

    engine._race, ratio, engine.RACE_RATIO = keep, engine.RACE_RATIO, 0
    try:
        engine.run_backtest(panel.frame, panel.horizon, LEVELS, freq=panel.freq, models=MEMBERS, windows=windows,
                            calibration="none")
    finally:
        engine._race, engine.RACE_RATIO = race, ratio
    names, preds, keys = stack_predictions(store["results"], quantile_columns(LEVELS))
    steps = point_evidence(keys, store["splits"], panel.horizon, panel.freq)["step"].to_numpy()
    return {"names": names, "preds": preds, "actuals": keys["y"].to_numpy("float64"),
            "groups": keys["window"].to_numpy(), "steps": steps}


def _loss(actuals: np.ndarray, groups: np.ndarray, decay: float = 1.0) -> Callable[[np.ndarray], float]:
    """Window-mean wQL, window ``w`` weighted ``decay ** (newest - w)``."""
    ok = np.isfinite(actuals)
    y, windows = actuals[ok], groups[ok]
    labels, inverse = np.unique(windows, return_inverse=True)
    weight = decay ** (labels.max() - labels)
    weight = weight / weight.sum()
    denom = np.bincount(inverse, weights=np.abs(y))
    denom = np.where(denom > 0, denom, 1.0)
    q = np.asarray(LEVELS)[None, :]

    def loss(pred: np.ndarray) -> float:
        diff = y[:, None] - pred[ok]
        pin = np.maximum(q * diff, (q - 1) * diff).mean(axis=1)
        return float(np.sum(weight * 2 * np.bincount(inverse, weights=pin) / denom))

    return loss


def _part(cap: dict, windows: list[int], steps: np.ndarray | None = None):
    mask = np.isin(cap["groups"], windows)
    if steps is not None:
        mask &= steps
    return cap["preds"][:, mask], cap["actuals"][mask], cap["groups"][mask]


def weighted(choose: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], last: int) -> Scheme:
    """The test window combined with the weights ``choose`` picks on the ``last`` history windows."""
    def scheme(cap: dict, history: list[int], test: int) -> np.ndarray:
        preds, actuals, groups = _part(cap, history[-last:])
        return combine(list(_part(cap, [test])[0]), choose(preds, actuals, groups))
    return scheme


def greedy(decay: float = 1.0):
    return lambda p, y, g: _greedy(p, _loss(y, g, decay), 50)


def top(k: int, decay: float = 1.0):
    """Equal weights over the ``k`` members of least (decayed) wQL."""
    def choose(p, y, g):
        loss = _loss(y, g, decay)
        w = np.zeros(p.shape[0])
        w[np.argsort([loss(m) for m in p])[:k]] = 1.0
        return w / w.sum()
    return choose


def per_bucket(last: int, split: int = 7) -> Scheme:
    """Greedy weights of their own for the steps before ``split`` and from it on."""
    def scheme(cap: dict, history: list[int], test: int) -> np.ndarray:
        mask = np.isin(cap["groups"], [test])
        test_preds, test_steps = cap["preds"][:, mask], cap["steps"][mask]
        out = np.empty(test_preds.shape[1:])
        for early in (True, False):
            preds, actuals, groups = _part(cap, history[-last:], (cap["steps"] < split) == early)
            rows = (test_steps < split) == early
            out[rows] = combine(list(test_preds[:, rows]), _greedy(preds, _loss(actuals, groups), 50))
        return out
    return scheme


def lowo(candidates: list[Scheme], last: int = 2) -> Scheme:
    """The candidate whose leave-one-window-out score on the ``last`` history windows is least."""
    def scheme(cap: dict, history: list[int], test: int) -> np.ndarray:
        use = history[-last:]
        scores = [np.mean([score(cap, s(cap, [h for h in use if h != t], t), t) for t in use]) for s in candidates]
        return candidates[int(np.argmin(scores))](cap, use, test)
    return scheme


def score(cap: dict, pred: np.ndarray, test: int) -> float:
    _, actuals, groups = _part(cap, [test])
    return window_wql(actuals, LEVELS, groups)(np.sort(pred, axis=-1))


SCHEMES: dict[str, Scheme] = {
    "g2": weighted(greedy(), 2),
    "g4": weighted(greedy(), 4),
    "g8": weighted(greedy(), 8),
    "g6 decay .5": weighted(greedy(0.5), 6),
    "g8 decay .7": weighted(greedy(0.7), 8),
    "best 1 of 2": weighted(top(1), 2),
    "equal top 3 of 4": weighted(top(3), 4),
    "per bucket 1-7/8-14, 2": per_bucket(2),
    "lowo g2 / top 3": lowo([weighted(greedy(), 1), weighted(top(3), 1)]),
}


def print_table(table: dict[str, np.ndarray], names: list[str], base: str, worst: bool = False) -> None:
    """Each scheme's wQL over the panels ``names`` as a ratio to scheme ``base``'s, with the geometric
    mean (and, with ``worst``, the largest ratio); then ``base``'s wQL."""
    ref = table[base]
    width = max(26, *(len(s) + 1 for s in table))
    print(f"{'scheme':<{width}}" + "".join(f"{n[:10]:>11}" for n in names) + "   geo" + (" worst" if worst else ""))
    for s, row in table.items():
        ratio = row / ref
        print(f"{s:<{width}}" + "".join(f"{v:11.3f}" for v in ratio) + f"{np.exp(np.mean(np.log(ratio))):7.3f}"
              + (f"{ratio.max():6.3f}" if worst else ""))
    print(f"{base + ' wQL':<{width}}" + "".join(f"{v:11.4f}" for v in ref))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--panels", default=",".join(PANELS))
    ap.add_argument("--windows", type=int, default=11)
    ap.add_argument("--cache", default="/tmp/weight_replay")
    args = ap.parse_args()
    import shapes
    import short_daily
    from devsuite import PANELS as SUITE

    known = {**SUITE, **short_daily.SHORT, **shapes.EXTRA}
    names = args.panels.split(",")
    caps = {}
    for name in names:
        path = Path(args.cache) / f"{name}_{args.windows}.pkl"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(capture(known[name](), args.windows)))
        caps[name] = pickle.loads(path.read_bytes())
    tests = range(args.windows - TESTS, args.windows)
    table = {s: np.array([np.mean([score(c, f(c, list(range(t)), t), t) for t in tests]) for c in caps.values()])
             for s, f in SCHEMES.items()}
    print_table(table, names, "g2")
    for name, cap in caps.items():
        alone = {m: round(float(np.mean([score(cap, cap['preds'][i, cap['groups'] == t], t) for t in tests])), 4)
                 for i, m in enumerate(cap["names"])}
        print(name, "members alone:", alone)


if __name__ == "__main__":
    main()
