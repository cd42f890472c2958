"""Intraday re-planning: today's orders so far update the shifts not yet started.

The day's forecast says how many orders to expect, the center's hour profile
(:func:`fcplan.planner.crews.hour_profiles`) how many of them should have come
by now. :func:`conditional_rest` turns both and the orders counted so far into
quantiles of the rest of the day (a gamma-Poisson update of the day's level:
the forecast's spread is the prior, the orders so far the evidence).
:func:`replan_today` re-plans only the shifts that have not started and says
what changed ("call in 3", "release 2"); a shift running or over keeps its
packers, whatever the orders say.

Pure: numbers and :class:`~fcplan.planner.centers.CenterConfig` in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, select_model
from fcplan.core.quantiles import quantile_levels
from fcplan.planner.centers import CenterConfig
from fcplan.planner.crews import SHIFT, carried_days, on_the_clock, packed_span
from fcplan.planner.quantile_sum import days_samples, quantile_of_days
from fcplan.planner.staffing import cheapest_headcount, interpolate_quantile

NOT_STARTED, RUNNING, OVER = "not started", "running", "over"
INTRADAY_COLUMNS = [SHIFT, "starts_at", "status", "orders_planned", "packers_before", "packers", "change", "action",
                    "packers_needed"]
#: z of the 0.1 and 0.9 quantiles of a normal (the forecast spread -> its variance).
_Z90 = 1.2815515655446004


def elapsed_share(profile: np.ndarray, hours_elapsed: float) -> float:
    """Share of the day's orders expected before ``hours_elapsed`` local hours (0-24)."""
    h = float(np.clip(hours_elapsed, 0.0, 24.0))
    whole = int(h)
    done = float(profile[:whole].sum())
    return done + (float(profile[whole]) * (h - whole) if whole < 24 else 0.0)


def conditional_rest(
    quantiles: np.ndarray, levels: np.ndarray, profile: np.ndarray, so_far: float, hours_elapsed: float
) -> tuple[np.ndarray, float]:
    """Quantiles of the orders still to come today, and the day's updated level factor.

    ``quantiles`` (k,) of today's orders at ``levels`` (k,); ``profile`` (24,) today's
    hour shares; ``so_far`` orders counted in the first ``hours_elapsed`` hours.
    The day's level ``L`` (1 = as forecast) has a gamma prior with the variance the
    forecast's spread leaves after Poisson noise; ``so_far ~ Poisson(L * done * median)``
    gives the posterior mean ``(a + so_far) / (a + done * median)``. The rest of the day
    has mean ``rest * median * L`` and the forecast's quantile shape, narrowed to the
    posterior's variance.
    """
    q = np.sort(np.asarray(quantiles, dtype="float64"))
    levels = np.asarray(levels, dtype="float64")
    median = float(interpolate_quantile(q[None, :], levels, 0.5)[0])
    done = elapsed_share(profile, hours_elapsed)
    rest = max(1.0 - done, 0.0)
    if median <= 0:
        return np.zeros_like(q), 1.0
    lo, hi = (float(interpolate_quantile(q[None, :], levels, t)[0]) for t in (0.1, 0.9))
    var_day = max(((hi - lo) / (2 * _Z90)) ** 2, 1e-9)
    level_var = max(var_day - median, 1e-6 * median**2) / median**2
    a = 1.0 / level_var
    level = (a + max(so_far, 0.0)) / (a + done * median)
    mean_rest = rest * median * level
    var_rest = mean_rest**2 / (a + max(so_far, 0.0)) + mean_rest
    sd_day = np.sqrt(median**2 / a + median)
    out = mean_rest + (q - median) / sd_day * np.sqrt(var_rest)
    return np.maximum(out, 0.0), float(level)


def _status(start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp) -> str:
    if now < start:
        return NOT_STARTED
    return RUNNING if now < end else OVER


def _action(status: str, change: int) -> str:
    if status != NOT_STARTED:
        return f"kept ({status})"
    if change > 0:
        return f"call in {change}"
    return f"release {-change}" if change < 0 else "no change"


def replan_today(
    center: CenterConfig,
    now_local: pd.Timestamp,
    quantiles: np.ndarray,
    levels: np.ndarray,
    profile: np.ndarray,
    so_far: float | np.ndarray,
    current: Mapping[str, int],
    tomorrow: np.ndarray | None = None,
    backlog: float = 0.0,
    carried: Sequence[tuple[float, np.ndarray]] = (),
) -> pd.DataFrame:
    """Today's shifts of ``center`` re-planned at ``now_local`` (local wall clock, tz-naive).

    ``quantiles``/``levels``: today's daily forecast; ``profile``: (7, 24) hour
    profile; ``so_far``: orders since local midnight, a total or (24,) counts per local hour (these
    tell the orders counted in hours no shift covered today exactly; a total is split by the
    profile); ``current``: packers booked per shift today (the plan in force); ``tomorrow``:
    tomorrow's daily quantiles at ``levels`` (a night shift's morning hours, also when the center
    is closed tomorrow: the shift runs into its morning and customers order; today's forecast when None). Shifts not
    started get the newsvendor headcount of their conditional orders, bounded by the
    center's min/max; running and finished ones keep ``current`` (the new plan's figure
    when there is none). An overnight shift's orders are the service quantile of the
    *sum* of tonight's conditional orders and tomorrow morning's, correlated by the center's
    ``day_correlation`` (:func:`fcplan.planner.quantile_sum.quantile_of_days`), not the sum of
    their quantiles, which would plan for both being high at once. After a closed day no
    night shift ran into today (or hours no shift covers, :func:`fcplan.planner.crews.packed_span`):
    the shift not started whose hours began (the first shift after a closed day; after a gap)
    also packs the orders counted since they began and those still to come before it starts, and the
    closed days' orders that waited for it, as in the morning's plan: ``backlog`` counted
    (:func:`fcplan.planner.crews.waiting_orders`), else ``carried``, ``(share, quantiles at
    levels)`` per closed day (:func:`fcplan.planner.crews.carried_days`), planned on the quantile
    of their sum with the rest of its own. Returns
    :data:`INTRADAY_COLUMNS` in shift order; ``change = packers - packers_before``;
    ``packers_needed``: the re-plan's need before ``max_packers`` (a shift not started books it, capped).
    """
    day = pd.Timestamp(now_local).normalize()
    now = pd.Timestamp(now_local)
    hours = (now - day) / pd.Timedelta(hours=1)
    today = on_the_clock(profile[day.weekday()], center.hour_counts(day))
    nxt = day + pd.Timedelta(days=1)
    after = on_the_clock(profile[nxt.weekday()], center.hour_counts(nxt))
    tau, rho = center.service_quantile, center.day_correlation
    levels = np.asarray(levels, dtype="float64")
    rest_q, _ = conditional_rest(quantiles, levels, today, float(np.sum(so_far)), hours)
    morning = np.asarray(quantiles if tomorrow is None else tomorrow, dtype="float64")[None, :]
    rest_share = 1.0 - elapsed_share(today, hours)
    counts = np.asarray(so_far, dtype="float64")
    total = float(counts.sum())
    done_now = elapsed_share(today, hours)
    rows = []
    for shift in center.shifts:
        start = day + pd.Timedelta(hours=shift.start)
        status = _status(start, start + pd.Timedelta(hours=shift.length), now)
        since, until = packed_span(center, day, shift)  # its own hours and those no shift covers before it
        lo = max((since - day) / pd.Timedelta(hours=1), 0.0)
        hi = min((until - day) / pd.Timedelta(hours=1), 24.0)
        a = max(elapsed_share(today, hi) - elapsed_share(today, max(lo, hours)), 0.0)  # today's, still to come
        b = float(after[: max(int((until - nxt) / pd.Timedelta(hours=1)), 0)].sum())  # tomorrow morning's
        if status != NOT_STARTED:  # kept whatever the orders say: its own hours, as planned
            a = max(elapsed_share(today, hi) - elapsed_share(today, shift.start), 0.0)
        waiting = 0.0
        extra: Sequence[tuple[float, np.ndarray]] = ()
        if status == NOT_STARTED and (lo < hours or since < day):
            # nobody packed the orders counted since this shift's hours began (no shift covered them)
            if lo <= 0:
                waiting = max(total, 0.0)
            elif counts.ndim:  # counts per local hour
                waiting = float(np.clip(counts[int(lo):], 0.0, None).sum())
            elif done_now > 0:  # a total: the profile's part of it since the hours began
                waiting = max(total, 0.0) * max(done_now - elapsed_share(today, lo), 0.0) / done_now
            if since < day:  # and those of the days before that waited for it
                waiting += max(float(backlog), 0.0)
                extra = [(w, np.asarray(q, dtype="float64")) for w, q in carried if w > 0]
        tonight = a / rest_share if rest_share > 0 else 0.0
        # the earlier days' orders that waited for it, the rest of today's and tomorrow morning's (overnight)
        weights = np.array([[w for w, _ in extra] + [tonight, b]])
        days_q = np.stack([q for _, q in extra] + [rest_q, morning[0]])[None, :, :]
        orders = waiting + float(quantile_of_days(weights, days_q, levels, tau, rho=rho)[0])
        samples = waiting + days_samples(weights, days_q, levels, rho=rho)
        capacity = center.productive_hours(shift, day)
        needed = 0 if capacity <= 0 else int(cheapest_headcount(
            samples / center.productivity(shift),
            np.array([capacity]), np.array([orders / center.productivity(shift)]),
            *center.unit_costs, center.min_packers)[0])
        fresh = needed if center.max_packers is None else min(needed, center.max_packers)
        before = int(current.get(shift.name, fresh))
        packers = fresh if status == NOT_STARTED else before
        rows.append({
            SHIFT: shift.name,
            "starts_at": start,
            "status": status,
            "orders_planned": orders,
            "packers_before": before,
            "packers": packers,
            "change": packers - before,
            "action": _action(status, packers - before),
            "packers_needed": needed,
        })
    return pd.DataFrame(rows, columns=INTRADAY_COLUMNS)


def apply_intraday(
    plan: pd.DataFrame,
    forecast: pd.DataFrame,
    centers: Mapping[str, CenterConfig],
    profiles: Mapping[str, np.ndarray],
    now_local: Mapping[str, pd.Timestamp],
    so_far: Mapping[str, float | np.ndarray],
    booked: pd.DataFrame | None = None,
    *,
    model: str | None = None,
    waiting: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-plan today's shifts in a crew plan (:func:`fcplan.planner.crews.plan_crews`).

    ``now_local``: each center's local wall-clock now (tz-naive); ``so_far``: its
    orders since local midnight (a center absent from it has no counts today, e.g. the
    stream is behind: it is left alone rather than read as a day without orders);
    ``so_far`` values may be (24,) counts per local hour (:func:`replan_today`); ``booked``:
    ``unique_id, ds, shift, packers`` of the plan in force (the previous
    plan), or None. Centers whose today is not in the forecast are left alone. ``waiting``: per
    center, the orders counted on the closed days before today that no shift packed
    (:func:`fcplan.planner.crews.waiting_orders`); a center absent from it takes them from the
    forecast's rows of those days, as the plan did (none where the forecast lacks them).
    Returns the plan with today's rows updated and the changes: ``unique_id`` + :data:`INTRADAY_COLUMNS`.
    """
    levels = quantile_levels(forecast)
    fc = select_model(forecast, model)
    fc = fc.assign(**{UNIQUE_ID: fc[UNIQUE_ID].astype(str), DS: pd.to_datetime(fc[DS]).dt.normalize()})
    grid = np.array([level for level, _ in levels])
    cols = [col for _, col in levels]
    plan = plan.copy()
    changes = []
    for center_id, now in now_local.items():
        now = pd.Timestamp(now)
        today = now.normalize()
        row = fc[(fc[UNIQUE_ID] == center_id) & (fc[DS] == today)]
        mask = (plan[UNIQUE_ID] == center_id) & (plan[DS] == today)
        if row.empty or not mask.any() or center_id not in so_far:
            continue
        center = centers[center_id]
        if center.closed(pd.DatetimeIndex([today]))[0]:
            continue  # closed today: nothing to re-plan
        nxt = fc[(fc[UNIQUE_ID] == center_id) & (fc[DS] == today + pd.Timedelta(days=1))]
        tomorrow = nxt[cols].to_numpy("float64")[0] if not nxt.empty else None
        current: dict[str, int] = {}
        if booked is not None and not booked.empty:
            mine = booked[(booked[UNIQUE_ID].astype(str) == center_id) & (pd.to_datetime(booked[DS]) == today)]
            current = {str(r[SHIFT]): int(r["packers"]) for r in mine.to_dict("records")}
        profile = profiles.get(center_id, np.full((7, 24), 1 / 24))
        counted = (waiting or {}).get(center_id)
        carried = []
        if counted is None:
            mine = fc[fc[UNIQUE_ID] == center_id].set_index(DS)[cols]
            carried = [(w, mine.loc[d].to_numpy("float64")) for d, w in carried_days(center, today, profile)
                       if d in mine.index]
        table = replan_today(
            center, now, row[cols].to_numpy("float64")[0], grid, profile,
            so_far.get(center_id, 0.0), current, tomorrow, float(counted or 0.0), carried,
        )
        by_shift = table.set_index(SHIFT)
        names = plan.loc[mask, SHIFT]
        plan.loc[mask, "packers"] = names.map(by_shift["packers"]).to_numpy()
        fresh = names.map(by_shift["status"]).eq(NOT_STARTED).to_numpy()
        idx = plan.index[mask][fresh]
        if len(idx):  # every shift started: nothing left to re-plan (an empty str map would not divide)
            plan.loc[idx, "orders_planned"] = plan.loc[idx, SHIFT].map(by_shift["orders_planned"]).to_numpy()
            rate = {s.name: center.productivity(s) for s in center.shifts}
            plan.loc[idx, "packer_hours"] = plan.loc[idx, "orders_planned"] / plan.loc[idx, SHIFT].map(rate)
            if "packers_needed" in plan.columns:  # the need the re-planned packers were capped from, not the morning's
                plan.loc[idx, "packers_needed"] = plan.loc[idx, SHIFT].map(by_shift["packers_needed"]).to_numpy()
        changes.append(table.assign(**{UNIQUE_ID: center_id}))
    out = (pd.concat(changes, ignore_index=True) if changes
           else pd.DataFrame(columns=[*INTRADAY_COLUMNS, UNIQUE_ID]))
    return plan, out[[UNIQUE_ID, *INTRADAY_COLUMNS]]


#: Columns :func:`with_changes` adds to a crew plan (stored with it).
CHANGE_COLUMNS = ["shift_status", "packers_before", "packers_change", "action"]


def with_changes(
    plan: pd.DataFrame,
    booked: pd.DataFrame | None,
    centers: Mapping[str, CenterConfig],
    now_local: Mapping[str, pd.Timestamp],
) -> pd.DataFrame:
    """The crew plan with what changed from the plan in force, per row: :data:`CHANGE_COLUMNS`.

    ``plan``: ``unique_id, ds, shift, starts_at, packers`` (after :func:`apply_intraday`);
    ``booked``: ``unique_id, ds, shift, packers`` of the plan in force, or None;
    ``now_local``: each center's local now. ``shift_status`` is the shift's at the
    center's now; ``action`` says "call in N", "release N" or "no change" against the
    plan in force for a shift not started ("kept (running)"/"kept (over)" otherwise, as
    :func:`replan_today`), "new" where the plan in force had no such row.
    """
    keys = [UNIQUE_ID, DS, SHIFT]
    out = plan.copy()
    if booked is not None and not booked.empty:
        before = pd.DataFrame({
            UNIQUE_ID: booked[UNIQUE_ID].astype(str), DS: pd.to_datetime(booked[DS]).dt.normalize(),
            SHIFT: booked[SHIFT].astype(str), "packers_before": booked["packers"],
        }).drop_duplicates(keys)
        out = out.merge(before, on=keys, how="left")
    else:
        out["packers_before"] = np.nan
    hours = {(c, s.name): s.length for c, conf in centers.items() for s in conf.shifts}
    out["shift_status"] = [
        NOT_STARTED if c not in now_local else _status(start, start + pd.Timedelta(hours=hours[(c, name)]),
                                                      pd.Timestamp(now_local[c]))
        for c, name, start in zip(out[UNIQUE_ID], out[SHIFT], pd.to_datetime(out["starts_at"]), strict=True)
    ]
    out["packers_change"] = out["packers"] - out["packers_before"]
    out["action"] = [
        "new" if pd.isna(prev) else _action(status, int(change))
        for status, prev, change in zip(out["shift_status"], out["packers_before"], out["packers_change"].fillna(0),
                                        strict=True)
    ]
    return out.astype({"packers_before": "Int64", "packers_change": "Int64"})


def intraday_summary(changes: pd.DataFrame) -> str:
    """``"; today: FC-1 swing call in 3, FC-2 night release 1"`` (empty when nothing changed)."""
    moved = changes[changes["change"] != 0] if not changes.empty else changes
    if moved.empty:
        return "" if changes.empty else "; today: no change to the shifts not yet started"
    parts = [f"{r[UNIQUE_ID]} {r[SHIFT]} {r['action']}" for r in moved.to_dict("records")]
    return "; today: " + ", ".join(parts)
