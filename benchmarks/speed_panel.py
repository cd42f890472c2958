"""Speed (and accuracy) of fcplan on many weekly retail series, against statsforecast in the same run.

Panel: ``--series`` (default 1,000) weekly series of ``--weeks`` (120) weeks, seeded,
with three covariates known ahead (``price`` relative to the regular price,
``promo`` flag, ``holiday`` flag): per-series level (log-normal, from a few units
to hundreds), a yearly shape shared by a category, price elasticity, promotion
lift, holiday bump, negative-binomial noise. ``--csv PATH`` loads a panel
instead (``unique_id, ds, y`` + known covariates; the last windows are held out).

For each of ``--windows`` (3) rolling windows of ``h=8`` weeks ending at the last
week, it times fcplan's ``run_engine`` (its own backtest + final forecast, default
settings) and statsforecast's AutoETS + SeasonalNaive (season 52), and scores
wQL over the quantiles 0.1..0.9, the issue's wQL over 0.1/0.5/0.9 (``wql3``) and the
coverage of the 80 % band (0.1-0.9). ``--peers statsforecast,autogluon`` adds AutoGluon-TS
(medium_quality without pretrained weights, the covariates as known covariates, seeded;
benchmarks/devsuite_peers.py), ``--ag-time-limit S`` gives it a time limit per fit (default
none). Each contender's seconds per window are its wall clock and its CPU time over this
process and every process under it (fcplan's fork server and workers, AutoGluon's). Prints a
table, then one JSON line. Needs statsforecast and AutoGluon (the bench venv: ``make
.venv-bench/.installed``); without statsforecast only fcplan runs. ``--models a,b``
restricts fcplan's pool (profiling).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine
from fcplan.models.metrics import wql

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
COLS = quantile_columns(LEVELS)
HORIZON = 8
FREQ = "W-SUN"
COVARIATES = ("price", "promo", "holiday")


def weekly_panel(n_series: int = 1000, weeks: int = 120, seed: int = 0) -> pd.DataFrame:
    """A seeded weekly retail panel ``unique_id, ds, y, price, promo, holiday`` (see module doc)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-02", periods=weeks, freq=FREQ)
    t = np.arange(weeks)
    woy = ds.isocalendar().week.to_numpy(dtype="float64")
    holiday = np.isin(woy, [1, 14, 22, 47, 51, 52]).astype(float)
    n_cat = 10
    phases = rng.uniform(0, 2 * np.pi, (n_cat, 2))
    amps = rng.uniform(0.05, 0.4, (n_cat, 2))
    shape = np.stack(
        [
            amps[c, 0] * np.sin(2 * np.pi * woy / 52.18 + phases[c, 0])
            + amps[c, 1] * np.sin(4 * np.pi * woy / 52.18 + phases[c, 1])
            for c in range(n_cat)
        ]
    )
    cat = rng.integers(0, n_cat, n_series)
    level = np.exp(rng.normal(2.5, 1.3, n_series))
    trend = rng.normal(0, 0.003, n_series)
    elasticity = rng.uniform(-3.0, -0.5, n_series)
    lift = rng.uniform(0.2, 1.5, n_series)
    bump = rng.uniform(0.0, 0.6, n_series)
    promo = (rng.random((n_series, weeks)) < rng.uniform(0.02, 0.15, (n_series, 1))).astype(float)
    discount = rng.uniform(0.05, 0.35, (n_series, weeks))
    drift = np.cumsum(rng.normal(0, 0.01, (n_series, weeks)), axis=1)
    price = np.round(np.exp(drift) * (1 - promo * discount), 3)
    walk = np.cumsum(rng.normal(0, 0.03, (n_series, weeks)), axis=1)
    log_mean = (
        np.log(level)[:, None]
        + shape[cat]
        + trend[:, None] * t
        + walk
        + elasticity[:, None] * np.log(price)
        + np.log1p(lift[:, None] * promo)
        + bump[:, None] * holiday
    )
    mean = np.exp(log_mean)
    dispersion = rng.uniform(3, 30, (n_series, 1))
    y = rng.negative_binomial(dispersion, dispersion / (dispersion + mean)).astype(float)
    ids = np.array([f"sku_{i:04d}" for i in range(n_series)])
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat(ids, weeks),
            DS: np.tile(ds, n_series),
            Y: y.ravel(),
            "price": price.ravel(),
            "promo": promo.ravel(),
            "holiday": np.broadcast_to(holiday, (n_series, weeks)).ravel(),
        }
    )


def statsforecast_quantiles(train: pd.DataFrame, horizon: int) -> dict[str, pd.DataFrame] | None:
    """AutoETS and SeasonalNaive (season 52) quantile frames, or None without statsforecast."""
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, SeasonalNaive
    except ImportError as exc:
        logging.warning("statsforecast unavailable (%s): run in the bench venv for the peer", exc)
        return None
    levels = sorted({round(abs(1 - 2 * q) * 100) for q in LEVELS if q != 0.5})
    sf = StatsForecast(models=[AutoETS(season_length=52), SeasonalNaive(season_length=52)], freq=FREQ, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=train[[*KEYS, Y]], h=horizon, level=levels)
    fc = fc.reset_index() if UNIQUE_ID not in fc.columns else fc
    out = {}
    for name in ("AutoETS", "SeasonalNaive"):
        frame = fc[KEYS].copy()
        for q, col in zip(LEVELS, COLS, strict=True):
            side = "lo" if q < 0.5 else "hi"
            frame[col] = fc[name] if q == 0.5 else fc[f"{name}-{side}-{round(abs(1 - 2 * q) * 100)}"]
        frame[COLS] = np.sort(np.clip(frame[COLS].to_numpy(), 0, None), axis=1)
        out[name] = frame
    return out


PEERS = ("statsforecast", "autogluon")
#: The issue's (#15) measure: wQL over these levels, coverage of the band between the outer two.
ISSUE_LEVELS = [0.1, 0.5, 0.9]
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> tuple[int, float] | None:
    """``(parent pid, CPU s of the process and of its children it has waited for)`` from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICKS  # ppid; utime stime cutime cstime


def tree_cpu_seconds(root: int | None = None) -> float:
    """CPU seconds used so far by process ``root`` (default: this one) and every process under
    it, live or waited for (fcplan's fork server and the workers it forks, AutoGluon's workers).
    Without /proc: this process and its waited-for children (``resource``)."""
    root = os.getpid() if root is None else root
    if not Path("/proc/self/stat").exists():
        import resource

        usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(u.ru_utime + u.ru_stime for u in usage)
    table = {int(d.name): _proc_cpu(int(d.name)) for d in Path("/proc").iterdir() if d.name.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, entry in table.items():
        if entry is not None:
            children.setdefault(entry[0], []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        entry = table.get(pid) or _proc_cpu(pid)
        total += entry[1] if entry else 0.0
        todo.extend(children.get(pid, []))
    return total


T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """``(fn(), wall seconds, CPU seconds of this process tree)``."""
    cpu0, t0 = tree_cpu_seconds(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, tree_cpu_seconds() - cpu0


def score(test: pd.DataFrame, frame: pd.DataFrame) -> dict[str, float]:
    """wQL over :data:`LEVELS`, wQL over :data:`ISSUE_LEVELS` and the actuals inside the 0.1-0.9 band."""
    merged = test[[*KEYS, Y]].merge(frame.assign(ds=pd.to_datetime(frame[DS])), on=KEYS, how="inner")
    assert len(merged) == len(test), f"forecast covers {len(merged)} of {len(test)} test rows"
    y, q = merged[Y].to_numpy("float64"), merged[COLS].to_numpy("float64")
    outer = q[:, [LEVELS.index(level) for level in ISSUE_LEVELS]]
    return {
        "wql": wql(y, q, LEVELS),
        "wql3": wql(y, outer, ISSUE_LEVELS),
        "inside": float(((y >= outer[:, 0]) & (y <= outer[:, -1])).sum()),
        "n": float(len(y)),
    }


def peer_frames(
    name: str, train: pd.DataFrame, future: pd.DataFrame, ag_time_limit: float | None
) -> dict[str, pd.DataFrame] | None:
    """The peer family ``name``'s quantile frames by model, or None when it is not installed."""
    if name == "statsforecast":
        return statsforecast_quantiles(train, HORIZON)
    from devsuite_peers import autogluon_forecast

    return {"autogluon": autogluon_forecast(train, future, HORIZON, LEVELS, FREQ, time_limit_s=ag_time_limit)}


def run(
    panel: pd.DataFrame,
    windows: int,
    models: list[str] | None,
    peers: Sequence[str] = ("statsforecast",),
    ag_time_limit: float | None = None,
) -> dict:
    """Per contender: mean wQL and wql3 over the windows, pooled 80 % coverage; per family
    (fcplan, statsforecast, autogluon): mean wall and CPU seconds per window."""
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"unknown peers {unknown}; known: {list(PEERS)}")
    covs = [c for c in panel.columns if c not in (*KEYS, Y)]
    dates = np.sort(panel[DS].unique())
    scores: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    weights = []
    for w in range(windows, 0, -1):
        cutoff = dates[-1 - w * HORIZON]
        train = panel[panel[DS] <= cutoff]
        test = panel[(panel[DS] > cutoff) & (panel[DS] <= dates[-1 - (w - 1) * HORIZON])]
        future = test[[*KEYS, *covs]]
        result, wall, used = timed(
            lambda train=train, future=future: run_engine(
                train, HORIZON, LEVELS, future=future, freq=FREQ, models=models
            )
        )
        seconds.setdefault("fcplan", []).append(wall)
        cpu.setdefault("fcplan", []).append(used)
        weights.append({k: round(v, 2) for k, v in result.weights.items() if v > 0})
        scores.setdefault("fcplan", []).append(score(test, result.forecast))
        for family in peers:
            frames, wall, used = timed(
                lambda family=family, train=train, future=future: peer_frames(family, train, future, ag_time_limit)
            )
            if frames is None:
                continue
            seconds.setdefault(family, []).append(wall)
            cpu.setdefault(family, []).append(used)
            for name, frame in frames.items():
                scores.setdefault(name, []).append(score(test, frame))
        board = result.leaderboard
        print(
            f"window {w}: "
            + ", ".join(f"{k} {v[-1]:.1f} s (CPU {cpu[k][-1]:.1f} s)" for k, v in seconds.items())
            + f"; weights {weights[-1]}; wQL3 "
            + ", ".join(f"{k} {v[-1]['wql3']:.4f}" for k, v in scores.items()),
            flush=True,
        )
        print(board[board["window"] == "all"][["model", "wql", "coverage", "fit_seconds"]].to_string(index=False))
    return {
        "wql": {k: float(np.mean([s["wql"] for s in v])) for k, v in scores.items()},
        "wql3": {k: float(np.mean([s["wql3"] for s in v])) for k, v in scores.items()},
        "coverage_80": {k: sum(s["inside"] for s in v) / sum(s["n"] for s in v) for k, v in scores.items()},
        "seconds_per_window": {k: float(np.mean(v)) for k, v in seconds.items()},
        "cpu_seconds_per_window": {k: float(np.mean(v)) for k, v in cpu.items()},
        "weights": weights,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=120)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, help="load this panel instead of generating one")
    parser.add_argument("--models", help="comma-separated fcplan pool (default: the engine's)")
    parser.add_argument("--peers", default="statsforecast", help=f"comma-separated, of {list(PEERS)}, or ''")
    parser.add_argument(
        "--ag-time-limit", type=float, default=None, help="AutoGluon's time limit per fit, s (default: none)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.csv:
        panel = pd.read_csv(args.csv, parse_dates=[DS])
    else:
        panel = weekly_panel(args.series, args.weeks + args.windows * HORIZON, args.seed)
    models = args.models.split(",") if args.models else None
    result = run(panel, args.windows, models, [p for p in args.peers.split(",") if p], args.ag_time_limit)
    wqls = result["wql"]
    peers = {k: v for k, v in wqls.items() if k != "fcplan"}
    print(f"\n{'model':<16}{'wQL':>8}{'wQL3':>8}{'cov80':>7}")
    for name, value in sorted(wqls.items(), key=lambda kv: kv[1]):
        print(f"{name:<16}{value:8.4f}{result['wql3'][name]:8.4f}{result['coverage_80'][name]:7.3f}")
    print(
        "per window: "
        + ", ".join(
            f"{k} {v:.1f} s (CPU {result['cpu_seconds_per_window'][k]:.1f} s)"
            for k, v in result["seconds_per_window"].items()
        )
    )
    best = min(peers, key=peers.get) if peers else None
    secs, cpus = result["seconds_per_window"], result["cpu_seconds_per_window"]
    summary = {
        "series": int(panel[UNIQUE_ID].nunique()),
        "weeks": int(panel[DS].nunique()),
        "windows": args.windows,
        "fcplan_s_per_window": round(secs["fcplan"], 2),
        "statsforecast_s_per_window": round(secs.get("statsforecast", float("nan")), 2),
        "autogluon_s_per_window": round(secs.get("autogluon", float("nan")), 2),
        "cpu_s_per_window": {k: round(v, 2) for k, v in cpus.items()},
        "fcplan_wql": round(wqls["fcplan"], 4),
        "best_peer": best,
        "best_peer_wql": round(peers[best], 4) if best else None,
        "ratio_to_best_peer": round(wqls["fcplan"] / peers[best], 4) if best else None,
        "peer_wql": {k: round(v, 4) for k, v in peers.items()},
        "wql3": {k: round(v, 4) for k, v in result["wql3"].items()},
        "coverage_80": {k: round(v, 3) for k, v in result["coverage_80"].items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
