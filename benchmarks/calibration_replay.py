"""Replay fcplan's conformal calibration on recorded runs, without refitting a model.

A change to the calibration alone (:mod:`fcplan.models.conformal`: shrinkage, recency weights,
window share, ...) leaves every member's forecast as it was, so a panel's figures under it
follow from two things per test window: the evidence the final calibrator was fitted on
(the ensemble's uncalibrated quantiles on the backtest and calibration windows, with the
actuals) and the final uncalibrated forecast. ``dump`` runs the engine as
``devsuite_accuracy.evaluate_panel`` does (fcplan only) and pickles both per window;
``replay`` refits the calibrator on them and scores the calibrated forecast: the same mean
wQL and pooled 80 % coverage as a full run, in seconds instead of minutes.

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/calibration_replay.py dump --panels births_daily,gasoline_weekly
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/calibration_replay.py replay
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/calibration_replay.py replay \
        --variant ws0:WINDOW_SHARE=0 --variant flat:RECENCY_DECAY=1,MIN_NARROW_WINDOWS=6

``dump`` checks that refitting the recorded calibrator gives the recorded forecast back, so
a replay of the unchanged code reproduces the full run exactly. Panels: the dev suite's
(devsuite.py), the extra shapes' (shapes.py) and the short daily series' (short_daily.py).
Records go to ``--dir`` (default ``/tmp/fcplan-calibration-replay``). ``dump --windows N`` records
N test windows instead of the panel's 3 (each ``horizon`` steps further back): on a panel of one
series the pooled coverage of 3 windows is mostly noise (``replay`` prints each window's count and
the standard error over windows). ``replay --variant NAME:CONST=VALUE,...`` replays with
:mod:`fcplan.models.conformal`'s constants changed and prints a table against them as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fcplan.models import conformal
from fcplan.models.metrics import wql

DEFAULT_DIR = Path("/tmp/fcplan-calibration-replay")
#: The levels the benchmark scores (devsuite_accuracy.SUITE_LEVELS) and the band whose coverage it reports.
SCORED = (0.1, 0.5, 0.9)
BAND = (0.1, 0.9)


@dataclass
class WindowRecord:
    """One test window: ``evidence`` the keyword arguments the final calibrator was fitted with
    (:func:`fcplan.models.conformal.fit_conformal`'s), ``forecast`` the uncalibrated final
    forecast as :meth:`Calibration.apply` got it (``values``, ``steps``, ``scales``, ``flags``;
    ``nonnegative``: the engine clipped the calibrated forecast at 0),
    ``actuals`` ``(n,)`` aligned with its rows (NaN: not scored) and ``levels`` the forecast's."""

    evidence: dict
    forecast: dict
    actuals: np.ndarray
    levels: tuple[float, ...]
    #: On a panel of count series, what rounding to counts needs (None elsewhere): ``nested`` the
    #: keyword arguments of :func:`fcplan.models.engine.nested_ensemble` (the honest backtest
    #: forecasts the rounding is chosen on), ``choose`` those of
    #: :func:`fcplan.models.ensemble.choose_snap` but the forecasts, ``rows`` ``(n,)`` the
    #: forecast's rows of count series.
    snap: dict | None = None
    #: The keyword arguments of :func:`fcplan.models.engine.nested_ensemble`: the backtest
    #: windows' ensemble with each window's weights chosen on the others, and the calibration
    #: windows (None in records made before it).
    nested: dict | None = None


Fit = Callable[..., conformal.Calibration]


def calibrated(record: WindowRecord, fit: Fit | None = None) -> np.ndarray:
    """``(n, n_q)``: the record's forecast calibrated by ``fit`` (default: the current
    :func:`fcplan.models.conformal.fit_conformal`) refitted on its evidence."""
    fit = conformal.fit_conformal if fit is None else fit
    cal = fit(**record.evidence)
    f = record.forecast
    out = cal.apply(f["values"], f["steps"], f["scales"], record.levels, flags=f.get("flags"))
    snap = getattr(record, "snap", None)
    if snap:
        out = snapped(out, record.levels, snap, fit)
    return np.maximum(out, 0.0) if f.get("nonnegative") else out


def snapped(out: np.ndarray, levels: Sequence[float], snap: dict, fit: Fit) -> np.ndarray:
    """``out`` with the count series' rows rounded to counts at the levels where rounding the
    honest backtest forecasts, calibrated by ``fit``, lowered their wQL (as the engine chooses)."""
    import fcplan.models.engine as engine
    from fcplan.models.ensemble import choose_snap, snap_counts

    saved = engine.fit_conformal
    engine.fit_conformal = lambda *a, **kw: fit(**dict(zip(_FIT_ARGS, a, strict=False)), **kw)
    try:
        honest = engine.nested_ensemble(**snap["nested"])
    finally:
        engine.fit_conformal = saved
    chosen = choose_snap(honest, **snap["choose"])
    rows = np.asarray(snap["rows"], dtype=bool)
    out = np.array(out, dtype="float64", copy=True)
    out[rows] = snap_counts(out[rows], levels, chosen)
    return out


_FIT_ARGS = ("pred", "actuals", "levels", "steps", "scales", "windows")


def score_window(record: WindowRecord, quantiles: np.ndarray) -> tuple[float, int, int]:
    """``(wQL over SCORED, actuals inside BAND, actuals scored)`` of ``quantiles`` on the record."""
    y = np.asarray(record.actuals, dtype="float64")
    ok = np.isfinite(y)
    cols = [list(record.levels).index(q) for q in SCORED]
    q = np.asarray(quantiles, dtype="float64")[ok][:, cols]
    lo, hi = SCORED.index(BAND[0]), SCORED.index(BAND[1])
    inside = int(((y[ok] >= q[:, lo]) & (y[ok] <= q[:, hi])).sum())
    return float(wql(y[ok], q, list(SCORED))), inside, int(ok.sum())


def replay(records: Sequence[WindowRecord], fit: Fit | None = None) -> dict[str, float]:
    """A panel's mean wQL over its windows and pooled 80 % coverage under ``fit``."""
    scores = [score_window(r, calibrated(r, fit)) for r in records]
    return {"wql": float(np.mean([s[0] for s in scores])),
            "coverage_80": sum(s[1] for s in scores) / max(sum(s[2] for s in scores), 1)}


def window_coverage(records: Sequence[WindowRecord], fit: Fit | None = None) -> list[tuple[int, int]]:
    """``(actuals inside BAND, actuals scored)`` of each record under ``fit``, oldest window first:
    on a panel of one series a window's points share its level shocks, so its band covers all or
    few of them and the spread over windows, not the points, says how noisy the pooled figure is."""
    return [score_window(r, calibrated(r, fit))[1:] for r in records]


def coverage_se(counts: Sequence[tuple[int, int]]) -> float:
    """Standard error of the mean of the windows' coverages ``counts`` (``(inside, n)`` each;
    NaN under two windows)."""
    cov = np.array([i / n for i, n in counts if n > 0], dtype="float64")
    return float(cov.std(ddof=1) / np.sqrt(len(cov))) if len(cov) > 1 else float("nan")


def with_windows(panel, windows: int | None):  # panel: devsuite.Panel
    """``panel`` with ``windows`` test windows (None: its own), each ``horizon`` steps further back."""
    return panel if not windows else dataclasses.replace(panel, windows=windows)


def record_panel(panel) -> list[WindowRecord]:  # panel: devsuite.Panel
    """Run the engine on each of ``panel``'s test windows (oldest first) as
    ``devsuite_accuracy.forecasts`` does, recording what :func:`replay` needs."""
    import devsuite_accuracy
    import pandas as pd

    import fcplan.models.engine as engine
    from fcplan.core.panel import KEYS, Y
    from fcplan.core.quantiles import quantile_columns
    from fcplan.models import ensemble

    fits: list[dict] = []
    applies: list[dict] = []
    snaps: dict = {}
    fit, apply = engine.fit_conformal, conformal.Calibration.apply
    nested_ensemble, choose_snap = engine.nested_ensemble, engine.choose_snap
    snapped_ = ensemble.EnsembleForecaster._snapped

    def recording_nested(evidence, levels, method, extra=None, prior=None):
        snaps["nested"] = dict(evidence=evidence, levels=levels, method=method, extra=extra, prior=prior)
        return nested_ensemble(evidence, levels, method, extra, prior)

    def recording_choose(pred, actuals, quantiles, groups, counts):
        snaps["choose"] = dict(actuals=np.array(actuals), quantiles=list(quantiles), groups=np.array(groups),
                               counts=np.array(counts))
        return choose_snap(pred, actuals, quantiles, groups, counts)

    def recording_snapped(self, values, quantiles):
        counts = getattr(self, "count_series_", None)
        snaps["rows"] = (np.zeros(values.shape[0] * values.shape[1], dtype=bool) if counts is None
                         else np.repeat(np.asarray(counts, dtype=bool), values.shape[1]))
        snaps["on"] = bool(self.params.get("snap")) and any((self.params.get("snap") or {}).values())
        return snapped_(self, values, quantiles)

    def recording_fit(pred, actuals, levels, steps, scales, windows, flags=None, prior=None, series=None):
        fits.append(dict(pred=np.array(pred), actuals=np.array(actuals), levels=list(levels), steps=np.array(steps),
                         scales=np.array(scales), windows=np.array(windows), flags=flags, prior=prior,
                         series=None if series is None else np.array(series)))
        return fit(pred, actuals, levels, steps, scales, windows, flags=flags, prior=prior, series=series)

    def recording_apply(self, values, steps, scales, levels, flags=None):
        out = apply(self, values, steps, scales, levels, flags=flags)
        applies.append(dict(values=np.array(values), steps=np.array(steps), scales=np.array(scales),
                            flags=flags, out=out))
        return out

    records = []
    engine.fit_conformal, conformal.Calibration.apply = recording_fit, recording_apply
    engine.nested_ensemble, engine.choose_snap = recording_nested, recording_choose
    ensemble.EnsembleForecaster._snapped = recording_snapped
    try:
        for k in range(panel.windows, 0, -1):
            fits.clear()
            applies.clear()
            snaps.clear()
            frames, _, _ = devsuite_accuracy.forecasts(panel, k, [], 0, None)
            frame = frames["fcplan"]
            # the final calibrator: the first fitted on all the evidence (later ones leave a window out)
            evidence = next(f for f in fits if len(f["actuals"]) == max(len(g["actuals"]) for g in fits))
            final = applies[-1]  # the forecast's, after the backtest's
            actuals = panel.window(k).actuals[[*KEYS, Y]]
            rows = frame[KEYS].assign(ds=pd.to_datetime(frame["ds"])).merge(actuals, on=KEYS, how="left")
            levels = tuple(devsuite_accuracy.SUITE_LEVELS)
            forecast = {k_: final[k_] for k_ in ("values", "steps", "scales", "flags")}
            snap = None
            if snaps.get("on") and "choose" in snaps:
                snap = {"nested": snaps["nested"], "choose": snaps["choose"], "rows": snaps["rows"]}
            record = WindowRecord(evidence, forecast, rows[Y].to_numpy("float64"), levels, snap, snaps.get("nested"))
            values = frame[quantile_columns(levels)].to_numpy("float64")
            for nonnegative in (False, True):  # the engine clips a demand forecast at 0 after calibrating
                record.forecast["nonnegative"] = nonnegative
                if np.allclose(values, calibrated(record, fit), equal_nan=True):
                    break
            else:
                raise AssertionError(f"{panel.name} window {k}: the replayed calibration differs from the run's")
            records.append(record)
    finally:
        engine.fit_conformal, conformal.Calibration.apply = fit, apply
        engine.nested_ensemble, engine.choose_snap = nested_ensemble, choose_snap
        ensemble.EnsembleForecaster._snapped = snapped_
    return records


def save(records: Sequence[WindowRecord], path: Path) -> None:
    """Pickle ``records`` as plain dicts (readable whichever module unpickles them), written
    only once complete."""
    data = pickle.dumps([vars(r) for r in records])
    path.write_bytes(data)


def load(path: Path) -> list[WindowRecord]:
    """The records :func:`save` wrote to ``path``."""
    return [WindowRecord(**r) for r in pickle.loads(path.read_bytes())]  # records before ``snap``: None


def _load(name: str):
    import devsuite
    import shapes
    import short_daily  # noqa: F401  (adds its panels to shapes.EXTRA)

    return shapes.EXTRA[name]() if name in shapes.EXTRA else devsuite.load(name)


@contextlib.contextmanager
def settings(values: dict[str, Any]) -> Iterator[None]:
    """:mod:`fcplan.models.conformal`'s constants set to ``values`` for the duration
    (``RECENCY_DECAY`` is bound as :func:`~fcplan.models.conformal.recency_weights`' default
    argument, so it is patched there)."""
    unknown = [k for k in values if not hasattr(conformal, k)]
    if unknown:
        raise KeyError(f"fcplan.models.conformal has no {', '.join(unknown)}")
    saved = {k: getattr(conformal, k) for k in values if k != "RECENCY_DECAY"}
    default = conformal.recency_weights.__defaults__
    try:
        for k, v in values.items():
            if k == "RECENCY_DECAY":
                conformal.recency_weights.__defaults__ = (v,)
            else:
                setattr(conformal, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(conformal, k, v)
        conformal.recency_weights.__defaults__ = default


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``"name:KEY=VALUE,KEY=VALUE"`` (values as JSON) -> ``(name, {KEY: value})``."""
    name, _, body = text.partition(":")
    values = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        values[key] = json.loads(value)
    return name, values


def compare(names: Sequence[str], directory: Path, variants: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Print each panel's wQL / pooled cov80 under the current constants ("base") and each
    variant, then the geometric mean of the wQL ratios to base and the panels in 0.72-0.88."""
    records = {n: load(directory / f"{n}.pkl") for n in names}
    runs = [("base", {}), *variants]
    res = {}
    for label, values in runs:
        with settings(values):
            res[label] = {n: replay(records[n]) for n in names}
    print(f"{'panel':24s}" + "".join(f"{label:>16s}" for label, _ in runs))
    for n in names:
        print(f"{n:24s}" + "".join(f"  {res[lb][n]['wql']:.4f}/{res[lb][n]['coverage_80']:.3f}" for lb, _ in runs))
    ratio = {lb: float(np.exp(np.mean([np.log(res[lb][n]["wql"] / res["base"][n]["wql"]) for n in names])))
             for lb, _ in runs}
    print(f"{'geomean wQL / base':24s}" + "".join(f"{ratio[lb]:16.4f}" for lb, _ in runs))
    print(f"{'cov80 in 0.72-0.88':24s}" + "".join(
        f"{sum(0.72 <= res[lb][n]['coverage_80'] <= 0.88 for n in names):16d}" for lb, _ in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("dump", "replay"))
    parser.add_argument("--panels", default="", help="comma-separated (replay: default every panel dumped)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--windows", type=int, default=None,
                        help="dump: test windows per panel (default the panel's own, 3): more windows, less noise")
    parser.add_argument("--variant", action="append", default=[],
                        help="replay: NAME:CONST=VALUE,... of fcplan.models.conformal (RECENCY_DECAY too), "
                             "repeatable; prints a table against the constants as they are")
    args = parser.parse_args()
    names = [n for n in args.panels.split(",") if n]
    if args.command == "dump":
        args.dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            save(record_panel(with_windows(_load(name), args.windows)), args.dir / f"{name}.pkl")
            print("recorded", name, flush=True)
        return
    names = names or sorted(p.stem for p in args.dir.glob("*.pkl"))
    if args.variant:
        compare(names, args.dir, [parse_variant(v) for v in args.variant])
        return
    out = {}
    for name in names:
        records = load(args.dir / f"{name}.pkl")
        out[name] = replay(records)
        counts = window_coverage(records)
        print(f"{name:24s} wQL {out[name]['wql']:.4f}  cov80 {out[name]['coverage_80']:.3f}  "
              f"({len(counts)} windows, s.e. {coverage_se(counts):.3f}: {' '.join(f'{i}/{n}' for i, n in counts)})",
              flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
