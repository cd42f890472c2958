"""Replay fcplan's ensemble weighting and calibration on the staffing benchmark's real panel,
without refitting a model.

``benchmarks/staffing_cost.py --only retail`` takes minutes per run; a change to how the
engine weights or calibrates its members (:func:`fcplan.models.engine.prune_weights`, the race,
:func:`fcplan.models.engine.fit_calibration`) or to which members it keeps leaves every member's
forecasts as they were. ``record`` backtests every member of the default pool once per test
window of the benchmark (3 windows of 14 days ending 2011-12-08) on that window's training
data: the engine's 2 backtest windows, its 4 calibration windows and the test window itself
(the final fit's forecast; the networks are refit there, not reused from the newest window,
and DeepAR samples: small differences from a full run). ``replay`` redoes the rest of the
engine in seconds (race on the newest backtest window, weights, calibration members and
conformal calibration on the 6 windows) and prices the test window's plan at the newsvendor
level ``p / (1 + p)``, as the benchmark does (closed Saturdays booked at 0). On the
recorded members of session 13 it gives the benchmark's 1.2066 x perfect exactly.

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/staffing_replay.py record
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/staffing_replay.py replay [--drop tsb] [--windows 4 --extra 2]
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retail import retail_panel
from staffing_cost import COLS, HORIZON, LEVELS

from fcplan.core.frequency import season_length
from fcplan.core.panel import DS, covariate_columns
from fcplan.models import engine
from fcplan.models.backtest import WindowResult, make_splits, stack_predictions
from fcplan.models.flag_widening import find_flags, flag_prior

DEFAULT_FILE = Path("/tmp/fcplan-staffing-replay.pkl")
#: Test windows of the benchmark (staffing_cost.evaluate's), the oldest first.
TEST_WINDOWS = (3, 2, 1)
#: Backtest + calibration windows recorded before each test window (the engine's 2 + 4 on
#: a panel of 2 series: :func:`fcplan.models.engine.calibration_windows`).
RECORDED = 6
Weigher = Callable[[np.ndarray, np.ndarray, Sequence[float], np.ndarray, int], np.ndarray]


def window_panel(panel: pd.DataFrame, w: int) -> tuple[pd.DataFrame, pd.Timestamp, str]:
    """The engine's input for test window ``w`` (the history through its end, holidays of GB), its cutoff and freq."""
    cutoff = panel[DS].max() - pd.Timedelta(days=w * HORIZON)
    prepared, _, freq = engine.prepare_inputs(panel[panel[DS] <= cutoff + pd.Timedelta(days=HORIZON)], HORIZON,
                                              None, "D", "GB")
    return prepared, cutoff, freq


def record(panel: pd.DataFrame, models: Sequence[str] | None = None) -> dict[int, dict[str, list[WindowResult]]]:
    """Per test window ``w``: member -> its results on the ``RECORDED`` windows before it and on it
    (window ``RECORDED``, the newest)."""
    out = {}
    for w in TEST_WINDOWS:
        prepared, cutoff, freq = window_panel(panel, w)
        train = prepared[prepared[DS] <= cutoff]
        names = list(models) if models else engine.default_pool(
            [n for n in engine.MODELS if n not in engine.OPT_IN], train, freq, HORIZON)
        request = engine._Request(HORIZON, list(LEVELS), freq, names, 2, None, 0, {}, "conformal", None, True)
        params = engine._member_params(request, names, engine.panel_cells(prepared))
        splits = make_splits(prepared, HORIZON, RECORDED + 1, freq)
        out[w] = engine._backtest_models(list(params), params, prepared, splits, HORIZON, list(LEVELS), freq)
        print(f"  recorded test window {w}: {sorted(out[w])}", flush=True)
    return out


def price(pred: np.ndarray, actuals: np.ndarray, closed: np.ndarray, p: float) -> float:
    """The benchmark's cost of booking the level ``p / (1 + p)`` of ``pred`` ``(n, n_q)``, 0 on closed days."""
    tau = p / (1 + p)
    booked = np.maximum([np.interp(tau, LEVELS, row) for row in pred], 0.0)
    booked[closed] = 0.0
    return float(booked.sum() + (1 + p) * np.maximum(actuals - booked, 0.0).sum())


def replay(
    panel: pd.DataFrame, recorded: dict[int, dict[str, list[WindowResult]]], p: float = 2.0,
    drop: Sequence[str] = (), windows: int = 2, extra: int = 4, calibration: str = "conformal",
    weigh: Weigher | None = None, race: bool = True,
) -> tuple[float, dict[int, tuple[float, dict[str, float]]]]:
    """fcplan's cost per needed hour over the recorded test windows, and per window (cost
    ratio, weights): the engine's weighting on the ``windows`` newest recorded windows
    (``weigh``: another weight choice, default :func:`fcplan.models.engine.prune_weights`) and
    its calibration on those and the ``extra`` before them; members in ``drop`` left out."""
    if windows + extra > RECORDED:
        raise ValueError(f"{windows} + {extra} windows, only {RECORDED} recorded")
    weigh = weigh or engine.prune_weights
    total_cost = total_needed = 0.0
    per = {}
    for w, results in recorded.items():
        results = {n: r for n, r in results.items() if n not in drop}
        prepared, cutoff, freq = window_panel(panel, w)
        train = prepared[prepared[DS] <= cutoff]
        splits = make_splits(prepared, HORIZON, RECORDED + 1, freq)
        request = engine._Request(HORIZON, list(LEVELS), freq, list(results), windows, None, 0, {}, calibration,
                                  extra, True)
        flags = find_flags(train, covariate_columns(train))
        prior = flag_prior(train, flags, season_length(freq)) if calibration == "conformal" else None
        first = RECORDED - windows
        inner = [r for rs in results.values() for r in rs if first <= r.window < RECORDED]
        if race and windows > 1:
            stopped = engine.raced_out([r for r in inner if r.window == RECORDED - 1], LEVELS, 0)
            inner = [r for r in inner if r.model not in stopped]
        names, preds, keys = stack_predictions(inner, COLS)
        w_ = weigh(preds, keys["y"].to_numpy("float64"), list(LEVELS), keys["window"].to_numpy(), 0)
        weights = {n: float(x) for n, x in zip(names, w_, strict=True)}
        evidence = engine._ensemble_evidence(inner, weights, splits[first:RECORDED], request, prepared, flags)
        members = engine.calibration_members(weights)
        older = [r for n in members for r in results[n] if first - extra <= r.window < first]
        more = (engine._ensemble_evidence(older, {n: weights[n] for n in members}, splits[first - extra:first],
                                          request, prepared, flags) if older and calibration == "conformal" else None)
        calibrator = engine.fit_calibration(calibration, evidence.plus(more), LEVELS, prior)
        test = [r for n in names for r in results[n] if r.window == RECORDED]
        test_names, _, test_keys = stack_predictions(test, COLS)
        final = engine._ensemble_evidence(test, {n: weights[n] for n in test_names}, splits[RECORDED:], request,
                                          prepared, flags)
        pred = engine._calibrated(calibrator, final, LEVELS)
        actuals = test_keys["y"].to_numpy("float64")
        closed = (test_keys[DS].dt.dayofweek == 5).to_numpy()  # the benchmark's closed weekday (Saturday)
        cost = price(pred, actuals, closed, p)
        total_cost += cost
        total_needed += float(actuals.sum())
        per[w] = (cost / float(actuals.sum()), {k: round(v, 3) for k, v in weights.items() if v > 0})
    return total_cost / total_needed, per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["record", "replay"])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--models", default=None, help="record: comma-separated members (default: the pool)")
    parser.add_argument("--drop", default="", help="replay: comma-separated members to leave out")
    parser.add_argument("--windows", type=int, default=2, help="replay: backtest windows the weights see")
    parser.add_argument("--extra", type=int, default=4, help="replay: calibration windows before them")
    parser.add_argument("--calibration", choices=list(engine.CALIBRATIONS), default="conformal")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    panel = retail_panel()
    if args.action == "record":
        recorded = record(panel, args.models.split(",") if args.models else None)
        if args.file.exists() and args.models:  # add members to an earlier record
            earlier = pickle.loads(args.file.read_bytes())
            recorded = {w: {**earlier.get(w, {}), **r} for w, r in recorded.items()}
        args.file.write_bytes(pickle.dumps(recorded))
        print(f"recorded to {args.file}")
        return
    recorded = pickle.loads(args.file.read_bytes())
    drop = [n for n in args.drop.split(",") if n]
    ratio, per = replay(panel, recorded, drop=drop, windows=args.windows, extra=args.extra,
                        calibration=args.calibration)
    for w, (r, weights) in per.items():
        print(f"  test window {w}: {r:.4f} x perfect; weights {weights}")
    print(f"p = 2 ratio_vs_perfect {ratio:.4f}")


if __name__ == "__main__":
    main()
