"""Would a new member help the ensemble on short single daily series? (issue #15, hyndsight_daily)

Each candidate member is fitted on the same ``--windows`` rolling windows as
``benchmarks/weight_replay.py`` captures for the pool (its cache is reused, built if missing),
added to the pool's forecasts, and the engine's greedy weights on 2 backtest windows (``g2``) are
replayed on the 3 test windows: uncalibrated wQL at 0.1/0.5/0.9, its ratio to the pool without
the candidate, the candidate alone, and the *oracle* (greedy weights fitted on each test window
itself: the best any weight rule could do with these members).

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/member_replay.py [--panels a,b] [--members a,b]
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import weight_replay as wr

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.base import Forecaster
from fcplan.models.ensemble import _greedy, combine
from fcplan.models.registry import get_model
from fcplan.models.stats import SARIMAX, _Fitted, to_model_scale


class FixedSARIMA(SARIMAX):
    """Seasonal ARIMA of a fixed order on the panel's covariates: ``(1,0,0)(0,1,1)[season]`` with
    drift, what statsforecast's AutoARIMA picks on hyndsight_daily less its seasonal AR terms."""

    name = "sarima"

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _Fitted:
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _Sarimax

        z, logged = to_model_scale(y, self.params["transform"])
        keep = np.flatnonzero(np.ptp(x, axis=0) > 0) if x.shape[1] else np.array([], dtype=int)
        exog = x[:, keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _Sarimax(z, exog=exog if exog.shape[1] else None, order=(1, 0, 0),
                              seasonal_order=(0, 1, 1, self.season_), trend="c",
                              concentrate_scale=True).fit(disp=False, maxiter=int(self.params["max_iter"]))
        return _Fitted(result, y, logged, keep, False)


CANDIDATES: dict[str, Callable[[], Forecaster]] = {
    "sarima_100_011": lambda: FixedSARIMA(backend="statsmodels"),
    "glm_local_23d": lambda: get_model("glm", half_life=0.0625, yearly_terms=0),
    "glm_local_46d": lambda: get_model("glm", half_life=0.125, yearly_terms=0),
    "theta_numpy": lambda: get_model("theta", backend="numpy"),
}


def capture_member(panel, make: Callable[[], Forecaster], windows: int) -> np.ndarray:
    """``(points, 3)`` forecasts of the member on the capture's windows, in its point order."""
    stamps = np.sort(panel.frame[DS].unique())
    covs = [c for c in panel.frame.columns if c not in (UNIQUE_ID, DS, Y)]
    out = []
    for w in range(windows):
        k = windows - w
        origin, end = stamps[-k * panel.horizon - 1], stamps[-(k - 1) * panel.horizon - 1]
        history = panel.frame[panel.frame[DS] <= origin].reset_index(drop=True)
        test = panel.frame[(panel.frame[DS] > origin) & (panel.frame[DS] <= end)].sort_values(KEYS)
        frame = make().fit(history, freq=panel.freq).predict_quantiles(
            panel.horizon, future=test[[*KEYS, *covs]].reset_index(drop=True), quantiles=wr.LEVELS)
        out.append(test[KEYS].merge(frame, on=KEYS, how="left")[quantile_columns(wr.LEVELS)].to_numpy("float64"))
    return np.concatenate(out)


def g2(cap: dict, tests: range) -> list[float]:
    return [wr.score(cap, wr.SCHEMES["g2"](cap, list(range(t)), t), t) for t in tests]


def oracle(cap: dict, tests: range) -> float:
    scores = []
    for t in tests:
        preds, actuals, groups = wr._part(cap, [t])
        scores.append(wr.score(cap, combine(list(preds), _greedy(preds, wr._loss(actuals, groups), 50)), t))
    return float(np.mean(scores))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--panels", default=",".join(wr.PANELS))
    ap.add_argument("--members", default=",".join(CANDIDATES))
    ap.add_argument("--windows", type=int, default=11)
    ap.add_argument("--cache", default="/tmp/weight_replay")
    args = ap.parse_args()
    import short_daily
    from devsuite import PANELS as SUITE

    known = {**SUITE, **short_daily.SHORT}
    tests = range(args.windows - wr.TESTS, args.windows)
    members = args.members.split(",")
    ratios: dict[str, list[float]] = {m: [] for m in members}
    for name in args.panels.split(","):
        panel = known[name]()
        path = Path(args.cache) / f"{name}_{args.windows}.pkl"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(wr.capture(panel, args.windows)))
        cap = pickle.loads(path.read_bytes())
        base = float(np.mean(g2(cap, tests)))
        print(f"{name}: g2 {base:.4f}, oracle {oracle(cap, tests):.4f}", flush=True)
        extended = dict(cap)
        for member in members:
            preds = capture_member(panel, CANDIDATES[member], args.windows)
            with_member = {**cap, "preds": np.concatenate([cap["preds"], preds[None]]),
                           "names": [*cap["names"], member]}
            value = float(np.mean(g2(with_member, tests)))
            alone = float(np.mean([wr.score(with_member, preds[cap["groups"] == t], t) for t in tests]))
            ratios[member].append(value / base)
            print(f"  + {member:<16} g2 {value:.4f} ({value / base:.3f}), alone {alone:.4f}, oracle "
                  f"{oracle(with_member, tests):.4f}", flush=True)
            extended = {**extended, "preds": np.concatenate([extended["preds"], preds[None]]),
                        "names": [*extended["names"], member]}
        print(f"  oracle with every candidate {oracle(extended, tests):.4f}", flush=True)
    for member, r in ratios.items():
        print(f"{member:<16} geo mean of the g2 ratios {np.exp(np.mean(np.log(r))):.3f}, worst {max(r):.3f}")


if __name__ == "__main__":
    main()
