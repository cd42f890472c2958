"""Crews that match shifts: packers per center, day and shift from daily quantiles.

A shift belongs to the local day it **starts**: the night shift ``22-6`` of day D
packs the orders of D 22:00-24:00 and of D+1 00:00-06:00, so its orders come
from D's forecast for the evening hours and from D+1's for the morning ones.
How a day's orders spread over its hours is learned per center and weekday from
the hourly aggregates (:func:`hour_profiles`: a weekday x hour profile, pooled
towards the center's all-week profile while a weekday has few days of history,
and towards a flat profile while the center has none).

Pure: frames and :class:`~fcplan.planner.centers.CenterConfig` in, plan frame out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, PanelError, Y
from fcplan.planner.centers import CenterConfig, ShiftConfig
from fcplan.planner.quantile_sum import days_samples, quantile_of_days
from fcplan.planner.shifts import recent_hours
from fcplan.planner.staffing import PLAN_COLUMNS, cheapest_headcount, interpolate_quantile, model_levels

SHIFT = "shift"
#: Extra columns of the crew plan (not stored): when the shift starts (local wall clock),
#: packers before the cap, and whether the evening/morning split used the next day's forecast.
CREW_COLUMNS = [*PLAN_COLUMNS, "starts_at", "packers_needed", "next_day_forecast"]
#: Days of history a weekday profile is pooled with (its weight is n / (n + PRIOR_DAYS)).
PRIOR_DAYS = 1.0
#: Days of hourly orders before the plan's first day that the profiles are learned from.
PROFILE_DAYS = 56
#: More orders per packer-hour than this (one a second) is taken for a wrong unit and noted.
FASTEST_PACKER = 3600.0


def hour_profiles(
    hourly: pd.DataFrame,
    centers: list[str] | tuple[str, ...] = (),
    *,
    days: int = PROFILE_DAYS,
    before: pd.Timestamp | None = None,
    prior_days: float = PRIOR_DAYS,
) -> dict[str, np.ndarray]:
    """Each center's share of a day's orders per local hour, per weekday: ``{center: (7, 24)}``.

    ``hourly``: ``unique_id, ds (local wall-clock hour of that center, tz-naive), y``.
    Only the last ``days`` days before ``before`` (exclusive; pass today to leave out
    the day still filling) count. Row ``w`` (Monday = 0) is the weekday's hour counts
    plus ``prior_days`` average days of the center's all-week profile, normalised; the
    all-week profile is pooled the same way towards a flat one. Rows sum to 1. A center
    listed in ``centers`` without history gets the flat profile (1/24 each hour).
    """
    frame = recent_hours(hourly, days, before, drop_zone=True)
    flat = np.full((7, 24), 1.0 / 24)
    out = {str(c): flat.copy() for c in centers}
    for center, grp in frame.groupby(UNIQUE_ID, sort=True):
        when = grp[DS]
        counts = np.zeros((7, 24))
        np.add.at(counts, (when.dt.weekday.to_numpy(), when.dt.hour.to_numpy()), grp[Y].to_numpy("float64"))
        n_days = np.bincount(when.dt.normalize().drop_duplicates().dt.weekday.to_numpy(), minlength=7)
        total = counts.sum()
        if total <= 0:
            out[str(center)] = flat.copy()
            continue
        per_day = total / max(n_days.sum(), 1)
        week = counts.sum(axis=0)
        week = (week + prior_days * per_day / 24) / (total + prior_days * per_day)
        prof = counts + prior_days * per_day * week[None, :]
        out[str(center)] = prof / prof.sum(axis=1, keepdims=True)
    return out


def on_the_clock(profile: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A weekday's hour profile (24,) for a day whose local hours occur ``counts`` times
    (:meth:`CenterConfig.hour_counts`): no orders in the hour a spring-forward change skips,
    twice the hour's orders in the one a fall-back change repeats; sums to 1."""
    if (counts == 1).all():
        return profile
    weighted = profile * counts
    total = weighted.sum()
    return weighted / total if total > 0 else counts / counts.sum()


def _by_start(center: CenterConfig) -> list[ShiftConfig]:
    return sorted(center.shifts, key=lambda s: s.start)


def _end(day: pd.Timestamp, shift: ShiftConfig) -> pd.Timestamp:
    """When ``shift`` started on the local ``day`` ends (local wall clock, the next day's past midnight)."""
    return day + pd.Timedelta(hours=shift.start + shift.length)


def packed_span(
    center: CenterConfig, day: pd.Timestamp, shift: ShiftConfig | str, *, limit: int = 31
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[since, until)`` local wall clock: the orders that ``shift`` started on the open local ``day``
    packs. Each order is packed by the shift on the floor when it comes, else by the next shift that
    starts on an open day: ``until`` is the shift's end, ``since`` the end of the shift before it on an
    open day (the same day's, else the last of the nearest open day before, at most ``limit`` days
    back). So a shift packs the hours no shift covers before it (a day-only center's ``8-16`` packs
    16:00-24:00 of the day before and 0:00-8:00 of its own), and the first shift after closed days
    packs them whole (but the hours the night shift before them ran into)."""
    day = pd.Timestamp(day).normalize()
    order = _by_start(center)
    name = shift if isinstance(shift, str) else shift.name
    k = next(i for i, s in enumerate(order) if s.name == name)
    until = _end(day, order[k])
    if k > 0:
        return _end(day, order[k - 1]), until
    back = pd.DatetimeIndex([day - pd.Timedelta(days=j) for j in range(1, limit + 1)])
    shut = center.closed(back)
    if shut.all():
        return back[-1], until
    return _end(back[int(np.argmin(shut))], order[-1]), until


def packed_days(
    center: CenterConfig, day: pd.Timestamp, shift: ShiftConfig | str, profile: np.ndarray | None = None,
    *, limit: int = 31,
) -> list[tuple[pd.Timestamp, float]]:
    """``[(local day, share), ...]`` oldest first: the shares of each day's orders that ``shift``
    started on the open ``day`` packs (:func:`packed_span`), from ``profile`` ((7, 24) as
    :func:`hour_profiles`; flat when None) on the day's clock; days of share 0 are left out."""
    since, until = packed_span(center, day, shift, limit=limit)
    out = []
    for d in pd.date_range(since.normalize(), (until - pd.Timedelta(hours=1)).normalize()):
        lo = max(int((since - d) / pd.Timedelta(hours=1)), 0)
        hi = min(int((until - d) / pd.Timedelta(hours=1)), 24)
        shares = np.full(24, 1.0 / 24) if profile is None else profile[d.weekday()]
        share = float(on_the_clock(shares, center.hour_counts(d))[lo:hi].sum())
        if share > 0:
            out.append((d, share))
    return out


def morning_heir(center: CenterConfig) -> tuple[str, int] | None:
    """``(name, hours)``: the first shift of a day (the first to start: the one after the overnight
    shift), and the local hours ``0..hours`` of a day that the previous day's overnight shift packs;
    None when no shift runs past midnight."""
    for shift in center.shifts:
        if 0 < shift.end <= shift.start:
            return _by_start(center)[0].name, shift.end
    return None


def first_shift(center: CenterConfig) -> tuple[str, int]:
    """``(name, hours)``: the shift that opens an open day (the first to start), and the local hours
    ``0..hours`` of that day an overnight shift of the day before packs when that day is open
    (:func:`morning_heir`; 0 without one). The first shift packs what lies between (:func:`packed_span`)."""
    heir = morning_heir(center)
    if heir is not None:
        return heir
    return _by_start(center)[0].name, 0


def carried_days(
    center: CenterConfig, day: pd.Timestamp, profile: np.ndarray | None = None, *, limit: int = 31
) -> list[tuple[pd.Timestamp, float]]:
    """``[(earlier day, share), ...]`` oldest first: the orders of days before the open local ``day``
    that wait for its first shift (:func:`first_shift`), as shares of each day's orders
    (:func:`packed_days`): the closed days just before it (customers order on a closed day too; no
    shift starts on it), but the hours the night shift before them ran into, and the hours after the
    last shift of the open day before that no shift covers (a day-only center's evening). Empty when
    ``day`` is closed, or the shifts of the day before packed all its hours. ``limit``: the longest
    run of closed days looked at. ``profile`` as :func:`packed_days`."""
    day = pd.Timestamp(day).normalize()
    if center.closed(pd.DatetimeIndex([day]))[0]:
        return []
    return [(d, w) for d, w in packed_days(center, day, first_shift(center)[0], profile, limit=limit) if d < day]


def waiting_orders(
    center: CenterConfig, hourly: pd.DataFrame, day: pd.Timestamp, until: pd.Timestamp | None = None,
    *, limit: int = 31,
) -> float:
    """Orders counted in ``hourly`` (``ds`` local hour, ``y``: one center's) before the open local
    ``day`` that no shift packed and that its first shift packs (:func:`packed_span`: the closed
    days just before it, the hours after the night shift before them, the hours no shift covers after
    the last shift of the day before), before ``until`` (the forecast's first day: the later ones are
    in the forecast; default ``day``); 0 when the shifts before ``day`` packed every hour before it."""
    day = pd.Timestamp(day).normalize()
    if hourly.empty or center.closed(pd.DatetimeIndex([day]))[0]:
        return 0.0
    start = packed_span(center, day, first_shift(center)[0], limit=limit)[0]
    when = pd.to_datetime(hourly[DS])
    end = day if until is None else min(pd.Timestamp(until).normalize(), day)
    return float(hourly.loc[(when >= start) & (when < end), Y].sum())


def waiting_before(
    centers: Mapping[str, CenterConfig],
    forecast: pd.DataFrame,
    hourly: pd.DataFrame,
    today: Mapping[str, pd.Timestamp] | None = None,
) -> dict[str, float]:
    """Per center of ``forecast`` (``unique_id, ds``): the orders counted in ``hourly`` (``unique_id, ds``
    local hour, ``y``) on the closed days just before the forecast's first day that no shift packed
    (:func:`waiting_orders` for its first open day, until its first day): :func:`plan_crews`' ``waiting``.
    With ``today`` (each center's local day), a center whose forecast starts after today is left out:
    the closed days between are not all counted yet."""
    first = pd.to_datetime(forecast[DS]).dt.normalize().groupby(forecast[UNIQUE_ID].astype(str)).min()
    by_center = {str(c): grp for c, grp in hourly.groupby(UNIQUE_ID)}
    out = {}
    for c, start in first.items():
        if c not in centers or c not in by_center or (today is not None and start > today[c].normalize()):
            continue
        days = pd.date_range(start, periods=32)
        shut = centers[c].closed(days)
        if not shut.all():
            out[c] = waiting_orders(centers[c], by_center[c], days[int(np.argmin(shut))], until=start)
    return out


def daily_quantiles(
    forecast: pd.DataFrame, taus: Mapping[str, float], model: str | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``(frame, values, levels)``: ``frame`` is ``unique_id, ds, planned, median`` (each
    row's daily quantile at its center's ``tau``), ``values`` (n, k) the rows' quantiles
    at ``levels`` (k,), in the frame's order."""
    if not isinstance(forecast, pd.DataFrame):
        raise TypeError("forecast must be a pandas DataFrame")
    forecast, levels = model_levels(forecast, model)
    frame = forecast[[UNIQUE_ID, DS]].copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[DS] = pd.to_datetime(frame[DS]).dt.normalize()
    dup = frame.duplicated([UNIQUE_ID, DS])
    if dup.any():
        raise PanelError(
            f"forecast has {int(dup.sum())} duplicate (unique_id, ds) rows, e.g. "
            f"{frame.loc[dup].head(3).to_dict('records')}; keep one row per center and day (one model)"
        )
    values = forecast[[col for _, col in levels]].apply(pd.to_numeric, errors="coerce").to_numpy("float64")
    if not np.isfinite(values).all():
        raise PanelError(
            "forecast quantile columns hold missing, infinite or non-numeric values; drop or refit those rows"
        )
    grid = np.array([level for level, _ in levels])
    tau = frame[UNIQUE_ID].map(taus).to_numpy("float64")
    frame["planned"] = np.maximum(interpolate_quantile(values, grid, tau), 0.0)
    frame["median"] = np.maximum(interpolate_quantile(values, grid, 0.5), 0.0)
    order = np.lexsort((frame[DS].to_numpy(), frame[UNIQUE_ID].to_numpy()))
    return frame.iloc[order].reset_index(drop=True), np.maximum(np.sort(values, axis=1), 0.0)[order], grid


def shift_rows(
    center: CenterConfig,
    days: pd.DatetimeIndex,
    planned: np.ndarray,
    median: np.ndarray,
    profile: np.ndarray,
    values: np.ndarray,
    levels: np.ndarray,
    waiting: float = 0.0,
) -> list[dict]:
    """Plan rows of one center for local ``days`` with daily quantiles ``planned``/``median``
    (at the center's service quantile and 0.5) and all of them, ``values`` (n, k) at ``levels``.

    An overnight shift plans on the service quantile of the sum of the evening's and the
    next morning's orders, the two days' errors correlated by the center's ``day_correlation``
    (:func:`fcplan.planner.quantile_sum.quantile_of_days`; consecutive days' errors are
    positively correlated on real data, and independence under-covered the sum). A night shift of the last day,
    whose morning hours have no forecast, takes them from that day's forecast
    (``next_day_forecast`` False).

    Each order is packed by the shift on the floor when it comes, else by the next shift that
    starts (:func:`packed_span`). Hours no shift covers (a center with one day shift ``8-16``,
    or two shifts ``6-22``) wait for the next shift: the evening's and the night's for the next
    morning's first shift, which plans on the quantile of the sum of the two days' shares.
    Closed days (:meth:`CenterConfig.closed`): no shift starts, 0 packers whatever
    ``min_packers`` says, but customers still order: the night shift before a closed day
    runs into its morning and packs those hours (from the closed day's forecast, as any night);
    the rest of the closed day, and every day of a run of them (a holiday weekend), waits for
    the first shift of the next open day (:func:`first_shift`: the first to start, which also
    packs the open day's early hours no night shift ran into),
    and is planned there: a backlog is cleared first thing, as a manager books it, not spread
    over the day (a shift capped by ``max_packers`` says how many packers it is short, as
    always). That shift plans on the service quantile of the *sum* of the carried days' orders
    and its own (:func:`fcplan.planner.quantile_sum.quantile_of_days`), not the sum of their
    quantiles. ``waiting``: orders already counted before ``days[0]`` that no shift packed (the
    closed days before the forecast's first day, and the hours no shift covered after the last
    shift before it, which it does not hold:
    :func:`waiting_orders`), added to the first open day's first shift. The orders of closed
    days at the end of ``days`` wait for an open day past the forecast: no row plans them
    (:func:`plan_notes` says so); the plan whose forecast reaches that day does. So do the hours no
    shift covers after the last day's last shift (a day-only center's last evening): the next
    plan counts them (``waiting``); this one is silent, as they are there every day."""
    rows = []
    by_day = dict(zip(days, range(len(days)), strict=True))
    shut = center.closed(days)
    opener = first_shift(center)[0]
    first_open = next((i for i in range(len(days)) if not shut[i]), None)
    rho = center.day_correlation
    for i, day in enumerate(days):
        counted = waiting if i == first_open else 0.0
        for shift in center.shifts:
            # (index of the day in the forecast, share of its orders): the days before the forecast are in
            # `waiting`; a morning past the forecast's last day takes that day's forecast
            span = [] if shut[i] else packed_days(center, day, shift, profile)
            parts = [(by_day.get(d, i), w) for d, w in span if d >= days[0]]
            past_end = any(d not in by_day for d, _ in span if d > day)
            capacity = center.productive_hours(shift, day)
            backlog = counted if shift.name == opener and not shut[i] else 0.0
            weights = np.array([[w for _, w in parts] or [0.0]])
            days_q = values[[k for k, _ in parts] or [i]][None, :, :]
            if len(parts) > 1:
                orders = backlog + float(quantile_of_days(weights, days_q, levels, center.service_quantile,
                                                          rho=rho)[0])
            else:  # one day (or none: a closed day): the share of its planned quantile, exactly
                orders = backlog + float(sum(w * planned[k] for k, w in parts))
            samples = backlog + days_samples(weights, days_q, levels, rho=rho)[0]
            median_orders = float(sum(w * median[k] for k, w in parts))
            hours = orders / center.productivity(shift)
            try:
                needed = 0 if shut[i] or capacity <= 0 else int(cheapest_headcount(
                    samples / center.productivity(shift),
                    np.array([capacity]), np.array([hours]), *center.unit_costs,
                    center.min_packers)[0])
            except PanelError as exc:
                raise PanelError(f"center {center.center_id!r}, {day:%Y-%m-%d}, shift {shift.name!r}: {exc}") from None
            packers = needed if center.max_packers is None else min(needed, center.max_packers)
            rows.append({
                UNIQUE_ID: center.center_id,
                DS: day,
                SHIFT: shift.name,
                "orders_median": backlog + median_orders,
                "orders_planned": orders,
                "packer_hours": hours,
                "packers": packers,
                "starts_at": day + pd.Timedelta(hours=shift.start),
                "packers_needed": needed,
                "next_day_forecast": not past_end,
            })
    return rows


def plan_crews(
    forecast: pd.DataFrame,
    centers: Mapping[str, CenterConfig],
    profiles: Mapping[str, np.ndarray],
    *,
    model: str | None = None,
    waiting: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Packers per center, local day and shift (the day a shift starts), newsvendor rule.

    ``forecast``: ``unique_id, ds (local day), [model], "<q>"...`` daily orders;
    ``centers``: the :class:`CenterConfig` of every forecast center; ``profiles``:
    :func:`hour_profiles` (a center without one gets a flat profile). Per shift::

        orders_planned = Q(tau) of (evening share * X_D + morning share * X_{D+1})
        packer_hours   = orders_planned / orders_per_packer_hour (the shift's or the center's)
        packers        = min(max_packers, max(min_packers, the floor or the ceiling of
                             packer_hours / ((paid_hours - break) * (1 - shrinkage)),
                             whichever has the lower expected cost (cheapest_headcount)))

    with ``tau`` the center's service quantile and the two days' errors correlated by its
    ``day_correlation`` (a shift
    within one day: ``share * Q_D(tau)``). The orders of closed days are planned on the
    first shift of the next open day (:func:`shift_rows`); ``waiting``: per center, orders
    counted before the forecast's first day that no shift packed (:func:`waiting_orders`).
    Returns :data:`CREW_COLUMNS`, sorted by center, day and shift start.
    """
    if not isinstance(forecast, pd.DataFrame):  # a list was "'list' object has no attribute 'columns'"
        raise TypeError(f"forecast must be a pandas DataFrame (unique_id, ds, quantile columns), got "
                        f"{type(forecast).__name__}")
    _check_profiles(profiles)
    ids = sorted(forecast[UNIQUE_ID].astype(str).unique()) if UNIQUE_ID in forecast.columns else []
    lacking = [c for c in ids if c not in centers]
    if lacking:
        raise PanelError(f"no center configuration for forecast center(s) {lacking[:8]}; add them to the centers file")
    daily, values, levels = daily_quantiles(forecast, {c: centers[c].service_quantile for c in ids}, model)
    rows: list[dict] = []
    flat = np.full((7, 24), 1.0 / 24)
    for center_id, idx in daily.groupby(UNIQUE_ID, sort=True).indices.items():
        grp = daily.iloc[idx]
        rows += shift_rows(
            centers[center_id],
            pd.DatetimeIndex(grp[DS]),
            grp["planned"].to_numpy(),
            grp["median"].to_numpy(),
            profiles.get(center_id, flat),
            values[idx],
            levels,
            float((waiting or {}).get(center_id, 0.0)),
        )
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in CREW_COLUMNS}).astype(
            {UNIQUE_ID: str, DS: "datetime64[ns]", SHIFT: str, "packers": "int64"}
        )
    plan = pd.DataFrame(rows, columns=CREW_COLUMNS)
    plan["packers"] = plan["packers"].astype("int64")
    return plan.sort_values([UNIQUE_ID, "starts_at"], kind="stable").reset_index(drop=True)


def capped_summary(capped: pd.DataFrame, source: str = "centers file") -> str:
    """``"; 6 shift(s) capped at max_packers, 12 packer(s) short of the need (e.g. LA 2026-03-02 day: 8 of
    10); raise max_packers in the centers file to book them, else about 960 orders (at the planned quantile)
    stay unpacked after those shifts: ..."`` for the plan rows (``unique_id, ds, shift, packers,
    packers_needed``, ``orders_planned`` for the orders: its share the missing packers would pack) whose
    cap left them below their need, as ``fcplan plan`` and the offline plan say it (empty when none): a
    capped shift books fewer packers than its orders need, and the message said nothing.
    ``source``: where max_packers is set (the centers file's path). The orders a capped shift leaves are
    not moved to the next shift (decided in session 20, i30-gaps): the cap is what the center can staff, the
    next shift (the same cap) would likely be short too and a cascade would hide where the backlog
    stuck; the manager sees the orders and raises the cap or books overtime."""
    if capped.empty:
        return ""
    first = capped.iloc[0]
    short = int((capped["packers_needed"] - capped["packers"]).sum())
    left = ""
    if "orders_planned" in capped.columns:  # the need's share the cap leaves: a backlog may be most of it
        need = capped["packers_needed"].to_numpy("float64")
        orders = capped["orders_planned"].to_numpy("float64") * (need - capped["packers"].to_numpy("float64"))
        left = (f", else about {float(np.sum(orders / np.maximum(need, 1.0))):,.0f} orders (at the planned "
                "quantile) stay unpacked after those shifts: the plan does not move them to the next shift")
    return (f"; {len(capped)} shift(s) capped at max_packers, {short} packer(s) short of the need (e.g. "
            f"{first[UNIQUE_ID]} {pd.Timestamp(first[DS]):%Y-%m-%d} {first['shift']}: "
            f"{int(first['packers'])} of {int(first['packers_needed'])}); raise max_packers in the "
            f"{source} to book them{left}")


def _check_profiles(profiles: Mapping[str, np.ndarray]) -> None:
    """A :class:`PanelError` naming the center whose hour profile is not (7, 24) finite shares >= 0 with
    some weight in each row (:func:`hour_profiles`' shape): a (24,) profile was "IndexError: invalid
    index to scalar variable", a NaN one "the plan needs nan packers ... check the forecast's scale"."""
    for center, profile in profiles.items():
        arr = np.asarray(profile, dtype="float64")
        if arr.shape != (7, 24) or not np.isfinite(arr).all() or (arr < 0).any() or (arr.sum(axis=1) <= 0).any():
            raise PanelError(
                f"hour profile of center {center!r} must be a (7, 24) array of finite shares >= 0, a weekday per "
                f"row with some weight (as hour_profiles returns); got shape {arr.shape}"
                + ("" if arr.shape != (7, 24) else " with missing, negative or all-zero rows")
            )


def plan_notes(forecast: pd.DataFrame, centers: Mapping[str, CenterConfig], *, model: str | None = None) -> list[str]:
    """What a plan of ``forecast`` did that the forecast's user should know (empty when nothing):
    centers whose service quantile lies outside the forecast's levels (the plan is then made on
    the outermost column, less safe than asked or safer) and quantile values below 0 orders
    (planned as 0). Call after :func:`plan_crews` succeeded on the same arguments."""
    forecast, levels = model_levels(forecast, model)
    if forecast.empty:
        return []
    lo, hi = levels[0][0], levels[-1][0]
    notes = []
    taus = {c: centers[c].service_quantile for c in sorted(forecast[UNIQUE_ID].astype(str).unique()) if c in centers}
    above = sorted({round(t, 6) for t in taus.values() if t > hi})
    below = sorted({round(t, 6) for t in taus.values() if t < lo})
    if above:
        names = [c for c, t in taus.items() if t > hi]
        notes.append(f"service level {', '.join(f'{t:g}' for t in above)} of {names[:3]} lies above the forecast's "
                     f"highest quantile {hi:g}: planned on the {hi:g} column (fewer packers than the service level "
                     f"asks); forecast higher quantiles, e.g. {min(0.99, round(max(above) + 0.05, 2)):g}")
    if below:
        names = [c for c, t in taus.items() if t < lo]
        notes.append(f"service level {', '.join(f'{t:g}' for t in below)} of {names[:3]} lies below the forecast's "
                     f"lowest quantile {lo:g}: planned on the {lo:g} column (more packers than the service level asks)")
    fast = {c: rate for c, conf in centers.items() if c in taus
            if (rate := max(conf.productivity(s) for s in conf.shifts)) > FASTEST_PACKER}
    if fast:
        notes.append(f"orders_per_packer_hour {max(fast.values()):g} of {sorted(fast)[:3]} is more than "
                     f"{FASTEST_PACKER:g} (one order a second per packer): their shifts are planned with hardly "
                     "any packers beyond min_packers; check the unit (orders per packer per hour)")
    last = pd.to_datetime(forecast[DS]).dt.normalize().groupby(forecast[UNIQUE_ID].astype(str)).max()
    tail = sorted(f"{c} {day:%Y-%m-%d}" for c, day in last.items() if c in centers
                  and centers[c].closed(pd.DatetimeIndex([day]))[0])
    if tail:
        notes.append(f"the forecast ends on a closed day ({', '.join(tail[:3])}{', ...' if len(tail) > 3 else ''}): "
                     "its orders wait for the next open day, past the forecast, and are in no shift of this plan; "
                     "the plan whose forecast reaches that day books them")
    values = forecast[[col for _, col in levels]].apply(pd.to_numeric, errors="coerce").to_numpy("float64")
    negative = int((values < 0).sum())
    if negative:
        notes.append(f"{negative} forecast quantile value(s) below 0 orders (e.g. {values[values < 0].min():g}) "
                     "were planned as 0 orders")
    return notes
