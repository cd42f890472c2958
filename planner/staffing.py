"""Packers per day and shift from a quantile forecast: the newsvendor rule.

Pure: forecast frame + shift shares + center parameters in, plan frame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, MODEL, UNIQUE_ID, PanelError, require_columns, select_model
from fcplan.core.quantiles import quantile_levels
from fcplan.core.settings import CenterParams
from fcplan.planner.shifts import SHARE, SHIFT, Shift, paid_on_the_day, shift_length

PLAN_COLUMNS = [UNIQUE_ID, DS, SHIFT, "orders_median", "orders_planned", "packer_hours", "packers"]
#: Headcounts within this of an integer are that integer (0.1 + 0.2 style float noise).
_EPS = 1e-9
#: More packers than this on one shift is no plan but a sign of a wrong scale (a forecast of
#: 1e30 orders, a productivity of 1e-300): an error, not an int64 that wraps to a negative number.
HEADCOUNT_LIMIT = 1e9
_SHARE_TOLERANCE = 1e-6


def interpolate_quantile(values: np.ndarray, levels: np.ndarray, tau: np.ndarray | float) -> np.ndarray:
    """The level-``tau`` quantile of each row of ``values`` (n, k) given at ``levels`` (k,).

    Linear between the two nearest levels; clamped to the first/last column
    outside ``[levels[0], levels[-1]]``. ``tau`` is a scalar or one level per row.
    Rows are sorted first so crossing quantiles cannot make the result non-monotone.
    """
    values = np.sort(np.asarray(values, dtype="float64"), axis=1)
    n, k = values.shape
    taus = np.broadcast_to(np.asarray(tau, dtype="float64"), (n,))
    if k == 1:
        return values[:, 0].copy()
    t = np.clip(taus, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, t, side="left"), 1, k - 1)
    lo = hi - 1
    weight = (t - levels[lo]) / (levels[hi] - levels[lo])
    rows = np.arange(n)
    return values[rows, lo] + weight * (values[rows, hi] - values[rows, lo])


def _params_by_center(
    params: CenterParams | Mapping[str, CenterParams], centers: list[str]
) -> dict[str, CenterParams]:
    if isinstance(params, CenterParams):
        return dict.fromkeys(centers, params)
    lacking = [c for c in centers if c not in params]
    if lacking:
        raise ValueError(
            f"params lack center(s) {lacking[:5]} of the forecast; give every center a CenterParams "
            f"(it has {sorted(params)[:5]}), or pass one CenterParams for all"
        )
    return {c: params[c] for c in centers}


def _check_shares(shares: pd.DataFrame, centers: list[str]) -> pd.DataFrame:
    require_columns(
        shares, (UNIQUE_ID, SHIFT, SHARE), "shares", "Compute them with planner.shift_shares(hourly, shifts)"
    )
    shares = shares[[UNIQUE_ID, SHIFT, SHARE]].copy()
    shares[UNIQUE_ID] = shares[UNIQUE_ID].astype(str)
    known = set(shares[UNIQUE_ID])
    unknown = [c for c in centers if c not in known]
    if unknown:
        raise PanelError(
            f"shares have no shifts for center(s) {unknown[:5]} of the forecast; compute shares for "
            "every forecast center, e.g. shift_shares(hourly, shifts, centers=forecast.unique_id.unique())"
        )
    shares = shares[shares[UNIQUE_ID].isin(centers)]
    dup = shares.duplicated([UNIQUE_ID, SHIFT])
    if dup.any():
        examples = shares.loc[dup].head(3).to_dict("records")
        raise PanelError(f"shares repeat (unique_id, shift) rows, e.g. {examples}; keep one share per shift")
    share = pd.to_numeric(shares[SHARE], errors="coerce")
    if share.isna().any() or (share < 0).any():
        raise PanelError("shares.share must be numbers >= 0; recompute them with planner.shift_shares")
    shares[SHARE] = share.astype("float64")
    totals = shares.groupby(UNIQUE_ID)[SHARE].sum()
    off = totals[(totals - 1.0).abs() > _SHARE_TOLERANCE]
    if not off.empty:
        raise PanelError(
            f"shares must sum to 1 per center; {off.round(4).to_dict()} do not. "
            "Recompute them with planner.shift_shares"
        )
    return shares


def model_levels(forecast: pd.DataFrame, model: str | None) -> tuple[pd.DataFrame, list[tuple[float, str]]]:
    """The rows of ``model`` in a forecast frame (``unique_id, ds[, model]`` + one
    column per quantile level) and its levels as ``(level, column)``; a frame that
    is not a forecast gets an error that says what it lacks."""
    require_columns(forecast, (UNIQUE_ID, DS), "forecast")
    levels = quantile_levels(forecast)
    if not levels:
        raise PanelError(
            f"forecast has no quantile columns; it has {list(forecast.columns)}. Expected columns named "
            'by level, e.g. "0.1", "0.5", "0.9" (as `fcplan forecast` and predict_quantiles write them)'
        )
    several = MODEL in forecast.columns
    forecast = select_model(forecast, model)
    if not several:  # one model: an empty column is a hole in its forecast, not another model's level
        return forecast, levels
    # Columns another model filled and this one left empty are not this model's levels.
    return forecast, [(level, col) for level, col in levels if forecast[col].notna().any()] or levels


def plan_staffing(
    forecast: pd.DataFrame,
    shares: pd.DataFrame,
    params: CenterParams | Mapping[str, CenterParams],
    *,
    model: str | None = None,
    shifts: Sequence[Shift] | None = None,
    zones: str | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Packers per center, day and shift: the newsvendor plan.

    ``forecast``: a forecast frame ``unique_id, ds, [model], "<q>"...`` of daily
    orders, one column per quantile level (e.g. ``"0.05"`` ... ``"0.95"``); with
    several models, ``model`` names the one to plan on. ``shares``:
    ``unique_id, shift, share`` (:func:`planner.shift_shares`), covering every
    forecast center. With several models and no ``model``,
    ``"ensemble"`` is used if present. ``params``: one :class:`CenterParams` or
    one per center.

    For each center the plan covers the demand quantile at the critical ratio
    ``tau = cost_short / (cost_short + cost_idle)``, interpolated linearly between
    the two nearest quantile columns. Outside the forecast's outermost levels it
    is **clamped**: with levels 0.05..0.95 a ratio of 0.99 plans on the 0.95
    column (the plan is then less safe than asked; add outer levels to the
    forecast to do better). Per shift::

        orders_planned = daily_quantile(tau) * share
        packer_hours   = orders_planned * minutes_per_order / 60
        packers        = max(min_packers, ceil(packer_hours / (shift_hours * (1 - shrinkage))))

    ``orders_median`` is the 0.5 quantile times the share, for reference.

    With ``shifts`` (the shifts of ``shares``) and ``zones`` (one time zone, or one per
    center), ``shift_hours`` is what a shift lasting that long on the day pays: on a
    daylight-saving change it lasts an hour less or more, and a shorter shift pays (and
    packs) only its real length, as in the crew planner
    (:meth:`fcplan.planner.centers.CenterConfig.productive_hours`).

    ``ceil`` is the simple rule, not the integer optimum: the expected cost
    ``E[cost_short * (R - n)^+ + cost_idle * (n - R)^+]`` of ``n`` packers (``R`` the
    packers the demand needs) is convex with its continuous minimum at ``r* = R_tau``,
    so the cheapest whole ``n`` is the floor or the ceiling of ``r*``, not always the
    ceiling (``R ~ N(1.5, 0.9)``, 3:1: ``r* = 2.11``, 2 packers cost 1.15, 3 cost 1.57).
    The crew planner the runner uses (:func:`fcplan.planner.crews.plan_crews`) picks
    between them by expected cost (:func:`cheapest_headcount`). (Values within 1e-9 of
    an integer count as that integer, so float noise does not book an extra packer.)

    Returns ``unique_id, ds, shift, orders_median, orders_planned, packer_hours,
    packers`` (packers int64), sorted by center, day and the order of the shifts.
    """
    if not isinstance(forecast, pd.DataFrame) or not isinstance(shares, pd.DataFrame):
        raise TypeError("forecast and shares must be pandas DataFrames")
    forecast, levels = model_levels(forecast, model)
    if forecast.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in PLAN_COLUMNS}).astype(
            {UNIQUE_ID: str, DS: "datetime64[ns]", SHIFT: str, "packers": "int64"}
        )
    frame = forecast[[UNIQUE_ID, DS]].copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[DS] = pd.to_datetime(frame[DS])
    dup = frame.duplicated([UNIQUE_ID, DS])
    if dup.any():
        raise PanelError(
            f"forecast has {int(dup.sum())} duplicate (unique_id, ds) rows, e.g. "
            f"{frame.loc[dup].head(3).to_dict('records')}; keep one model's rows (pass model=...)"
        )
    values = forecast[[col for _, col in levels]].to_numpy(dtype="float64")
    if np.isnan(values).any():
        raise PanelError("forecast quantile columns hold missing values; drop or refit those rows")
    centers = sorted(frame[UNIQUE_ID].unique())
    by_center = _params_by_center(params, centers)
    shares = _check_shares(shares, centers)

    grid = np.array([level for level, _ in levels])
    taus = frame[UNIQUE_ID].map({c: p.service_quantile for c, p in by_center.items()}).to_numpy()
    frame["_planned"] = np.maximum(interpolate_quantile(values, grid, taus), 0.0)
    frame["_median"] = np.maximum(interpolate_quantile(values, grid, 0.5), 0.0)

    shares = shares.assign(_order=shares.groupby(UNIQUE_ID).cumcount())
    plan = frame.merge(shares, on=UNIQUE_ID, how="inner")
    plan["orders_median"] = plan["_median"] * plan[SHARE]
    plan["orders_planned"] = plan["_planned"] * plan[SHARE]
    minutes = plan[UNIQUE_ID].map({c: p.minutes_per_order for c, p in by_center.items()})
    capacity = plan[UNIQUE_ID].map({c: p.productive_hours for c, p in by_center.items()})
    if shifts is not None or zones is not None:
        capacity = _capacity_on_the_day(plan, by_center, shifts, zones)
    floor = plan[UNIQUE_ID].map({c: p.min_packers for c, p in by_center.items()})
    plan["packer_hours"] = plan["orders_planned"] * minutes / 60.0
    none = capacity.to_numpy() <= 0  # a shift wholly in the hour a spring-forward change skips: nobody works
    plan["packers"] = headcount(plan["packer_hours"].to_numpy(), np.where(none, 1.0, capacity), floor.to_numpy())
    plan.loc[none, "packers"] = 0
    plan = plan.sort_values([UNIQUE_ID, DS, "_order"], kind="stable").reset_index(drop=True)
    return plan[PLAN_COLUMNS]


def _capacity_on_the_day(
    plan: pd.DataFrame,
    params: Mapping[str, CenterParams],
    shifts: Sequence[Shift] | None,
    zones: str | Mapping[str, str] | None,
) -> pd.Series:
    """Productive hours of one packer on each plan row's shift and day, daylight-saving changes included."""
    if shifts is None or zones is None:
        raise ValueError("pass both shifts= (the shifts of the shares) and zones= (a time zone, or one per center) "
                         "to plan on each shift's real length, or neither")
    by_name = {s.name: s for s in shifts}
    unknown = sorted(set(plan[SHIFT]) - set(by_name))
    if unknown:
        raise PanelError(f"shares name shift(s) {unknown} that shifts= lacks ({sorted(by_name)}); pass the shifts "
                         "the shares were computed with")
    zone_of = (lambda _c: zones) if isinstance(zones, str) else zones.__getitem__
    lacking = sorted(c for c in params if isinstance(zones, Mapping) and c not in zones)
    if lacking:
        raise ValueError(f"zones lack center(s) {lacking[:5]}; give every forecast center a time zone")
    out = []
    for center, shift, day in zip(plan[UNIQUE_ID], plan[SHIFT], plan[DS], strict=True):
        s, p = by_name[shift], params[center]
        real = shift_length(zone_of(center), s.start_hour, s.end_hour, day)
        out.append(paid_on_the_day(p.shift_hours, real) * (1.0 - p.shrinkage))
    return pd.Series(out, index=plan.index, dtype="float64")


def headcount(packer_hours: np.ndarray, productive_hours: np.ndarray, min_packers: np.ndarray) -> np.ndarray:
    """Packers per shift: enough whole packers for ``packer_hours`` when each delivers
    ``productive_hours``, at least ``min_packers`` (arrays of one shape, or scalars)."""
    needed = np.ceil(np.asarray(packer_hours, dtype="float64") / np.asarray(productive_hours, dtype="float64") - _EPS)
    return _whole_packers(np.maximum(np.asarray(min_packers), needed))


def _whole_packers(count: np.ndarray) -> np.ndarray:
    """``count`` as int64; :class:`PanelError` when it is not finite or beyond :data:`HEADCOUNT_LIMIT`
    (a cast would wrap it to a negative number of packers)."""
    count = np.asarray(count, dtype="float64")
    bad = ~np.isfinite(count) | (count > HEADCOUNT_LIMIT)
    if bad.any():
        raise PanelError(
            f"the plan needs {count[bad].flat[0]:g} packers on one shift, more than {HEADCOUNT_LIMIT:g}: check the "
            "forecast's scale (orders per day) and the center's orders_per_packer_hour, paid_hours and break_minutes"
        )
    return count.astype("int64")


def cheapest_headcount(
    hours: np.ndarray,
    productive_hours: np.ndarray,
    planned_hours: np.ndarray,
    cost_short: float,
    cost_idle: float,
    min_packers: int = 0,
) -> np.ndarray:
    """Whole packers per row at the least expected cost: ``(m,)`` int64.

    ``hours`` (m, S): equally likely packer-hours the row needs (e.g.
    :func:`fcplan.planner.quantile_sum.sum_samples` over productivity);
    ``productive_hours`` (m,): what one packer delivers; ``planned_hours`` (m,): the
    newsvendor quantile of ``hours``. The expected cost
    ``E[cost_short * (H - n c)^+ + cost_idle * (n c - H)^+]`` is convex in ``n`` with its
    continuous minimum at ``planned_hours / c``; over whole packers the cheapest is
    therefore the floor or the ceiling of it, whichever costs less (the ceiling on a
    tie). Rounding up always can book most of a packer for nothing: with 2.1 packers'
    worth at the 0.75 quantile, the third packer is idle more often than not.
    At least ``min_packers``.
    """
    hours = np.atleast_2d(np.asarray(hours, dtype="float64"))
    cap = np.asarray(productive_hours, dtype="float64")
    r = np.asarray(planned_hours, dtype="float64") / cap
    lo, hi = np.floor(r + _EPS), np.ceil(r - _EPS)

    def cost(n: np.ndarray) -> np.ndarray:
        gap = hours - (n * cap)[:, None]
        return np.mean(cost_short * np.maximum(gap, 0.0) + cost_idle * np.maximum(-gap, 0.0), axis=1)

    with np.errstate(invalid="ignore", over="ignore"):  # an absurd scale is reported below
        best = np.where(cost(lo) < cost(hi), lo, hi)
    return _whole_packers(np.maximum(min_packers, best))
