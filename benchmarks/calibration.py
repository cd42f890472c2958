"""Out-of-sample calibration of the engine's quantiles: conformal vs the spread factors.

For each panel, the last ``--tests`` windows of ``h`` steps are held out one at a
time (rolling origin): the engine sees only the history before the window (and
runs its own backtest on it), forecasts the window, and is scored on it. The same
engine runs twice on every origin, in the same process: ``before`` with the
calibration used before issue #15 (``calibration="spread"``: per-level width factors
chosen on the backtest windows) and ``after`` with the conformal calibration
(``calibration="conformal"``, the default). Printed: per panel and pooled over all
held-out windows, the coverage of every central band (nominal 90 / 80 / 50 %) and
the mean wQL. The last line is one JSON object.

Panels: the simulator (fcplan.simulator, daily centers), the real Online Retail
daily orders (data/online_retail_ii_orders.csv.gz, UK and EU), and synthetic panels
with heavy tails (Student t, 2 degrees of freedom), level shifts, short histories
(10 weeks), and known-ahead event flags (``unseen_events``: events of one kind in the
history, of another kind only in the held-out windows; the flags are passed as future
covariates, and ``coverage_80_flagged`` is the coverage on the steps with an event).
``--panels`` runs some of them only. Run with ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python
benchmarks/calibration.py`` (``--quick``: fewer series and one held-out window).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from retail import retail_panel

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine
from fcplan.models.metrics import band_coverage, wql

ROOT = Path(__file__).resolve().parents[1]
LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
COLS = quantile_columns(LEVELS)
METHODS = {"before": "spread", "after": "conformal"}
MODELS = ["ets", "theta", "glm", "lightgbm"]


def simulator_panel(n: int, seed: int) -> pd.DataFrame:
    from fcplan.simulator.oracle import simulate_daily_panel

    panel, _ = simulate_daily_panel(n_centers=n, days=540, seed=seed)
    return panel[[*KEYS, Y]]


def _synthetic(n: int, days: int, seed: int, noise: Callable[[np.random.Generator, int], np.ndarray],
               shifts: float = 0.0) -> pd.DataFrame:
    """Weekly-seasonal daily series around a level of ~100, with ``noise`` and, with
    probability ``shifts`` a day, a level shift of +-30 %."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    frames = []
    for i in range(n):
        level = rng.uniform(50, 200) * np.cumprod(np.where(rng.random(days) < shifts,
                                                           rng.choice([0.7, 1.3], days), 1.0))
        week = 1 + 0.3 * np.sin(2 * np.pi * (np.arange(days) % 7) / 7 + rng.uniform(0, 2 * np.pi))
        y = np.maximum(0.0, level * week + 0.1 * level * noise(rng, days))
        frames.append(pd.DataFrame({UNIQUE_ID: f"s{i}", DS: ds, Y: np.round(y)}))
    return pd.concat(frames, ignore_index=True)


def _unseen_events(n: int, days: int, seed: int, horizon: int = 14, tests: int = 3) -> pd.DataFrame:
    """:func:`_synthetic` series with two known-ahead flags: ``event_a`` on about one day in
    twenty, moving the level by N(0, 40 %), and ``event_b`` on 2 days of each of the last
    ``tests`` windows of ``horizon`` days only, moving it by -50 %."""
    rng = np.random.default_rng(seed)
    panel = _synthetic(n, days, seed, lambda r, k: r.normal(size=k))
    day = (panel[DS] - panel[DS].min()).dt.days.to_numpy()
    panel["event_a"] = ((rng.random(len(panel)) < 0.05) & (day < days - tests * horizon)).astype("float64")
    panel["event_b"] = np.isin(days - 1 - day, [t * horizon + o for t in range(tests) for o in (3, 9)]).astype(
        "float64")
    level = panel.groupby(UNIQUE_ID)[Y].transform("mean").to_numpy()
    effect = panel["event_a"] * rng.normal(0, 0.4, len(panel)) - 0.5 * panel["event_b"]
    panel[Y] = np.maximum(0.0, np.round(panel[Y] + effect * level))
    return panel


def panels(quick: bool) -> dict[str, tuple[pd.DataFrame, int]]:
    """name -> (panel, horizon)."""
    n = 3 if quick else 6
    return {
        "simulator": (simulator_panel(n, seed=3), 14),
        "online_retail": (retail_panel(), 14),
        "heavy_tails": (_synthetic(n, 400, 1, lambda r, k: r.standard_t(2, k)), 14),
        "level_shifts": (_synthetic(n, 400, 2, lambda r, k: r.normal(size=k), shifts=0.01), 14),
        "short_history": (_synthetic(2 * n, 70, 3, lambda r, k: r.normal(size=k) * 1.5), 7),
        "unseen_events": (_unseen_events(n, 400, 4), 14),
    }


def held_out(panel: pd.DataFrame, horizon: int, tests: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """``(history, actuals)`` for the last ``tests`` windows of ``horizon`` days."""
    last = panel[DS].max()
    out = []
    for t in range(tests, 0, -1):
        cutoff = last - pd.Timedelta(days=t * horizon)
        window = (panel[DS] > cutoff) & (panel[DS] <= cutoff + pd.Timedelta(days=horizon))
        out.append((panel[panel[DS] <= cutoff], panel[window]))
    return out


def evaluate(panel: pd.DataFrame, horizon: int, tests: int, models: list[str]) -> dict[str, list[pd.DataFrame]]:
    """Per method, the scored forecasts (``y`` + COLS, and ``flagged``: a known-ahead flag is
    active) of every held-out window. The panel's covariates are known ahead."""
    covs = [c for c in panel.columns if c not in (*KEYS, Y)]
    scored: dict[str, list[pd.DataFrame]] = {m: [] for m in METHODS}
    for history, actuals in held_out(panel, horizon, tests):
        future = actuals[[*KEYS, *covs]] if covs else None
        flagged = actuals[KEYS].assign(flagged=(actuals[covs] != 0).any(axis=1) if covs else False)
        for label, method in METHODS.items():
            result = run_engine(history, horizon, LEVELS, future=future, freq="D", models=models, calibration=method)
            scored[label].append(result.forecast.merge(actuals[[*KEYS, Y]], on=KEYS, how="inner")
                                 .merge(flagged, on=KEYS, how="left"))
    return scored


def summary(frames: list[pd.DataFrame]) -> dict[str, float]:
    """Coverage of every band pooled over the frames, and wQL averaged over them."""
    pooled = pd.concat(frames, ignore_index=True)
    y, q = pooled[Y].to_numpy("float64"), pooled[COLS].to_numpy("float64")
    out = {k: round(v, 3) for k, v in band_coverage(y, q, LEVELS).items()}
    out["wql"] = round(float(np.mean([wql(f[Y].to_numpy("float64"), f[COLS].to_numpy("float64"), LEVELS)
                                      for f in frames])), 4)
    # the points of one window share its shocks: the spread of the windows' own coverage says how
    # far one window's figure strays from the pooled one
    per_window = [band_coverage(f[Y].to_numpy("float64"), f[COLS].to_numpy("float64"), LEVELS)["coverage_80"]
                  for f in frames]
    out["coverage_80_window_min"] = round(float(min(per_window)), 3)
    out["coverage_80_window_max"] = round(float(max(per_window)), 3)
    flagged = pooled["flagged"].fillna(False).to_numpy(bool) if "flagged" in pooled else np.zeros(len(pooled), bool)
    if flagged.any():
        out["coverage_80_flagged"] = round(band_coverage(y[flagged], q[flagged], LEVELS)["coverage_80"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer series, one held-out window")
    parser.add_argument("--tests", type=int, default=3, help="held-out windows per panel")
    parser.add_argument("--models", default=",".join(MODELS), help="engine pool (the baselines always run)")
    parser.add_argument("--panels", default=None, help="comma-separated panels to run (default: all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    tests = 1 if args.quick else args.tests
    models = [m for m in args.models.split(",") if m]
    start = time.perf_counter()
    per_panel: dict[str, dict[str, dict[str, float]]] = {}
    everything: dict[str, list[pd.DataFrame]] = {m: [] for m in METHODS}
    chosen = panels(args.quick)
    if args.panels:
        unknown = sorted(set(args.panels.split(",")) - set(chosen))
        if unknown:
            parser.error(f"unknown panels {unknown}; known: {sorted(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in args.panels.split(",")}
    for name, (panel, horizon) in chosen.items():
        scored = evaluate(panel, horizon, tests, models)
        per_panel[name] = {m: summary(frames) for m, frames in scored.items()}
        for m, frames in scored.items():
            everything[m].extend(frames)
        print(f"{name:14s} h={horizon:2d} " + "  ".join(
            f"{m}: " + " ".join(f"{k}={v}" for k, v in per_panel[name][m].items()) for m in METHODS
        ), flush=True)
    pooled = {m: summary(frames) for m, frames in everything.items()}
    print("pooled         " + "  ".join(
        f"{m}: " + " ".join(f"{k}={v}" for k, v in pooled[m].items()) for m in METHODS
    ))
    ratio = round(pooled["after"]["wql"] / pooled["before"]["wql"], 4)
    print(json.dumps({
        "benchmark": "calibration",
        "held_out_windows": len(everything["after"]),
        "pooled": pooled,
        "wql_ratio_after_over_before": ratio,
        "coverage_80_in_target": 0.72 <= pooled["after"]["coverage_80"] <= 0.88,
        "panels": per_panel,
        "models": models,
        "seconds": round(time.perf_counter() - start, 1),
    }))


if __name__ == "__main__":
    main()
