"""The planner's runner (``fcplan plan``): the only place the planner does I/O.

Latest forecast run + hourly history (for shift shares) -> pure
:func:`fcplan.planner.staffing.plan_staffing` -> ``plan_runs`` / ``staffing_plans``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from fcplan.core.contracts import StaffingPlanRecord
from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.core.settings import CenterParams, PlannerSettings
from fcplan.planner.shifts import parse_shifts, shift_shares
from fcplan.planner.staffing import plan_staffing
from fcplan.storage import queries as q
from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import plan_runs, staffing_plans


@dataclass(frozen=True)
class PlanResult:
    plan_id: str | None
    rows: int
    message: str


def make_plan(engine: Engine, cfg: PlannerSettings, tz: str, now: datetime | None = None) -> PlanResult:
    """Plan packers per center, day and shift from the champion forecast run (the newest
    where none is marked); ``now`` (tz-aware) comes from the one clock, the wall clock by default."""
    run = q.current_forecast_run(engine)
    if run is None:
        return PlanResult(None, 0, "no forecast stored yet: run `fcplan retrain` first")
    forecast = q.forecast_frame(engine, run["run_id"])
    shifts = parse_shifts(cfg.shifts)
    current = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    since = (current.tz_convert("UTC") - pd.Timedelta(days=35)).tz_localize(None).to_pydatetime()
    hourly = q.hourly_orders(engine, tz, since=since)
    today = current.tz_convert(tz).tz_localize(None).normalize()
    shares = shift_shares(
        hourly[[UNIQUE_ID, DS, "y"]], shifts, centers=forecast[UNIQUE_ID].unique().tolist(), before=today
    )
    params = CenterParams.from_settings(cfg)
    plan = plan_staffing(forecast, shares, CenterParams.per_center(cfg, forecast[UNIQUE_ID].unique()))
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
        }
        for r in plan.to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(
            plan_runs.insert(),
            {
                "plan_id": plan_id,
                "forecast_run_id": run["run_id"],
                "created_at": utcnow(),
                "service_quantile": params.service_quantile,
                "params": {
                    **params.center_values(),
                    "shifts": list(cfg.shifts),
                    "center_overrides": cfg.center_overrides,
                },
            },
        )
        upsert(conn, staffing_plans, rows, ["plan_id", "center_id", "day", "shift"])
    return PlanResult(
        plan_id, len(rows), f"plan {plan_id}: {len(rows)} rows at service level {params.service_quantile:.2f}"
    )


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
