"""Calibration of fcplan's 80 % band on the dev suite, out of sample and forward on its own evidence.

For each dev-suite panel (benchmarks/devsuite.py) and each of its rolling test windows, the
engine runs with its defaults (as ``accuracy.py --suite ... --peers ""`` does) and is scored on
the window: mean wQL and the pooled coverage of the 80 % band, with the misses below and above
it. The test windows are few (3 days on elec_hourly, 3 x 14 days on hyndsight_daily), so a
coverage figure there strays far from the band's true coverage. The *forward check* adds
evidence: each run's conformal evidence (the ensemble's uncalibrated forecasts on its backtest
and calibration windows, the points :func:`fcplan.models.engine.fit_calibration` was given) is
replayed window by window, each window calibrated only on the windows before it (at least
``--min-older`` of them) and scored, pooled over the runs (the runs' windows overlap: the
figures are not independent). Then one JSON line. Run with ``OMP_NUM_THREADS=1
.venv-bench/bin/python benchmarks/calibration_forward.py --suite elec_hourly,hyndsight_daily``
(``--suite all``: every panel; needs the dev suite's data, see DEVSUITE.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
from devsuite import PANELS
from devsuite_accuracy import SUITE_LEVELS, score

import fcplan.models.engine as engine
from fcplan.core.panel import KEYS
from fcplan.core.quantiles import quantile_columns
from fcplan.models.metrics import wql
from fcplan.models.scales import calibration_scales


def _band_counts(y: np.ndarray, q: np.ndarray) -> tuple[int, int, int]:
    """``(below, above, points)`` of the outer band ``q[:, 0]``..``q[:, -1]``."""
    ok = np.isfinite(y)
    y, q = y[ok], q[ok]
    return int((y < q[:, 0]).sum()), int((y > q[:, -1]).sum()), len(y)


def forward(evidence: engine.Evidence, levels: list[float], prior, min_older: int) -> tuple[list[float], list[int]]:
    """wQL of each evidence window calibrated on the windows before it, and ``[below, above,
    points]`` pooled over them."""
    wqls, counts = [], [0, 0, 0]
    ids = np.unique(evidence.windows)
    for g in ids[min_older:]:
        older, test = evidence.where(evidence.windows < g), evidence.where(evidence.windows == g)
        calibrator = engine.fit_calibration("conformal", older, levels, prior)
        q = calibrator.apply(test.pred, test.steps, calibration_scales(test.pred, test.scales), levels,
                             flags=test.flags)
        ok = np.isfinite(test.actuals)
        wqls.append(wql(test.actuals[ok], q[ok], levels))
        counts = [a + b for a, b in zip(counts, _band_counts(test.actuals, q), strict=True)]
    return wqls, counts


def evaluate_panel(name: str, min_older: int) -> dict:
    """Test and forward figures of one panel (see the module docstring)."""
    panel = PANELS[name]()
    fitted: list[tuple] = []
    original = engine.fit_calibration

    def recording(method, evidence, levels, prior=None):
        out = original(method, evidence, levels, prior)
        fitted.append((evidence, prior, out))
        return out

    test_wql, test_counts, fwd_wql, fwd_counts = [], [0, 0, 0], [], [0, 0, 0]
    engine.fit_calibration = recording
    try:
        for k in range(panel.windows, 0, -1):
            fitted.clear()
            window = panel.window(k)
            result = engine.run_engine(window.history, panel.horizon, SUITE_LEVELS,
                                       future=window.future if panel.covariates else None, freq=panel.freq)
            value, _, _ = score(window.actuals, result.forecast, SUITE_LEVELS)
            test_wql.append(value)
            merged = window.actuals.merge(result.forecast, on=KEYS)
            cols = quantile_columns(SUITE_LEVELS)
            counts = _band_counts(merged["y"].to_numpy("float64"), merged[cols].to_numpy("float64"))
            test_counts = [a + b for a, b in zip(test_counts, counts, strict=True)]
            deployed = result.model.params.get("calibration")
            evidence, prior = next((e, p) for e, p, c in fitted if c is deployed)
            w, c = forward(evidence, list(SUITE_LEVELS), prior, min_older)
            fwd_wql.extend(w)
            fwd_counts = [a + b for a, b in zip(fwd_counts, c, strict=True)]
    finally:
        engine.fit_calibration = original

    def summary(wqls: list[float], counts: list[int]) -> dict:
        below, above, n = counts
        return {"wql": round(float(np.mean(wqls)), 4) if wqls else None,
                "coverage_80": round(1 - (below + above) / n, 3) if n else None,
                "below": below, "above": above, "points": n}

    return {"test": summary(test_wql, test_counts), "forward": summary(fwd_wql, fwd_counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="all", help="comma-separated dev-suite panels, or all")
    parser.add_argument("--min-older", type=int, default=1, help="older windows a forward window needs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    names = list(PANELS) if args.suite == "all" else args.suite.split(",")
    start = time.perf_counter()
    out = {}
    print(f"{'panel':<22}{'wQL':>8}{'cov80':>7}{'lo/hi/n':>14}  |{'fwd wQL':>8}{'cov80':>7}{'lo/hi/n':>16}")
    for name in names:
        out[name] = r = evaluate_panel(name, args.min_older)
        t, f = r["test"], r["forward"]
        print(f"{name:<22}{t['wql']:8.4f}{t['coverage_80']:7.3f}{t['below']:>5}/{t['above']}/{t['points']:<5}  |"
              f"{f['wql'] if f['wql'] is None else format(f['wql'], '8.4f'):>8}"
              f"{f['coverage_80'] if f['coverage_80'] is None else format(f['coverage_80'], '7.3f'):>7}"
              f"{f['below']:>6}/{f['above']}/{f['points']}", flush=True)
    print(json.dumps({"benchmark": "calibration_forward", "min_older": args.min_older, "panels": out,
                      "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
