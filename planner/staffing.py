"""Packers per day and shift from a quantile forecast: the newsvendor rule.

Pure: forecast frame + shift shares + center parameters in, plan frame out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd
from fcplan.planner.shifts import SHARE, SHIFT

from fcplan.core.panel import DS, MODEL, UNIQUE_ID, PanelError
from fcplan.core.settings import PlannerSettings

PLAN_COLUMNS = [UNIQUE_ID, DS, SHIFT, "orders_median", "orders_planned", "packer_hours", "packers"]
#: Headcounts within this of an integer are that integer (0.1 + 0.2 style float noise).
_EPS = 1e-9
_SHARE_TOLERANCE = 1e-6
#: The model planned on when a forecast holds several and none is named.
ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class CenterParams:
    """Productivity and cost parameters of one center.

    ``minutes_per_order``: packing minutes per order; ``shift_hours``: paid hours of
    one packer's shift; ``shrinkage``: share of paid hours not spent packing
    (breaks, training); ``cost_short`` / ``cost_idle``: cost of one order-unit of
    missing / idle capacity; ``min_packers``: floor per shift.
    """

    minutes_per_order: float = 2.0
    shift_hours: float = 8.0
    shrinkage: float = 0.15
    cost_short: float = 3.0
    cost_idle: float = 1.0
    min_packers: int = 1

    def __post_init__(self) -> None:
        checks = {
            "minutes_per_order": self.minutes_per_order > 0,
            "shift_hours": 0 < self.shift_hours <= 24,
            "shrinkage": 0 <= self.shrinkage < 1,
            "cost_short": self.cost_short > 0,
            "cost_idle": self.cost_idle > 0,
            "min_packers": self.min_packers >= 0 and float(self.min_packers).is_integer(),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"CenterParams {bad} out of range: minutes_per_order > 0, 0 < shift_hours <= 24, "
                f"0 <= shrinkage < 1, costs > 0, min_packers a whole number >= 0; got {self}"
            )

    @classmethod
    def per_center(cls, settings: PlannerSettings, centers: Iterable[str]) -> dict[str, CenterParams]:
        """Parameters of each center: the settings, with that center's overrides
        (``FCPLAN_PLANNER_CENTER_OVERRIDES``) applied."""
        base = cls.from_settings(settings)
        allowed = {f.name for f in fields(cls)}
        out = {}
        for center in centers:
            override = settings.center_overrides.get(center, {})
            unknown = sorted(set(override) - allowed)
            if unknown:
                raise ValueError(
                    f"FCPLAN_PLANNER_CENTER_OVERRIDES for {center!r} names unknown field(s) {unknown}; "
                    f"use {sorted(allowed)}"
                )
            if "min_packers" in override:
                override = {**override, "min_packers": int(override["min_packers"])}
            out[center] = replace(base, **override)
        return out

    @classmethod
    def from_settings(cls, settings: PlannerSettings) -> CenterParams:
        return cls(
            minutes_per_order=settings.minutes_per_order,
            shift_hours=settings.shift_hours,
            shrinkage=settings.shrinkage,
            cost_short=settings.cost_short,
            cost_idle=settings.cost_idle,
            min_packers=settings.min_packers,
        )

    @property
    def service_quantile(self) -> float:
        """The newsvendor critical ratio ``cost_short / (cost_short + cost_idle)``."""
        return self.cost_short / (self.cost_short + self.cost_idle)

    @property
    def productive_hours(self) -> float:
        """Packing hours one packer delivers per shift: ``shift_hours * (1 - shrinkage)``."""
        return self.shift_hours * (1.0 - self.shrinkage)

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "service_quantile": self.service_quantile}


def quantile_levels(forecast: pd.DataFrame) -> list[tuple[float, str]]:
    """The ``(level, column)`` pairs of a forecast frame's quantile columns, sorted by level."""
    levels = []
    for col in forecast.columns:
        if col in (UNIQUE_ID, DS, MODEL):
            continue
        try:
            level = float(col)
        except (TypeError, ValueError):
            continue
        if 0 < level < 1:
            levels.append((level, col))
    return sorted(levels)


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


def _select_model(forecast: pd.DataFrame, model: str | None) -> pd.DataFrame:
    if MODEL not in forecast.columns:
        return forecast
    models = sorted(forecast[MODEL].astype(str).unique())
    if model is None and len(models) > 1 and ENSEMBLE in models:
        model = ENSEMBLE
    if model is None:
        if len(models) > 1:
            raise PanelError(
                f"forecast holds {len(models)} models {models}; pass model=... to plan on one "
                "(e.g. model='ensemble')"
            )
        return forecast
    if model not in models:
        raise PanelError(f"forecast has no model {model!r}; it has {models}")
    return forecast[forecast[MODEL].astype(str) == model]


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
    missing_cols = [c for c in (UNIQUE_ID, SHIFT, SHARE) if c not in shares.columns]
    if missing_cols:
        raise PanelError(
            f"shares lack column(s) {missing_cols}; it has {list(shares.columns)}. "
            "Compute them with planner.shift_shares(hourly, shifts)"
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


def plan_staffing(
    forecast: pd.DataFrame,
    shares: pd.DataFrame,
    params: CenterParams | Mapping[str, CenterParams],
    *,
    model: str | None = None,
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

    Why ``ceil`` is the integer optimum: packers needed ``R`` is demand times a
    positive constant, so its ``tau``-quantile is the demand quantile times that
    constant (quantiles commute with increasing maps), and the continuous
    newsvendor optimum is ``r* = R_tau``. The expected cost
    ``E[cost_short * (R - n)^+ + cost_idle * (n - R)^+]`` is convex in ``n`` with
    slope ``(cost_short + cost_idle) * F(n) - cost_short``, negative below ``r*``
    and non-negative from it on; so over whole packers the cheapest ``n`` is the
    smallest integer with ``F(n) >= tau``: ``ceil(r*)``. Rounding down would sit on
    the falling side of the cost curve. (Values within 1e-9 of an integer count
    as that integer, so float noise does not book an extra packer.)

    Returns ``unique_id, ds, shift, orders_median, orders_planned, packer_hours,
    packers`` (packers int64), sorted by center, day and the order of the shifts.
    """
    if not isinstance(forecast, pd.DataFrame) or not isinstance(shares, pd.DataFrame):
        raise TypeError("forecast and shares must be pandas DataFrames")
    missing = [c for c in (UNIQUE_ID, DS) if c not in forecast.columns]
    if missing:
        raise PanelError(f"forecast lacks column(s) {missing}; it has {list(forecast.columns)}")
    levels = quantile_levels(forecast)
    if not levels:
        raise PanelError(
            f"forecast has no quantile columns; it has {list(forecast.columns)}. Expected columns named "
            'by level, e.g. "0.1", "0.5", "0.9" (forecaster.predict_quantiles or queries.forecast_frame)'
        )
    forecast = _select_model(forecast, model)
    # Columns another model filled and this one left empty are not this model's levels.
    levels = [(level, col) for level, col in levels if forecast[col].notna().any()] or levels
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
    floor = plan[UNIQUE_ID].map({c: p.min_packers for c, p in by_center.items()})
    plan["packer_hours"] = plan["orders_planned"] * minutes / 60.0
    needed = np.ceil(plan["packer_hours"].to_numpy() / capacity.to_numpy() - _EPS)
    plan["packers"] = np.maximum(floor.to_numpy(), needed).astype("int64")
    plan = plan.sort_values([UNIQUE_ID, DS, "_order"], kind="stable").reset_index(drop=True)
    return plan[PLAN_COLUMNS]


def headcount(packer_hours: float, params: CenterParams) -> int:
    """Packers for one shift's ``packer_hours`` (the scalar form of the rule in :func:`plan_staffing`)."""
    return max(params.min_packers, math.ceil(packer_hours / params.productive_hours - _EPS))
