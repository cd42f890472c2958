"""What the registry's choice costs in the simulated loop: read a ``fcplan demo --headless
--simulate-days N`` database and report, per day the loop planned, what the operations
manager got from the plan in force when the day was booked.

For each center and local day D of the simulation (after the first plan):

- the plan in force at D's local midnight (the newest plan made on an earlier day: day-ahead
  booking; plans are dated by the simulated day of the retrain before them) and the
  forecast run it used (the champion then);
- ``age_days``: D minus that run's data end (how old the forecast behind the booking was);
- ``wql`` and ``cov80`` (the 0.1-0.9 band) of the champion's forecast of D (the newest
  run ever champion made before D: what retention keeps and the drift monitor judges; older
  runs' forecasts are pruned) against the orders that came (the center's complete local day);
- per shift of D in that plan, ``orders_planned`` against the orders that came in the
  shift's hours (its start, local, plus its length: 8 h), priced as the centers file
  prices packer-hours: a short order costs ``cost_short`` (3), an idle one 1, as a share of
  the orders that came (``cost``); ``short`` and ``idle`` are the shares; ``plan_median_wape``:
  the plan's median orders per shift against the orders that came (the plan's own forecast,
  exactly as booked, unlike ``wql``, which retention lets us score only on the newest past champion).

Decisions by kind come from ``model_decisions``. Usage::

    python benchmarks/registry_loop.py base.db new.db   # one JSON line per database
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, select

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift import as_issued
from fcplan.models.drift_loop import past_champions
from fcplan.models.metrics import wql
from fcplan.storage import queries as q
from fcplan.storage.schema import forecast_runs, plan_runs, staffing_plans

TZ = "Asia/Seoul"
ZONES = {"FC-GWANGJU": "Australia/Sydney"}  # centers.example.toml, as the simulated demo uses it
COST_SHORT = 3.0
SHIFT_HOURS = 8
SHIFTED = ("FC-BUSAN", "2026-11-20")  # the measured run's --shift FC-BUSAN:+40%@2026-11-20


def issued_level(row: dict, level: str) -> float:
    return float(row[level])


def measure(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        plans = pd.DataFrame(conn.execute(select(plan_runs.c.plan_id, plan_runs.c.forecast_run_id,
                                                 plan_runs.c.created_at)).all(),
                             columns=["plan_id", "run_id", "created_at"])
        rows = pd.DataFrame(conn.execute(select(staffing_plans.c.plan_id, staffing_plans.c.center_id,
                                                staffing_plans.c.day, staffing_plans.c.shift,
                                                staffing_plans.c.starts_at, staffing_plans.c.orders_planned,
                                                staffing_plans.c.orders_median,
                                                staffing_plans.c.packers)).all(),
                            columns=["plan_id", UNIQUE_ID, "day", "shift", "starts_at", "orders_planned", "median",
                                     "packers"])
    with engine.connect() as conn:
        runs_end = pd.DataFrame(conn.execute(select(forecast_runs.c.run_id, forecast_runs.c.created_at,
                                                    forecast_runs.c.data_end)).all(),
                                columns=["run_id", "created_at", "data_end"])
    runs = runs_end.rename(columns={"run_id": "made_by"})[["made_by", "created_at"]].sort_values("created_at")
    # created_at is the wall clock, not the simulated one: a plan's simulated day is the day (the run
    # id's prefix, the local date of the retrain) of the newest run made before it
    plans = pd.merge_asof(plans.sort_values("created_at"), runs, on="created_at")
    plans["sim_day"] = pd.to_datetime(plans["made_by"].str[:8], format="%Y%m%d")
    forecasts = q.issued_forecasts(engine, pd.Timestamp("1970-01-01").date())
    hourly = q.hourly_orders(engine, TZ, zones=ZONES)
    daily = hourly.assign(**{DS: hourly[DS].dt.normalize()}).groupby([UNIQUE_ID, DS], as_index=False)[Y].sum()
    last_complete = hourly.groupby(UNIQUE_ID)[DS].max().dt.normalize()  # the last day is still filling
    levels = sorted((c for c in forecasts.columns if c not in (UNIQUE_ID, DS, "data_end", "run_id")), key=float)
    first_plan = plans["sim_day"].min()
    # the champion's forecast of each day: the newest run that was ever champion, made before the day
    # (models/retention.py keeps exactly these; the drift monitor judges them)
    issued = as_issued(forecasts[forecasts["run_id"].isin(past_champions(engine))])
    issued = issued.merge(forecasts[["run_id", UNIQUE_ID, DS, "data_end"]], on=["run_id", UNIQUE_ID, DS])
    out_days = []
    for row in issued.merge(daily, on=[UNIQUE_ID, DS]).to_dict("records"):
        ds, uid = row[DS], row[UNIQUE_ID]
        if ds >= last_complete[uid] or ds <= first_plan:
            continue
        qs = np.array([[float(issued_level(row, v)) for v in levels]])
        out_days.append({"age_days": (ds - row["data_end"]).days, "wql": wql(np.array([row[Y]]), qs,
                         [float(v) for v in levels]), "y": float(row[Y]),
                         "in80": float(issued_level(row, "0.1") <= row[Y] <= issued_level(row, "0.9")),
                         "run_id": row["run_id"]})
    out_shifts = []
    data_end = dict(zip(runs_end["run_id"], pd.to_datetime(runs_end["data_end"]), strict=True))
    for (uid, ds), _grp in daily.groupby([UNIQUE_ID, DS]):
        if ds >= last_complete[uid] or ds <= first_plan:
            continue
        plan = plans[plans["sim_day"] < ds].iloc[-1]  # day-ahead: the newest plan made before D (04:00 local)
        mine = rows[(rows["plan_id"] == plan["plan_id"]) & (rows[UNIQUE_ID] == uid)
                    & (pd.to_datetime(rows["day"]) == ds)]
        hours = hourly[hourly[UNIQUE_ID] == uid].set_index(DS)[Y]
        for _, s in mine.iterrows():
            start = pd.Timestamp(s["starts_at"])
            came = float(hours[(hours.index >= start) & (hours.index < start + pd.Timedelta(hours=SHIFT_HOURS))].sum())
            out_shifts.append({"planned": float(s["orders_planned"]), "median": float(s["median"]), "came": came,
                               "packers": int(s["packers"]), "age_days": (ds - data_end[plan["run_id"]]).days,
                               UNIQUE_ID: uid, DS: ds})
    days, shifts = pd.DataFrame(out_days), pd.DataFrame(out_shifts)
    # wQL over all center-days, weighted as wQL is (by the orders): sum of losses / sum of orders
    wql_pooled = float((days["wql"] * days["y"]).sum() / days["y"].sum())
    short = np.maximum(shifts["came"] - shifts["planned"], 0).sum() / shifts["came"].sum()
    idle = np.maximum(shifts["planned"] - shifts["came"], 0).sum() / shifts["came"].sum()
    def cost(frame: pd.DataFrame) -> float:
        came = frame["came"].sum()
        return round(float((COST_SHORT * np.maximum(frame["came"] - frame["planned"], 0).sum()
                            + np.maximum(frame["planned"] - frame["came"], 0).sum()) / came), 4)

    shifted = shifts[(shifts[UNIQUE_ID] == SHIFTED[0]) & (shifts[DS] >= pd.Timestamp(SHIFTED[1]))]
    decisions = q.decisions_frame(engine, limit=10_000)
    kinds = Counter(e.get("kind") for e in decisions["evidence"])
    return {
        "db": url,
        "center_days": len(days),
        "plan_age_days_mean": round(float(shifts["age_days"].mean()), 2),
        "plan_age_days_max": int(shifts["age_days"].max()),
        "plan_age_days_hist": {int(k): v for k, v in sorted(Counter(shifts["age_days"]).items())},
        "champion_age_days_mean": round(float(days["age_days"].mean()), 2),
        "champions_used": int(days["run_id"].nunique()),
        "wql": round(wql_pooled, 4),
        "cov80": round(float(days["in80"].mean()), 3),
        "shifts": len(shifts),
        "plan_median_wape": round(float((shifts["median"] - shifts["came"]).abs().sum() / shifts["came"].sum()), 4),
        "plan_median_bias": round(float(shifts["median"].sum() / shifts["came"].sum() - 1), 4),
        "orders_planned_over_came": round(float(shifts["planned"].sum() / shifts["came"].sum()), 4),
        "short_share": round(float(short), 4),
        "idle_share": round(float(idle), 4),
        "cost_per_order": round(float(COST_SHORT * short + idle), 4),
        "packers_booked": int(shifts["packers"].sum()),
        "cost_per_order_by_center": {c: cost(g) for c, g in shifts.groupby(UNIQUE_ID)},
        f"cost_per_order_{SHIFTED[0]}_from_{SHIFTED[1]}": cost(shifted) if len(shifted) else None,
        "decisions_by_kind": dict(sorted(kinds.items())),
    }


def main() -> None:
    for path in sys.argv[1:]:
        print(json.dumps(measure(path if "://" in path else f"sqlite:///{path}")))


if __name__ == "__main__":
    main()
