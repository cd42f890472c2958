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
from fcplan.models.stats import SARIMAX, Theta, _Fitted, to_model_scale


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


class ThetaMult(Theta):
    """Theta with multiplicative deseasonalisation (statsmodels ``method="multiplicative"``), as
    statsforecast's AutoTheta decomposes where the season tests multiplicative."""

    name = "theta_mult"

    def _fit_series(self, y: np.ndarray, x: np.ndarray) -> _Fitted:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        z, logged = to_model_scale(y, self.params["transform"])
        m = self.season_
        method = "multiplicative" if np.nanmin(z) > 0 else "additive"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ThetaModel(z, period=m if m > 1 else None, deseasonalize=m > 1 and z.size >= 2 * m,
                                method=method).fit()
        return _Fitted(result, y, logged)


def lgbm_with(seeds: int = 1, max_horizon: int = 14, seed: int = 0, **booster: float) -> Forecaster:
    """LightGBM with booster params overridden (``feature_fraction``, ``bagging_fraction``...)."""
    from fcplan.models.lgbm import LightGBMQuantile

    class Variant(LightGBMQuantile):
        def _booster_params(self, q, seed):
            return {**super()._booster_params(q, seed), **booster}

    return Variant(seeds=seeds, max_horizon=max_horizon, seed=seed)


CANDIDATES: dict[str, Callable[[], Forecaster]] = {
    "sarima_100_011": lambda: FixedSARIMA(backend="statsmodels"),
    "glm_local_23d": lambda: get_model("glm", half_life=0.0625, yearly_terms=0),
    "glm_local_46d": lambda: get_model("glm", half_life=0.125, yearly_terms=0),
    "glm_local_92d": lambda: get_model("glm", half_life=0.25, yearly_terms=0),
    "glm_hl46_yearly": lambda: get_model("glm", half_life=0.125),
    "theta_numpy": lambda: get_model("theta", backend="numpy"),
    "ets_log": lambda: get_model("ets", transform="log1p"),
    "ets_log_nodamp": lambda: get_model("ets", transform="log1p", damped=False),
    "theta_log": lambda: get_model("theta", transform="log1p"),
    "sarimax_log": lambda: get_model("sarimax", transform="log1p"),
    "ets_none": lambda: get_model("ets", transform="none"),
    "theta_mult": lambda: ThetaMult(backend="statsmodels"),
    "theta_mult_none": lambda: ThetaMult(backend="statsmodels", transform="none"),
    "sarimax_sm": lambda: get_model("sarimax", backend="statsmodels"),
    "sarimax_sm_log": lambda: get_model("sarimax", backend="statsmodels", transform="log1p"),
    "ets_sm": lambda: get_model("ets", backend="statsmodels"),
    "theta_sm": lambda: get_model("theta", backend="statsmodels"),
    "theta_none": lambda: get_model("theta", transform="none"),
    "lgbm_seeds3": lambda: get_model("lightgbm", seeds=3),
    "lgbm_seeds5": lambda: get_model("lightgbm", seeds=5),
    "lgbm_h14": lambda: lgbm_with(1),
    "lgbm_h14_s3": lambda: lgbm_with(3),
    "lgbm_h14_seed1": lambda: lgbm_with(1, seed=1),
    "lgbm_h14_seed2": lambda: lgbm_with(1, seed=2),
    "lgbm_h14_s5": lambda: lgbm_with(5),
    "lgbm_h28": lambda: lgbm_with(1, 28),
    "lgbm_h28_s3": lambda: lgbm_with(3, 28),
    "lgbm_h14_s3_bag033": lambda: lgbm_with(3, bagging_fraction=0.33),
    "lgbm_nobag": lambda: lgbm_with(1, feature_fraction=1.0, bagging_fraction=1.0, bagging_freq=0),
    "lgbm_nofeat": lambda: lgbm_with(1, feature_fraction=1.0),
    "lgbm_s3_bag033": lambda: lgbm_with(3, bagging_fraction=0.33),
    "lgbm_leaf50": lambda: lgbm_with(1, min_data_in_leaf=50),
    "lgbm_leaf50_seed1": lambda: lgbm_with(1, seed=1, min_data_in_leaf=50),
    "lgbm_leaf100": lambda: lgbm_with(1, min_data_in_leaf=100),
    "lgbm_leaves15": lambda: lgbm_with(1, num_leaves=15),
    "lgbm_seed0": lambda: get_model("lightgbm"),
    "lgbm_seed1": lambda: get_model("lightgbm", seed=1),
    "lgbm_seed2": lambda: get_model("lightgbm", seed=2),
    "lgbm_seeds3_s3": lambda: get_model("lightgbm", seeds=3, seed=3),
}


def without(cap: dict, name: str | None) -> dict:
    """The capture less member ``name`` (None: as it is)."""
    if not name or name not in cap["names"]:
        return cap
    keep = [i for i, n in enumerate(cap["names"]) if n != name]
    return {**cap, "preds": cap["preds"][keep], "names": [cap["names"][i] for i in keep]}


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


def cached(path: Path, make: Callable[[], np.ndarray]) -> np.ndarray:
    """``make()``, pickled at ``path`` and read back from there the next time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(make()))
    return pickle.loads(path.read_bytes())


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
    ap.add_argument("--replace", default=None, help="a pool member each candidate replaces (default: added)")
    args = ap.parse_args()
    import shapes
    import short_daily
    from devsuite import PANELS as SUITE

    known = {**SUITE, **short_daily.SHORT, **shapes.EXTRA}
    tests = range(args.windows - wr.TESTS, args.windows)
    members = args.members.split(",")
    ratios: dict[str, list[float]] = {m: [] for m in members}
    for name in args.panels.split(","):
        panel = known[name]()
        path = Path(args.cache) / f"{name}_{args.windows}.pkl"
        full = cached(path, lambda panel=panel: wr.capture(panel, args.windows))
        cap = without(full, args.replace)
        base = float(np.mean(g2(full, tests)))
        print(f"{name}: g2 {base:.4f}, oracle {oracle(full, tests):.4f}"
              + (f"; less {args.replace}: g2 {np.mean(g2(cap, tests)):.4f}" if cap is not full else ""), flush=True)
        extended = dict(cap)
        for member in members:
            parts = [cached(Path(args.cache) / f"{name}_{part}_{args.windows}.pkl",
                            lambda part=part, panel=panel: capture_member(panel, CANDIDATES[part], args.windows))
                     for part in member.split("+")]
            preds = parts[-1]
            with_member = {**cap, "preds": np.concatenate([cap["preds"], np.stack(parts)]),
                           "names": [*cap["names"], *member.split("+")]}
            value = float(np.mean(g2(with_member, tests)))
            alone = float(np.mean([wr.score(with_member, preds[cap["groups"] == t], t) for t in tests]))
            ratios[member].append(value / base)
            print(f"  + {member:<16} g2 {value:.4f} ({value / base:.3f}), alone {alone:.4f}, oracle "
                  f"{oracle(with_member, tests):.4f}", flush=True)
            if "+" not in member:
                extended = {**extended, "preds": np.concatenate([extended["preds"], preds[None]]),
                            "names": [*extended["names"], member]}
        print(f"  oracle with every candidate {oracle(extended, tests):.4f}", flush=True)
    for member, r in ratios.items():
        print(f"{member:<16} geo mean of the g2 ratios {np.exp(np.mean(np.log(r))):.3f}, worst {max(r):.3f}")


if __name__ == "__main__":
    main()
