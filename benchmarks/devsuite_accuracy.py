"""fcplan against statsforecast and AutoGluon-TS on the dev suite (benchmarks/devsuite.py).

For each panel, its rolling-origin windows (3, the last one ending at the panel's last
timestamp): fcplan's engine with its defaults, each statsforecast model and AutoGluon-TS
(medium_quality without pretrained weights), all on the same history and known-ahead
covariates. Measured: mean wQL over the levels 0.1/0.5/0.9 (mean over windows), the
coverage of the 80 % band (0.1-0.9) pooled over windows, and seconds per window.
Run through ``benchmarks/accuracy.py --suite``; the issue's targets (#15) are checked
in the summary: fcplan wQL <= 0.90 x the best statsforecast model and <= AutoGluon,
coverage in [0.72, 0.88], seconds per window <= AutoGluon's. With ``select_features``
fcplan runs ``run_engine(select_features=True)``: each window's score-contributor table is
printed and the summary lists the feature groups each family dropped, window by window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from devsuite import Panel, load
from devsuite_peers import autogluon_forecast, statsforecast_forecasts

from fcplan.core.panel import DS, KEYS, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine
from fcplan.models.metrics import wql

SUITE_LEVELS = [0.1, 0.5, 0.9]
PEERS = ("statsforecast", "autogluon")
WQL_RATIO_TARGET = 0.90
COVERAGE_TARGET = (0.72, 0.88)


def score(actuals: pd.DataFrame, frame: pd.DataFrame, levels: Sequence[float]) -> tuple[float, int, int]:
    """``(wQL, actuals inside the outer band, actuals)`` of one forecast frame on one window.

    ``actuals``: ``unique_id, ds, y``; ``frame``: ``unique_id, ds`` + one column per level."""
    cols = quantile_columns(levels)
    merged = actuals[[*KEYS, Y]].merge(frame.assign(ds=pd.to_datetime(frame[DS])), on=KEYS, how="inner")
    if len(merged) != len(actuals):
        raise AssertionError(f"forecast covers {len(merged)} of {len(actuals)} test rows")
    y, q = merged[Y].to_numpy("float64"), merged[cols].to_numpy("float64")
    inside = int(((y >= q[:, 0]) & (y <= q[:, -1])).sum())
    return wql(y, q, levels), inside, len(y)


def forecasts(panel: Panel, k: int, peers: Sequence[str], seed: int, ag_time_limit: float | None,
              select_features: bool = False) -> tuple[dict[str, pd.DataFrame], dict[str, float], pd.DataFrame]:
    """Every contender's forecast frame for window ``k``, the seconds each family took and
    fcplan's feature table (empty without ``select_features``)."""
    window = panel.window(k)
    future = window.future if panel.covariates else None
    frames, seconds = {}, {}
    t0 = time.perf_counter()
    result = run_engine(window.history, panel.horizon, SUITE_LEVELS, future=future, freq=panel.freq, seed=seed,
                        select_features=select_features)
    frames["fcplan"] = result.forecast
    seconds["fcplan"] = time.perf_counter() - t0
    if "statsforecast" in peers:
        t0 = time.perf_counter()
        frames.update(statsforecast_forecasts(window.history, window.future, panel.horizon, SUITE_LEVELS,
                                              panel.freq, panel.season_length))
        seconds["statsforecast"] = time.perf_counter() - t0
    if "autogluon" in peers:
        t0 = time.perf_counter()
        frames["autogluon"] = autogluon_forecast(window.history, window.future, panel.horizon, SUITE_LEVELS,
                                                 panel.freq, seed=seed, time_limit_s=ag_time_limit)
        seconds["autogluon"] = time.perf_counter() - t0
    return frames, seconds, result.feature_table


def evaluate_panel(panel: Panel, peers: Sequence[str], windows: int | None = None, seed: int = 0,
                   ag_time_limit: float | None = None, select_features: bool = False) -> dict:
    """Per contender: mean wQL over windows, pooled 80 % coverage, mean seconds per window
    (and, with ``select_features``, fcplan's feature tables, oldest window first)."""
    wqls: dict[str, list[float]] = {}
    inside: dict[str, list[int]] = {}
    seconds: dict[str, list[float]] = {}
    tables: list[pd.DataFrame] = []
    for k in range(windows or panel.windows, 0, -1):
        frames, secs, table = forecasts(panel, k, peers, seed, ag_time_limit, select_features)
        tables.append(table)
        actuals = panel.window(k).actuals
        for name, frame in frames.items():
            value, hit, n = score(actuals, frame, SUITE_LEVELS)
            wqls.setdefault(name, []).append(value)
            inside.setdefault(name, []).extend([hit, n])
        for name, s in secs.items():
            seconds.setdefault(name, []).append(s)
    return {
        "wql": {n: float(np.mean(v)) for n, v in wqls.items()},
        "coverage_80": {n: sum(v[::2]) / sum(v[1::2]) for n, v in inside.items()},
        "seconds_per_window": {n: float(np.mean(v)) for n, v in seconds.items()},
        "feature_tables": tables if select_features else [],
    }


def summarize(result: dict) -> dict:
    """The issue's figures for one panel (None where a peer was not run)."""
    wqls, cov, secs = result["wql"], result["coverage_80"], result["seconds_per_window"]
    sf = {n: v for n, v in wqls.items() if n not in ("fcplan", "autogluon")}
    best = min(sf, key=sf.get) if sf else None
    ours, ag = wqls["fcplan"], wqls.get("autogluon")
    out = {
        "fcplan_wql": ours,
        "best_statsforecast": best,
        "best_statsforecast_wql": sf.get(best),
        "autogluon_wql": ag,
        "ratio_to_best_statsforecast": ours / sf[best] if best else None,
        "ratio_to_autogluon": ours / ag if ag else None,
        "coverage_80": cov["fcplan"],
        "autogluon_coverage_80": cov.get("autogluon"),
        "seconds_per_window": secs["fcplan"],
        "statsforecast_seconds_per_window": secs.get("statsforecast"),
        "autogluon_seconds_per_window": secs.get("autogluon"),
    }
    if result.get("feature_tables"):
        out["dropped_features"] = [dropped_groups(t) for t in result["feature_tables"]]
    out["targets_met"] = {
        "wql_vs_statsforecast": None if best is None else out["ratio_to_best_statsforecast"] <= WQL_RATIO_TARGET,
        "wql_vs_autogluon": None if ag is None else ours <= ag,
        "coverage": COVERAGE_TARGET[0] <= cov["fcplan"] <= COVERAGE_TARGET[1],
        "speed_vs_autogluon": None if ag is None else secs["fcplan"] <= secs["autogluon"],
    }
    return out


def dropped_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """``family -> the feature groups it dropped`` of one feature table."""
    return {
        f: part.loc[~part["kept"].astype(bool), "group"].tolist() for f, part in table.groupby("family", sort=False)
    }


def print_panel(panel: Panel, result: dict) -> None:
    print(f"\n{panel.name} ({panel.shape}; {panel.frame['unique_id'].nunique()} series, freq {panel.freq}, "
          f"h={panel.horizon}; {panel.source})")
    print(f"{'model':<16}{'wQL':>9}{'cov80':>8}")
    for name, value in sorted(result["wql"].items(), key=lambda kv: kv[1]):
        print(f"{name:<16}{value:9.4f}{result['coverage_80'][name]:8.2f}")
    print("seconds per window: " + ", ".join(f"{n} {s:.1f}" for n, s in result["seconds_per_window"].items()),
          flush=True)
    for w, table in enumerate(result.get("feature_tables", [])):
        print(f"fcplan feature selection, window {w} (contribution = wQL without the group - with all):")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}") if not table.empty else "(no table)",
              flush=True)


def print_table(summary: dict[str, dict]) -> None:
    names = ("fcplan", "best sf", "AG", "/sf", "/AG", "cov80", "AGcov", "s/win", "AG s")
    widths = (8, 9, 8, 7, 7, 7, 7, 8, 8)
    print("\n" + f"{'panel':<22}" + "".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)))

    def fmt(v, spec):
        return format(v, spec) if v is not None else format("-", ">" + spec.split(".")[0])

    for name, s in summary.items():
        print(f"{name:<22}{fmt(s['fcplan_wql'], '8.4f')}{fmt(s['best_statsforecast_wql'], '9.4f')}"
              f"{fmt(s['autogluon_wql'], '8.4f')}{fmt(s['ratio_to_best_statsforecast'], '7.2f')}"
              f"{fmt(s['ratio_to_autogluon'], '7.2f')}{fmt(s['coverage_80'], '7.2f')}"
              f"{fmt(s['autogluon_coverage_80'], '7.2f')}{fmt(s['seconds_per_window'], '8.1f')}"
              f"{fmt(s['autogluon_seconds_per_window'], '8.1f')}")


def run_suite(names: Sequence[str], peers: Sequence[str], windows: int | None = None, seed: int = 0,
              ag_time_limit: float | None = None, select_features: bool = False) -> dict[str, dict]:
    """Evaluate the named panels; prints each panel's table as it ends, then the summary table."""
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"unknown peers {unknown}; known: {list(PEERS)}")
    summary = {}
    for name in names:
        panel = load(name)
        result = evaluate_panel(panel, peers, windows, seed, ag_time_limit, select_features)
        print_panel(panel, result)
        summary[name] = summarize(result)
        print("panel summary: " + json.dumps({name: summary[name]}), flush=True)
    print_table(summary)
    return summary


def panels_main(panels: dict[str, Callable[[], Panel]], description: str, ag_time_limit: float = 60.0) -> None:
    """The command line of a script that measures ``panels`` against the peers (``--panels``,
    ``--peers``, ``--windows``, ``--seed``, ``--ag-time-limit``); the last line printed is one
    JSON object, panel -> :func:`summarize`."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--panels", default=",".join(panels), help=f"comma-separated, of {list(panels)}")
    parser.add_argument("--peers", default="statsforecast", help="comma-separated: statsforecast,autogluon or ''")
    parser.add_argument("--windows", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ag-time-limit", type=float, default=ag_time_limit)
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    summary = {}
    for name in args.panels.split(","):
        panel = panels[name]()
        result = evaluate_panel(panel, peers, args.windows, args.seed, args.ag_time_limit)
        print_panel(panel, result)
        summary[name] = summarize(result)
        print("panel summary: " + json.dumps({name: summary[name]}), flush=True)
    print_table(summary)
    print(json.dumps(summary))
