"""The planner's runner (``fcplan plan``): the only place the planner does I/O.

Champion forecast run + hourly history (hour profiles, orders so far) -> pure
:func:`fcplan.planner.crews.plan_crews` and :func:`fcplan.planner.intraday.apply_intraday`
-> ``plan_runs`` / ``staffing_plans``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fcplan.core.clock import SystemClock
from fcplan.core.contracts import StaffingPlanRecord
from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.core.settings import CenterParams, PlannerSettings
from fcplan.planner.centers import Centers, centers_from_settings
from fcplan.planner.crews import (
    capped_summary,
    hour_profiles,
    plan_crews,
    plan_notes,
    waiting_before,
    waiting_orders,
)
from fcplan.planner.intraday import apply_intraday, intraday_summary, with_changes
from fcplan.storage import queries as q
from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import plan_runs, staffing_plans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanResult:
    plan_id: str | None
    rows: int
    message: str


def make_plan(
    engine: Engine, cfg: PlannerSettings, tz: str, now: datetime | None = None, centers: Centers | None = None
) -> PlanResult:
    """Plan packers per center, day and shift from the champion forecast run (the newest
    where none is marked).

    ``now`` (tz-aware; from the one clock, :class:`SystemClock` by default) gives each
    center's local today: today's shifts not yet started are re-planned from the orders
    so far, the others keep the packers of the plan in force. ``centers``: the centers file (default:
    ``cfg.centers_file``, else the ``FCPLAN_PLANNER_*`` variables for every center)."""
    current = pd.Timestamp(now if now is not None else SystemClock().now())
    # The runs and plans of this clock: a simulation started in the past on a database holding a
    # real-time loop's runs plans from its own (see :func:`fcplan.storage.queries.current_forecast_run`).
    run = q.current_forecast_run(engine, current.to_pydatetime())
    if run is None:
        return PlanResult(None, 0, "no forecast stored yet: run `fcplan retrain` first")
    forecast = q.forecast_frame(engine, run["run_id"])
    conf = centers or centers_from_settings(cfg, tz)
    ids = forecast[UNIQUE_ID].astype(str).unique()
    # A center the file neither lists nor covers by [defaults] (new in the stream) is left out with a
    # note: it stopped the plan of every center, cycle after cycle, until the file was edited.
    unlisted = [] if conf.default is not None else sorted(i for i in ids if i not in conf.centers)
    if unlisted and len(unlisted) < len(ids):
        log.warning("centers %s are not in the %s; they are not planned", unlisted[:8], conf.source)
        forecast = forecast[~forecast[UNIQUE_ID].astype(str).isin(unlisted)]
        ids = forecast[UNIQUE_ID].astype(str).unique()
    else:
        unlisted = []
    configs = conf.for_ids(ids)
    zones = {c: conf.timezone for c, conf in configs.items()}
    since = (current.tz_convert("UTC") - pd.Timedelta(days=63)).tz_localize(None).to_pydatetime()
    hourly = q.hourly_orders(engine, tz, since=since, zones=zones)
    now_local = {c: current.tz_convert(z).tz_localize(None) for c, z in zones.items()}
    today = hourly[UNIQUE_ID].map({c: t.normalize() for c, t in now_local.items()})
    profiles = hour_profiles(hourly[hourly[DS] < today], list(configs))
    # Orders counted on the closed days just before the forecast's first day (it does not hold them) and
    # before today, that no shift packed: they wait for the first shift of the next open day.
    waiting = waiting_before(configs, forecast, hourly, now_local)
    backlog = {c: waiting_orders(conf_c, hourly[hourly[UNIQUE_ID] == c], now_local[c].normalize())
               for c, conf_c in configs.items()}
    plan = plan_crews(forecast, configs, profiles, waiting=waiting)
    # today's orders per local hour: a shift after hours no shift covered packs those counted in them
    now_rows = hourly[hourly[DS] >= today]
    so_far = {}
    for c, grp in now_rows.groupby(UNIQUE_ID):
        so_far[str(c)] = np.bincount(pd.to_datetime(grp[DS]).dt.hour.to_numpy(), grp["y"].to_numpy("float64"), 24)
    previous = q.latest_plan_run(engine, current.to_pydatetime())
    booked = q.plan_frame(engine, previous["plan_id"]).rename(columns={"center_id": UNIQUE_ID, "day": DS}) \
        if previous else None
    plan, changes = apply_intraday(plan, forecast, configs, profiles, now_local, so_far, booked, waiting=backlog)
    plan = with_changes(plan, booked, configs, now_local)
    # After today's re-plan (its shifts not started booked on the orders so far); a running shift that
    # keeps fewer packers than the plan in force booked is short, but not capped.
    cap = plan[UNIQUE_ID].map({c: conf.max_packers for c, conf in configs.items()}).astype("float64")
    capped = plan[(plan["packers"] < plan["packers_needed"]) & (plan["packers"] >= cap)]
    params = CenterParams.from_settings(cfg)
    plan_id = f"{run['run_id']}-{uuid.uuid4().hex[:6]}"
    rows = [
        {
            "plan_id": plan_id,
            "center_id": r[UNIQUE_ID],
            "day": pd.Timestamp(r[DS]).date(),
            "shift": r["shift"],
            "orders_median": float(r["orders_median"]),
            "orders_planned": float(r["orders_planned"]),
            "packer_hours": float(r["packer_hours"]),
            "packers": int(r["packers"]),
            "starts_at": pd.Timestamp(r["starts_at"]).to_pydatetime(),
            "packers_needed": int(r["packers_needed"]),
            "next_day_forecast": bool(r["next_day_forecast"]),
            "shift_status": r["shift_status"],
            "packers_before": None if pd.isna(r["packers_before"]) else int(r["packers_before"]),
            "packers_change": None if pd.isna(r["packers_change"]) else int(r["packers_change"]),
            "action": r["action"],
        }
        for r in plan.to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(
            plan_runs.insert(),
            {
                "plan_id": plan_id,
                "forecast_run_id": run["run_id"],
                "created_at": utcnow(current.to_pydatetime()),
                "service_quantile": params.service_quantile,
                "params": {
                    **params.center_values(),
                    "shifts": list(cfg.shifts),
                    "center_overrides": cfg.center_overrides,
                    "centers": {c: conf.model_dump(mode="json") for c, conf in configs.items()},
                },
            },
        )
        upsert(conn, staffing_plans, rows, ["plan_id", "center_id", "day", "shift"])
    left_out = [f"center(s) {unlisted[:8]} are not in the {conf.source} and were not planned; add a "
                f"[centers.\"<id>\"] table for each (or a [defaults] table)"] if unlisted else []
    notes = "".join(f"; note: {n}" for n in [*left_out, *plan_notes(forecast, configs)])
    message = f"plan {plan_id}: {len(rows)} rows" + capped_summary(capped, conf.source) + intraday_summary(changes)
    return PlanResult(plan_id, len(rows), message + notes)


def plan_records(engine: Engine, plan_id: str) -> list[tuple[str, StaffingPlanRecord]]:
    """``(center, record)`` pairs for the ``staffing-plans`` topic."""
    frame = q.plan_frame(engine, plan_id)
    return [
        (
            r["center_id"],
            StaffingPlanRecord(
                plan_id=plan_id,
                center_id=r["center_id"],
                day=pd.Timestamp(r["day"]).date(),
                shift=r["shift"],
                packers=int(r["packers"]),
                orders_planned=float(r["orders_planned"]),
            ),
        )
        for r in frame.to_dict("records")
    ]
