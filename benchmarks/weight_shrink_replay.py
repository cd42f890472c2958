"""Weight rules for thin evidence, replayed on ``weight_replay.py``'s captures (issue #15, session 20).

Each scheme chooses weights on the test window's older windows (as many as the engine backtests on:
2 on daily data, up to 4 on monthly/quarterly) and is scored on the test window, *uncalibrated*
(no race, networks, calibration or disagreement). Ratios to the greedy weights on the same windows.
Schemes: the greedy weights moved a fixed share toward a target (equal weights over every member
within ``ensemble.OUTLIER_RATIO`` of the best, over those within 1.2 / 1.5 / 2 x, over the best 3,
or inverse squared wQL), the same with the share chosen by the leave-one-window-out score
(``lowo ...``: from {0, 0.5}, kept only if better by a margin), the members' median.

    weight_replay.py --panels hyndsight_daily,...,retail_eu_2y --cache /tmp/i30_wr      # captures, 11 windows
    weight_replay.py --panels airpassengers_monthly --windows 8 --cache /tmp/i30_wr     # monthly_mixed 5,
    # quarterly_mixed 6, visnights_quarterly 5, prison_quarterly 4
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/weight_shrink_replay.py --cache /tmp/i30_wr
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from weight_replay import _loss, _part, print_table, score

from fcplan.models.ensemble import OUTLIER_RATIO, _greedy, combine

#: panel -> (capture file stem, the engine's backtest windows, horizon)
PANELS = {
    "hyndsight_daily": ("hyndsight_daily_11", 2, 14), "births_short": ("births_short_11", 2, 14),
    "births_2y": ("births_2y_11", 2, 14), "jfk_daily": ("jfk_daily_11", 2, 14), "ewr_daily": ("ewr_daily_11", 2, 14),
    "elec_daily": ("elec_daily_11", 2, 14), "retail_uk": ("retail_uk_11", 2, 14),
    "retail_eu_2y": ("retail_eu_2y_11", 2, 14), "airpassengers_monthly": ("airpassengers_monthly_8", 4, 12),
    "monthly_mixed": ("monthly_mixed_5", 4, 12), "quarterly_mixed": ("quarterly_mixed_6", 4, 8),
    "visnights_quarterly": ("visnights_quarterly_5", 4, 8), "prison_quarterly": ("prison_quarterly_4", 2, 8),
}
Choose = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def greedy_weights(p: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The engine's rule: greedy over the members within ``OUTLIER_RATIO`` of the best."""
    loss = _loss(y, g)
    alone = np.array([loss(m) for m in p])
    eligible = np.flatnonzero(alone <= OUTLIER_RATIO * alone.min())
    w = np.zeros(len(p))
    w[eligible] = _greedy(p[eligible], loss, 50)
    return w


def target(kind: str, p: np.ndarray, y: np.ndarray, g: np.ndarray, ratio: float = 1.5, top: int = 3) -> np.ndarray:
    loss = _loss(y, g)
    alone = np.array([loss(m) for m in p])
    t = np.zeros(len(p))
    if kind == "eq":
        t[alone <= OUTLIER_RATIO * alone.min()] = 1
    elif kind == "ratio":
        t[alone <= ratio * alone.min()] = 1
    elif kind == "top":
        t[np.argsort(alone)[:top]] = 1
    elif kind == "inv":
        ok = alone <= OUTLIER_RATIO * alone.min()
        t[ok] = 1 / alone[ok] ** 2
    return t / t.sum()


def fixed(kind: str, share: float, **kw) -> Choose:
    return lambda p, y, g: (1 - share) * greedy_weights(p, y, g) + share * target(kind, p, y, g, **kw)


def lowo(kind: str, margin: float = 0.0, shares: tuple[float, ...] = (0.0, 0.5), **kw) -> Choose:
    """The share whose leave-one-window-out score is least (kept over 0 only if better by ``margin``)."""
    def shrunk(p, y, g, mask, share):
        return fixed(kind, share, **kw)(p[:, mask], y[mask], g[mask])

    def choose(p, y, g):
        windows = np.unique(g)
        share = 0.0
        if len(windows) > 1:
            scores = [sum(_loss(y[g == x], g[g == x])(combine(list(p[:, g == x]), shrunk(p, y, g, g != x, s)))
                          for x in windows) for s in shares]
            best = int(np.argmin(scores))
            share = shares[best] if scores[best] < (1 - margin) * scores[0] else 0.0
        return shrunk(p, y, g, np.ones(len(y), bool), share)
    return choose


SCHEMES: dict[str, Choose] = {
    "greedy (engine)": greedy_weights,
    **{f"eq share {s:.2f}": fixed("eq", s) for s in (1 / 3, 0.5, 2 / 3)},
    "within 1.5x share 0.5": fixed("ratio", 0.5),
    "top 3 share 0.25": fixed("top", 0.25),
    "inverse wQL^2 share 0.5": fixed("inv", 0.5),
    "lowo eq {0,.25,...,1}": lowo("eq", shares=(0, .25, .5, .75, 1)),
    "lowo within 1.2x {0,.5}": lowo("ratio", ratio=1.2),
    "lowo within 1.2x {0,.5} m2%": lowo("ratio", 0.02, ratio=1.2),
    "lowo top 3 {0,.5}": lowo("top"),
    "lowo top 3 {0,.5} m2%": lowo("top", 0.02),
}


def run(cap: dict, choose: Choose | None, last: int, tests: range, median_ratio: float = 0.0) -> float:
    out = []
    for t in tests:
        p, y, g = _part(cap, list(range(t))[-last:])
        test = _part(cap, [t])[0]
        if choose is None:  # members' median over those within median_ratio of the best
            alone = np.array([_loss(y, g)(m) for m in p])
            out.append(score(cap, np.median(test[alone <= median_ratio * alone.min()], axis=0), t))
        else:
            out.append(score(cap, combine(list(test), choose(p, y, g)), t))
    return float(np.mean(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/weight_replay")
    args = ap.parse_args()
    caps = {n: pickle.loads((Path(args.cache) / f"{f}.pkl").read_bytes()) for n, (f, _, _) in PANELS.items()
            if (Path(args.cache) / f"{f}.pkl").exists()}
    rows = {}
    for name, choose in [*SCHEMES.items(), ("median, within 3x", None), ("median, within 1.5x", None)]:
        ratio = {"median, within 3x": OUTLIER_RATIO, "median, within 1.5x": 1.5}.get(name, 0.0)
        rows[name] = np.array([run(c, choose, PANELS[n][1], range(len(np.unique(c["groups"])) - 3,
                                                                  len(np.unique(c["groups"]))), ratio)
                               for n, c in caps.items()])
    print_table(rows, list(caps), "greedy (engine)", worst=True)

if __name__ == "__main__":
    main()
