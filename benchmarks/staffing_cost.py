"""What a staffing plan costs: fcplan's plans against four peers, priced on what happened.

Rolling 14-day plans (3 windows ending at the data's end), each priced per
center-day against the orders that came: every booked packer-hour costs 1, every
needed hour not booked costs 1 + p (p = 2, the default shortage premium, and
p = 1). One packer-hour packs one order (productivity cancels out of every ratio),
so a plan's booked hours are its planned orders. Plans, all in the same run:

- ``fcplan``: the engine's quantile forecast (as in benchmarks/accuracy.py) through
  the planner (``plan_crews``, one 24-hour shift, no minimum) at the newsvendor
  quantile ``p / (1 + p)`` (cost_short = p, cost_idle = 1);
- ``perfect``: perfect foresight, books exactly what was needed (cost = hours needed);
- ``true_distribution`` (simulator only): the same planner on the true demand
  distribution given what is known at the origin (``Oracle.predictive_quantiles``);
- ``moving_average``: common practice, books the mean of the last 4 same weekdays;
- ``seasonal_naive``: statsforecast SeasonalNaive(7) quantiles through the planner.

Data: (a) daily orders of the UK and EU regions of a real online retailer
(data/online_retail_ii_orders.csv.gz; the export stops at 12:50 on 2011-12-09, so the
windows end on the last complete day, 2011-12-08: benchmarks/retail.py), (b) 50 simulated centers
(fcplan.simulator; promotions as announced at the origin). The last line is one
JSON object with, per data set and p, ``ratio_vs_perfect``,
``ratio_vs_moving_average``, ``ratio_vs_seasonal_naive`` and on the simulator
``ratio_vs_true_distribution`` (fcplan's cost over the peer's).
Targets: p = 2 ``ratio_vs_perfect`` <= 1.20 (real data), ``ratio_vs_true_distribution`` <= 1.05.
Per data set it also prints where fcplan's excess cost comes from (weekday, window) and the
service-level headroom (:func:`fractile_headroom`): what planning at another level than
``p / (1 + p)`` would have cost, chosen in hindsight (a bound on any fractile correction).

Needs pandas<3 and statsforecast (``make .venv-bench/.installed``); run with
OMP_NUM_THREADS=1. ``--quick``: one window, 10 centers, 20 s engine budget.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import simulated_panel
from retail import retail_panel

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine
from fcplan.planner.centers import WEEKDAYS, CenterConfig
from fcplan.planner.crews import plan_crews
from fcplan.planner.staffing import interpolate_quantile

LEVELS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
COLS = quantile_columns(LEVELS)
PREMIUMS = (2.0, 1.0)
HORIZON = 14
#: A weekday without orders in each of the last CLOSED_WEEKS weeks is a closed day.
CLOSED_WEEKS = 8
TARGETS = {"retail_p2_ratio_vs_perfect": 1.20, "simulator_p2_ratio_vs_true_distribution": 1.05}


def center(center_id: str, p: float, closed: tuple[str, ...] = ()) -> CenterConfig:
    """A center priced as the benchmark prices: one 24-hour shift, 1 order per packer-hour;
    closed on the weekdays ``closed``."""
    return CenterConfig(
        closed_weekdays=closed,
        center_id=center_id,
        shifts=({"name": "all", "start": 0, "end": 24, "paid_hours": 24},),
        orders_per_packer_hour=1.0,
        shrinkage=0.0,
        min_packers=0,
        cost_short=p,
        cost_idle=1.0,
    )


def closed_weekdays(train: pd.DataFrame, weeks: int = CLOSED_WEEKS) -> dict[str, tuple[str, ...]]:
    """Per center, the weekdays without a single order in the last ``weeks`` weeks of
    ``train``: what its centers file would list as ``closed_weekdays``."""
    last = train[train[DS] > train[DS].max() - pd.Timedelta(weeks=weeks)]
    busy = last.groupby([last[UNIQUE_ID].astype(str), last[DS].dt.dayofweek])[Y].max()
    return {str(c): tuple(WEEKDAYS[d] for d, top in grp.droplevel(0).items() if top <= 0)
            for c, grp in busy.groupby(level=0)}


def booked_hours(forecast: pd.DataFrame, p: float, closed: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """``unique_id, ds, booked``: the planner's packer-hours per center-day at premium ``p``."""
    ids = forecast[UNIQUE_ID].astype(str).unique()
    closed = closed or {}
    plan = plan_crews(forecast[[*KEYS, *COLS]], {c: center(c, p, closed.get(c, ())) for c in ids}, {})
    return plan[[UNIQUE_ID, DS]].assign(booked=plan["packer_hours"].to_numpy())


def cost(booked: np.ndarray, needed: np.ndarray, p: float) -> float:
    """Booked hours cost 1 each, needed hours not booked 1 + p each."""
    return float(np.sum(booked) + (1.0 + p) * np.sum(np.maximum(needed - booked, 0.0)))


def moving_average(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Mean of the last 4 same weekdays of the history, per center (``unique_id, ds, booked``)."""
    last4 = train.sort_values(DS).groupby([UNIQUE_ID, train[DS].dt.weekday]).tail(4)
    means = last4.groupby([UNIQUE_ID, last4[DS].dt.weekday])[Y].mean()
    keys = pd.MultiIndex.from_arrays([test[UNIQUE_ID], test[DS].dt.weekday])
    return test[KEYS].assign(booked=means.reindex(keys).fillna(0.0).to_numpy())


def seasonal_naive(train: pd.DataFrame) -> pd.DataFrame:
    """statsforecast SeasonalNaive(7) quantiles at ``LEVELS``."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    widths = sorted({round(abs(1 - 2 * q) * 100) for q in LEVELS if q != 0.5})
    sf = StatsForecast(models=[SeasonalNaive(season_length=7)], freq="D", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=train[[*KEYS, Y]], h=HORIZON, level=widths)
    fc = fc.reset_index() if UNIQUE_ID not in fc.columns else fc
    out = fc[KEYS].copy()
    for q, col in zip(LEVELS, COLS, strict=True):
        side = "lo" if q < 0.5 else "hi"
        out[col] = fc["SeasonalNaive"] if q == 0.5 else fc[f"SeasonalNaive-{side}-{round(abs(1 - 2 * q) * 100)}"]
    out[COLS] = np.sort(np.clip(out[COLS].to_numpy(), 0, None), axis=1)
    return out


def evaluate(panel: pd.DataFrame, windows: int, oracle=None, country: str | None = None,
             time_limit_s: float | None = None, dump: Path | None = None) -> dict[float, dict[str, float]]:
    """Total cost of each plan over the windows, per premium p. ``dump``: a CSV path to write
    every window's actuals and quantile forecasts to (for analysing where the cost comes from)."""
    dumped = []
    last = panel[DS].max()
    covs = [c for c in panel.columns if c not in (*KEYS, Y)]
    totals: dict[float, dict[str, float]] = {p: {} for p in PREMIUMS}
    for w in range(windows, 0, -1):
        cutoff = last - pd.Timedelta(days=w * HORIZON)
        train = panel[panel[DS] <= cutoff]
        test = panel[(panel[DS] > cutoff) & (panel[DS] <= cutoff + pd.Timedelta(days=HORIZON))].reset_index(drop=True)
        future = test[[*KEYS, *covs]]
        first = cutoff + pd.Timedelta(days=1)
        if oracle is not None and covs:
            announced = oracle.future(first, HORIZON, as_of=first)
            future = test[KEYS].merge(announced[[*KEYS, *covs]], on=KEYS, how="left").fillna(0.0)
        result = run_engine(train, HORIZON, LEVELS, future=future if covs else None, freq="D", windows=2,
                            holiday_country=country, time_limit_s=time_limit_s)
        quantile_plans = {"fcplan": result.forecast, "seasonal_naive": seasonal_naive(train)}
        if oracle is not None:
            quantile_plans["true_distribution"] = oracle.predictive_quantiles(
                LEVELS, first, first + pd.Timedelta(days=HORIZON), as_of=first)
        needed = test[Y].to_numpy("float64")
        shut = closed_weekdays(train)
        closed = [WEEKDAYS[d] in shut.get(str(c), ())
                  for c, d in zip(test[UNIQUE_ID], test[DS].dt.dayofweek, strict=True)]
        dumped += [test[[*KEYS, Y]].assign(closed=closed)
                   .merge(frame[[*KEYS, *COLS]].assign(ds=pd.to_datetime(frame[DS])), on=KEYS)
                   .assign(plan=name, window=w) for name, frame in quantile_plans.items()]
        for p in PREMIUMS:
            plans = {name: booked_hours(frame.assign(ds=pd.to_datetime(frame[DS])), p, shut)
                     for name, frame in quantile_plans.items()}
            plans["moving_average"] = moving_average(train, test)
            row = totals[p]
            row["perfect"] = row.get("perfect", 0.0) + float(needed.sum())
            for name, plan in plans.items():
                booked = test[KEYS].merge(plan, on=KEYS, how="left")["booked"]
                if booked.isna().any():
                    raise RuntimeError(f"{name} planned {int(booked.notna().sum())} of {len(test)} center-days")
                row[name] = row.get(name, 0.0) + cost(booked.to_numpy("float64"), needed, p)
        print(f"  window ending {(cutoff + pd.Timedelta(days=HORIZON)).date()}: fcplan weights "
              f"{ {k: round(v, 2) for k, v in result.weights.items() if v > 0} }; closed weekdays "
              f"{ {c: d for c, d in shut.items() if d} or 'none'}", flush=True)
    frames = pd.concat(dumped, ignore_index=True)
    if dump is not None:
        frames.to_csv(dump, index=False)
    ours = frames[frames["plan"] == "fcplan"]
    print(breakdown(ours, PREMIUMS[0]), flush=True)
    for p in PREMIUMS:
        print(headroom_line(fractile_headroom(ours, p), p), flush=True)
    return totals


def planned_at(frame: pd.DataFrame, tau: float | np.ndarray) -> np.ndarray:
    """The packer-hours the benchmark's planner books on the dumped rows ``frame`` (``COLS``
    and ``closed``) when it plans at level ``tau`` (scalar or per row) instead of ``p / (1 + p)``:
    the quantile interpolated between the forecast's levels, at least 0, and 0 on closed days."""
    values = frame[COLS].to_numpy("float64")
    taus = np.broadcast_to(np.asarray(tau, dtype="float64"), (len(frame),))
    booked = np.maximum(interpolate_quantile(values, np.asarray(LEVELS), taus), 0.0)
    closed = frame["closed"].to_numpy(bool) if "closed" in frame.columns else np.zeros(len(frame), dtype=bool)
    return np.where(closed, 0.0, booked)


#: Planning levels :func:`fractile_headroom` tries.
HEADROOM_GRID = tuple(np.round(np.arange(0.05, 0.951, 0.01), 2))


def fractile_headroom(frame: pd.DataFrame, p: float, grid: tuple[float, ...] = HEADROOM_GRID) -> dict:
    """How much a planning-side correction of the service level could save, in hindsight.

    On the dumped rows ``frame`` (one plan), fcplan's cost per needed hour (perfect = 1) at the
    newsvendor level ``p / (1 + p)``, at the single level of ``grid`` that was cheapest over all
    of them, and with each center at its own cheapest level. Chosen on the very rows they are
    priced on, the last two are bounds, not plans: if even they miss a target, no re-chosen
    service level (an empirical or cost-calibrated fractile, say) can meet it; the forecast must
    change."""
    needed = frame[Y].to_numpy("float64")
    total = float(needed.sum())
    nominal = p / (1 + p)
    pooled = np.array([cost(planned_at(frame, t), needed, p) for t in grid]) / total
    best = int(np.argmin(pooled))
    per_center, center_cost = {}, 0.0
    for center_id, rows in frame.groupby(UNIQUE_ID, sort=True):
        costs = np.array([cost(planned_at(rows, t), rows[Y].to_numpy("float64"), p) for t in grid])
        per_center[str(center_id)] = float(grid[int(np.argmin(costs))])
        center_cost += float(costs.min())
    return {"nominal_level": round(nominal, 4),
            "nominal_ratio": cost(planned_at(frame, nominal), needed, p) / total,
            "best_level": float(grid[best]), "best_ratio": float(pooled[best]),
            "per_center_levels": per_center, "per_center_ratio": center_cost / total}


def headroom_line(h: dict, p: float, show: int = 8) -> str:
    """:func:`fractile_headroom`'s result as one line (the centers' levels named up to ``show``
    centers, their range and median beyond)."""
    levels = h["per_center_levels"]
    if len(levels) <= show:
        levels = ", ".join(f"{c} {t:.2f}" for c, t in levels.items())
    else:
        t = np.array(list(levels.values()))
        levels = f"{len(t)} centers, levels {t.min():.2f}-{t.max():.2f}, median {np.median(t):.2f}"
    return (f"  service-level headroom at p = {p:g} (hindsight, a bound): the newsvendor level "
            f"{h['nominal_level']:.3f} costs {h['nominal_ratio']:.4f} x perfect; the best single level, "
            f"{h['best_level']:.2f}, {h['best_ratio']:.4f}; each center at its best ({levels}) "
            f"{h['per_center_ratio']:.4f}")


def breakdown(frame: pd.DataFrame, p: float) -> str:
    """Where fcplan's cost above perfect foresight comes from at premium ``p``: per weekday and
    window, the short and idle cost as a share of the hours needed (``frame``: the dumped rows)."""
    booked = planned_at(frame, p / (1 + p))
    weekday = frame[DS].dt.dayofweek.map(dict(enumerate(WEEKDAYS)))
    total = float(frame[Y].sum())
    parts = frame.assign(short=(1 + p) * np.maximum(frame[Y] - booked, 0) / total,
                         idle=np.maximum(booked - frame[Y], 0) / total, weekday=weekday)
    lines = [f"  fcplan's excess cost at p = {p:g} (share of the hours needed; closed days booked at 0):"]
    for key in ("weekday", "window"):
        table = parts.groupby(key, sort=key == "window")[["short", "idle"]].sum()
        table = table.reindex(WEEKDAYS).dropna() if key == "weekday" else table
        lines.append(f"    by {key}: " + ", ".join(f"{k}: short {r.short:.3f} idle {r.idle:.3f}"
                                               for k, r in table.iterrows()))
    return "\n".join(lines)


def report(title: str, totals: dict[float, dict[str, float]]) -> dict:
    print(f"\n{title}")
    out = {}
    for p, costs in totals.items():
        print(f"p = {p:g}: cost per needed packer-hour (perfect foresight = 1)")
        for name, value in sorted(costs.items(), key=lambda kv: kv[1]):
            print(f"  {name:<20}{value / costs['perfect']:8.3f}")
        ratios = {f"ratio_vs_{peer}": costs["fcplan"] / costs[peer]
                  for peer in ("perfect", "moving_average", "seasonal_naive", "true_distribution") if peer in costs}
        out[f"p{p:g}"] = {k: round(v, 4) for k, v in ratios.items()}
    return out


def _dump(args: argparse.Namespace, name: str) -> Path | None:
    if args.dump is None:
        return None
    args.dump.mkdir(parents=True, exist_ok=True)
    return args.dump / f"{name}.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="one window, 10 centers, 20 s engine budget")
    parser.add_argument("--only", choices=["retail", "simulator"], default=None)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="fcplan's time budget per forecast, s (default: none, fcplan's deterministic defaults)")
    parser.add_argument("--dump", type=Path, default=None,
                        help="folder to write each data set's actuals and quantile forecasts to (CSV)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    windows, centers = (1, min(args.centers, 10)) if args.quick else (3, args.centers)
    limit = 20.0 if args.quick and args.time_limit is None else args.time_limit
    out: dict = {}
    if args.only in (None, "retail"):
        print("(a) online retail daily orders, UK and EU (holidays: GB)", flush=True)
        totals = evaluate(retail_panel(), windows, country="GB", time_limit_s=limit, dump=_dump(args, "retail"))
        out["retail"] = report("(a) online retail, UK and EU", totals)
    if args.only in (None, "simulator"):
        sim = simulated_panel(centers, 730)
        if sim is not None:
            print(f"(b) simulator, {centers} centers", flush=True)
            panel, oracle = sim
            out["simulator"] = report(f"(b) simulator, {centers} centers",
                                      evaluate(panel, windows, oracle, country="KR", time_limit_s=limit,
                                               dump=_dump(args, "simulator")))
    met = {}
    for key, target in TARGETS.items():
        data, p, ratio = key.split("_", 2)
        if data in out:
            met[key] = out[data][p][ratio] <= target
    out["targets_met"] = met
    print(json.dumps(out))


if __name__ == "__main__":
    main()
