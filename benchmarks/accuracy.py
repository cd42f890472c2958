"""Accuracy of fcplan's engine against statsforecast, measured in the same run.

Panels: (a) daily orders of the UK and EU regions of a real online retailer
(data/online_retail_ii_orders.csv.gz, closed days filled with 0, the
export's partial last day left out; benchmarks/retail.py), (b) 50
simulated centers with known true quantiles (fcplan.simulator). Horizon 14,
3 rolling windows ending at the last day; quantiles 0.1..0.9. Peers:
statsforecast SeasonalNaive, AutoETS, AutoARIMA, AutoTheta and their median
ensemble. Prints a wQL table with ratios to the best peer and, on the simulator,
to two oracles: ``oracle``, the true distribution knowing every promotion that
will run (hindsight: promotions are announced 3-14 days ahead, so no forecaster
at the origin knows them all), and ``oracle_at_origin``, the true distribution
given what is known at the forecast origin (the best any forecaster can do;
see ``Oracle.predictive_quantiles``). Then one JSON line. fcplan runs with its
defaults: no time budget, its work bounded by iterations and the data's size, so
the same run gives the same digits on any load (``--time-limit S`` sets a budget).
``--quick`` is a smoke check (one window, 10 centers).
``--timing N`` also times the engine on N simulated series of 3 years, horizon 28.
``--suite all`` (or a comma-separated list of panels) runs the dev suite instead
(benchmarks/devsuite.py: real panels of six shapes) against statsforecast and
AutoGluon-TS; see benchmarks/devsuite_accuracy.py and benchmarks/DEVSUITE.md.
Needs pandas<3 and statsforecast (see the Makefile
``bench`` target); run with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from devsuite import PANELS
from devsuite_accuracy import PEERS as SUITE_PEERS
from devsuite_accuracy import run_suite, score
from devsuite_peers import statsforecast_forecasts
from retail import retail_panel

from fcplan.core.panel import DS, KEYS, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine

ROOT = Path(__file__).resolve().parents[1]
LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
COLS = quantile_columns(LEVELS)
PEERS = ["SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta"]
#: The simulator's references: the true distribution knowing every promotion that will
#: run (hindsight), and the true distribution given what is known at the forecast origin.
ORACLES = ("oracle", "oracle_at_origin")


def simulated_panel(n: int, days: int, seed: int = 0):
    """``(panel, oracle)`` from fcplan.simulator, or None when it is not available."""
    try:
        from fcplan.simulator.oracle import simulate_daily_panel
    except ImportError as exc:  # the simulator is part of fcplan; kept optional for trimmed installs
        logging.warning("simulator unavailable (%s); panel (b) skipped", exc)
        return None
    return simulate_daily_panel(n_centers=n, days=days, seed=seed)


def peer_forecasts(train: pd.DataFrame, future: pd.DataFrame, horizon: int) -> dict[str, pd.DataFrame]:
    """statsforecast peers' quantile frames (``unique_id, ds`` + COLS), keyed by model name,
    and their median ensemble."""
    out = statsforecast_forecasts(train, future, horizon, LEVELS, freq="D", season_length=7, models=PEERS)
    median = out[PEERS[0]][KEYS].copy()
    median[COLS] = np.median(np.stack([out[n][COLS].to_numpy() for n in PEERS]), axis=0)
    out["peer_median_ensemble"] = median
    return out


def evaluate(
    panel: pd.DataFrame,
    horizon: int,
    windows: int,
    oracle=None,
    models: list[str] | None = None,
    country: str | None = None,
    time_limit_s: float | None = None,
) -> dict:
    """Mean over rolling windows of each model's wQL (and the oracle's when given).

    With an ``oracle`` the future covariates are those it announces at the forecast
    origin (``Oracle.future(start, horizon, as_of=start)``), not the ones that ran.
    ``country`` adds fcplan's holiday flags (the peers see none)."""
    last = panel[DS].max()
    covs = [c for c in panel.columns if c not in (*KEYS, Y)]
    scores: dict[str, list[float]] = {}
    seconds: dict[str, float] = {"fcplan": 0.0, "statsforecast": 0.0}
    weights: list[dict[str, float]] = []
    for w in range(windows, 0, -1):
        cutoff = last - pd.Timedelta(days=w * horizon)
        train = panel[panel[DS] <= cutoff]
        test = panel[(panel[DS] > cutoff) & (panel[DS] <= cutoff + pd.Timedelta(days=horizon))]
        future = test[[*KEYS, *covs]]
        if oracle is not None and covs:
            start = cutoff + pd.Timedelta(days=1)
            announced = oracle.future(start, horizon, as_of=start)
            future = test[KEYS].merge(announced[[*KEYS, *covs]], on=KEYS, how="left").fillna(0.0)
        t0 = time.perf_counter()
        result = run_engine(
            train,
            horizon,
            LEVELS,
            future=future if covs else None,
            freq="D",
            windows=2,
            models=models,
            holiday_country=country,
            time_limit_s=time_limit_s,
        )
        weights.append({k: round(v, 2) for k, v in result.weights.items() if v > 0})
        ours = result.forecast
        seconds["fcplan"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        frames = {"fcplan": ours, **peer_forecasts(train, future, horizon)}
        seconds["statsforecast"] += time.perf_counter() - t0
        if oracle is not None:
            first, end = cutoff + pd.Timedelta(days=1), cutoff + pd.Timedelta(days=horizon + 1)
            frames[ORACLES[0]] = oracle.quantiles(LEVELS, first, end)
            frames[ORACLES[1]] = oracle.predictive_quantiles(LEVELS, first, end, as_of=first)
        for name, frame in frames.items():
            scores.setdefault(name, []).append(score(test, frame, LEVELS)[0])
    return {"wql": {k: float(np.mean(v)) for k, v in scores.items()}, "seconds": seconds, "weights": weights}


def report(title: str, result: dict) -> dict:
    wqls = result["wql"]
    peers = {k: v for k, v in wqls.items() if k != "fcplan" and k not in ORACLES}
    best = min(peers, key=peers.get)
    refs = [o for o in ORACLES if o in wqls]
    print(f"\n{title} (best peer: {best})")
    print(f"{'model':<24}{'wQL':>8}{'/best peer':>12}" + "".join(f"{'/' + o:>18}" for o in refs))
    for name, value in sorted(wqls.items(), key=lambda kv: kv[1]):
        line = f"{name:<24}{value:8.4f}{value / peers[best]:12.3f}"
        line += "".join(f"{value / wqls[o]:18.3f}" for o in refs)
        print(line)
    print(f"seconds: {result['seconds']}")
    for w, weights in enumerate(result.get("weights", [])):
        print(f"fcplan ensemble weights, window {w}: {weights}")
    summary = {
        "fcplan_wql": wqls["fcplan"],
        "best_peer": best,
        "best_peer_wql": peers[best],
        "ratio_to_best_peer": wqls["fcplan"] / peers[best],
    }
    for o in refs:
        summary[f"{o}_wql"] = wqls[o]
        summary[f"ratio_to_{o}"] = wqls["fcplan"] / wqls[o]
    return summary


def timing(n_series: int, days: int = 3 * 365, horizon: int = 28) -> dict:
    """Wall time of backtest (2 windows) + forecast of the engine on simulated series."""
    sim = simulated_panel(n_series, days, seed=1)
    if sim is None:
        return {}
    panel, oracle = sim
    future = oracle.future(panel[DS].max() + pd.Timedelta(days=1), horizon)
    params = {name: {"n_jobs": os.cpu_count() or 1} for name in ("ets", "sarimax", "theta")}
    t0 = time.perf_counter()
    result = run_engine(
        panel, horizon, LEVELS, future=future, freq="D", windows=2, time_limit_s=540, model_params=params
    )
    seconds = time.perf_counter() - t0
    print(f"\ntiming: {n_series} series x {days} days, horizon {horizon}: {seconds:.0f} s; weights {result.weights}")
    return {"series": n_series, "seconds": seconds, "models": sorted(w for w, v in result.weights.items() if v > 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--models", default=None, help="comma-separated fcplan models (default: all registered)")
    parser.add_argument("--timing", type=int, default=0, help="also time the engine on this many series")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 1 window per panel, 10 centers")
    parser.add_argument("--only", choices=["retail", "simulator"], default=None, help="run one panel only")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="fcplan's time budget per forecast, s (default: none, as the retrainer)")
    parser.add_argument("--suite", default=None, metavar="PANELS",
                        help=f"run the dev suite instead: 'all' or comma-separated panels of {list(PANELS)}")
    parser.add_argument("--peers", default=",".join(SUITE_PEERS),
                        help="--suite: comma-separated peers among statsforecast,autogluon")
    parser.add_argument("--windows", type=int, default=None, help="--suite: windows per panel (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="--suite: seed of fcplan and AutoGluon")
    parser.add_argument("--ag-time-limit", type=float, default=None,
                        help="--suite: AutoGluon's time limit per fit, s (default: none)")
    parser.add_argument("--select-features", action="store_true",
                        help="--suite: fcplan selects each model family's covariates (select_features=True)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.suite:
        names = list(PANELS) if args.suite == "all" else args.suite.split(",")
        peers = [p for p in args.peers.split(",") if p]
        print(json.dumps(run_suite(names, peers, args.windows, args.seed, args.ag_time_limit, args.select_features)))
        return
    out: dict = {}
    models = args.models.split(",") if args.models else None
    windows, centers = (1, min(args.centers, 10)) if args.quick else (3, args.centers)
    limit = args.time_limit if args.time_limit is None or np.isfinite(args.time_limit) else None
    if args.only in (None, "retail"):
        out["retail"] = report(
            "(a) online retail daily orders, UK and EU (holidays: GB)",
            evaluate(retail_panel(), 14, windows, models=models, country="GB", time_limit_s=limit),
        )
    sim = simulated_panel(centers, 730) if args.only in (None, "simulator") else None
    if sim is not None:
        panel, oracle = sim
        out["simulator"] = report(
            f"(b) simulator, {centers} centers (promotions as announced at the origin, KR holidays)",
            evaluate(panel, 14, windows, oracle, models, country="KR", time_limit_s=limit),
        )
    if args.timing:
        out["timing"] = timing(args.timing)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
