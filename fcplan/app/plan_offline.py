"""``fcplan plan --forecasts F.csv --centers centers.toml [--hourly H.csv] --out plan.csv``.

Plans on a ``fcplan forecast`` file without a database: ``F.csv`` has
``unique_id, ds`` (local days) and one column per quantile level; ``H.csv``
(optional) has ``unique_id, ds`` (local wall-clock hours) and ``y`` orders, from
which each center's weekday x hour profile is learned (flat without it). The
plan CSV has one row per center, day and shift (the day the shift starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from fcplan.app.files import InputError, check_writable, read_csv, to_stdout, write_csv
from fcplan.core.panel import (
    DS,
    MODEL,
    UNIQUE_ID,
    PanelError,
    Y,
    blank_ids,
    dayfirst_dates,
    instants,
    parse_timestamps,
    slashed_dates,
)
from fcplan.core.quantiles import quantile_levels
from fcplan.planner.centers import CenterConfig, Centers
from fcplan.planner.crews import capped_summary, hour_profiles, plan_crews, plan_notes, waiting_before


class PlanInputError(InputError):
    """A file given to the offline plan does not fit; the message says how to fix it."""


def _read(path: Path, what: str, expected: str) -> tuple[pd.DataFrame, pd.Series]:
    """The file with ``ds`` read as wall-clock times and ids stripped, and its ``ds`` as written
    (for the layout and zone checks of the hourly file)."""
    try:
        frame = read_csv(path, what, expected)
    except InputError as exc:
        raise PlanInputError(str(exc)) from exc
    missing = [c for c in (UNIQUE_ID, DS) if c not in frame.columns]
    if missing:
        raise PlanInputError(
            f"{what} file {str(path)!r} lacks column(s) {missing}; it has {list(frame.columns)[:10]}. "
            f"Expected {expected}"
        )
    if frame.empty:
        raise PlanInputError(f"{what} file {str(path)!r} has a header but no rows; expected {expected}")
    no_id = blank_ids(frame[UNIQUE_ID])
    if no_id.any():
        raise PlanInputError(
            f"{what} file {str(path)!r}: unique_id is empty in {int(no_id.sum())} row(s) (e.g. row "
            f"{int(np.flatnonzero(no_id.to_numpy())[0]) + 2}); give every row its center's id or drop those rows"
        )
    # read as the forecast command reads ds: offsets that change with daylight saving keep their
    # wall clock, DD/MM/YYYY where month-first does not fit, YYYYMMDD integers, stray spaces
    try:
        dates = parse_timestamps(frame[DS], name=what)
    except PanelError as exc:
        unread = pd.to_datetime(frame[DS].astype("string").str.strip(), errors="coerce", format="mixed").isna()
        rows = np.flatnonzero((unread & frame[DS].notna()).to_numpy())
        where = f" (first at row {int(rows[0]) + 2}: {frame[DS].iloc[rows[0]]!r})" if len(rows) else ""
        raise PlanInputError(f"{what} file {str(path)!r}: {exc}{where}") from exc
    empty = np.flatnonzero(dates.isna().to_numpy())
    if len(empty):
        raise PlanInputError(f"{what} file {str(path)!r}: ds is empty in {len(empty)} row(s) (e.g. row "
                             f"{int(empty[0]) + 2}); give every row its day or drop those rows")
    if slashed_dates(frame[DS]) and not _is_daily(dates, frame[UNIQUE_ID]):
        # 02/03/2026 ... 08/03/2026 read month-first are a month apart: the file is day-first
        dayfirst = dayfirst_dates(frame[DS])
        if dayfirst.notna().all() and _is_daily(dayfirst, frame[UNIQUE_ID]):
            dates = dayfirst
    # "FC-SEOUL-1 " is FC-SEOUL-1: a stray space would make it an unlisted center on the defaults
    return frame.assign(**{DS: dates, UNIQUE_ID: frame[UNIQUE_ID].astype(str).str.strip()}), frame[DS]


def _is_daily(ds: pd.Series, ids: pd.Series) -> bool:
    """Whether some center's rows are less than a week apart (not weekly or monthly totals)."""
    gaps = ds.sort_values().groupby(ids.astype(str).str.strip()).diff().dropna()
    return gaps.empty or gaps.min() < pd.Timedelta(days=7)


def _check_daily(forecast: pd.DataFrame, path: Path) -> None:
    """A :class:`PlanInputError` unless ``forecast`` holds daily orders: no times of day (an
    hourly forecast) and not every center's rows a week or more apart (weekly or monthly totals,
    which would be planned as one day's orders)."""
    ds = forecast[DS]
    timed = ds != ds.dt.normalize()
    if timed.any():
        raise PlanInputError(
            f"forecasts file {str(path)!r} holds times of day (e.g. {ds[timed].iloc[0]}, row "
            f"{int(np.flatnonzero(timed.to_numpy())[0]) + 2}); the plan needs one row per center and local "
            "day: forecast daily orders (`fcplan forecast --freq D` on daily totals)"
        )
    gaps = ds.sort_values().groupby(forecast[UNIQUE_ID]).diff().dropna()
    if not gaps.empty and gaps.min() >= pd.Timedelta(days=7):
        raise PlanInputError(
            f"forecasts file {str(path)!r}: each center's rows are {gaps.min().days} or more days apart, so they "
            "look like weekly or monthly totals, which would be planned as one day's orders; the plan needs "
            "a forecast of daily orders (one row per center and local day)"
        )


def _check_hourly(hours: pd.DataFrame, path: Path) -> None:
    """A :class:`PlanInputError` when the hourly file holds one row per day (every row at 00:00):
    read as hours, all of a day's orders would fall in its first hour and on the night shift."""
    ds = hours[DS]
    if ds.dt.normalize().nunique() > 1 and (ds == ds.dt.normalize()).all():
        raise PlanInputError(
            f"hourly file {str(path)!r} has every row at 00:00, one per day: it looks like daily totals; give "
            "orders per local hour (ds such as 2026-03-02 14:00) or leave --hourly out to spread each day evenly"
        )


def _orders(y: pd.Series, path: Path) -> pd.Series:
    """The hourly file's ``y`` as float orders (empty cells stay missing); a
    :class:`PlanInputError` naming a row that is not a count of orders."""
    values = pd.to_numeric(y, errors="coerce").astype("float64")
    bad = (values.isna() & y.notna()) | np.isinf(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise PlanInputError(
            f"hourly file {str(path)!r}: y {_plain(y.iloc[row])!r} (row {row + 2}) is not a number of orders; "
            f"{int(bad.sum())} row(s) hold text, infinite or negative values: fix them or leave the cell empty"
        )
    return values


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (its repr was "np.float64(-40.0)")."""
    return value.item() if isinstance(value, np.generic) else value


def plan_from_files(
    forecasts: Path, centers: Centers, hourly: Path | None = None, model: str | None = None
) -> pd.DataFrame:
    """The crew plan of a forecast CSV (see the module docstring)."""
    fc_expected = 'unique_id, ds and quantile columns such as "0.1", "0.5", "0.9" (as `fcplan forecast` writes)'
    forecast, _ = _read(forecasts, "forecasts", fc_expected)
    if not quantile_levels(forecast):
        raise PlanInputError(
            f"forecasts file {str(forecasts)!r} has no quantile columns (it has {list(forecast.columns)[:10]}); "
            f"expected {fc_expected}"
        )
    _check_daily(forecast, forecasts)
    configs = centers.for_ids(forecast[UNIQUE_ID].astype(str).unique())
    profiles = {}
    notes: list[str] = []
    waiting: dict[str, float] = {}
    if hourly is not None:
        hours, written = _read(hourly, "hourly", "unique_id, ds (local hour), y (orders)")
        if Y not in hours.columns:
            raise PlanInputError(f"hourly file {str(hourly)!r} lacks column 'y' (orders per local hour)")
        hours[Y] = _orders(hours[Y], hourly)
        hours[DS], moved = _in_center_zones(hours, written, configs)
        if moved:
            notes.append(f"the hourly file's times carry UTC offsets (e.g. {written.iloc[0]!r}): "
                         f"read in each center's zone, {moved[:3]}")
        _check_hourly(hours, hourly)
        first = forecast[DS].min()
        profiles = hour_profiles(hours, before=first)
        if not (hours[DS] < first).any():  # e.g. 05/03/2026 read as May 3 for a plan from March 9
            how = (" (its dates are written with slashes: are they read the way you meant? write them as "
                   "YYYY-MM-DD HH:MM)" if slashed_dates(written) else "")
            notes.append(f"the hourly file has no hours before the forecast's first day {first.date()} (it runs "
                         f"{hours[DS].min()} to {hours[DS].max()}){how}: each day's orders are spread evenly")
        listed = set(hours[UNIQUE_ID].astype(str))
        if flat := sorted(set(configs) - listed):  # a center the file lacks was spread evenly without a word
            notes.append(f"the hourly file has no rows of center(s) {flat[:5]} (it has {sorted(listed)[:5]}): their "
                         "days' orders are spread evenly over the hours; ids must match the forecast's as written")
        # the orders of closed days before the forecast's first day, counted: its first open day's first shift
        waiting = waiting_before(configs, forecast, hours)
    try:
        plan = plan_crews(forecast, configs, profiles, model=model, waiting=waiting)
    except PanelError as exc:
        raise PlanInputError(f"forecasts file {str(forecasts)!r}: {exc}") from exc
    notes += centers.on_defaults(configs) + _unused_columns(forecast) + _missing_days(forecast)
    plan.attrs["notes"] = notes + plan_notes(forecast, configs, model=model)
    return plan


def _in_center_zones(
    hours: pd.DataFrame, written: pd.Series, configs: Mapping[str, CenterConfig]
) -> tuple[pd.Series, list[str]]:
    """The hourly file's ``ds`` (``written``: as the file has it) as each center's local wall clock,
    and the centers whose hours that moved. Times written with an offset (``...Z``, ``+00:00``,
    a tz-aware Parquet column) are instants: orders exported in UTC for a Seoul center were read as
    Seoul hours, 9 hours off, and the day's orders planned on the night shift without a word. Times
    without one stay as written."""
    utc = instants(written)
    if utc is None or len(utc) != len(hours):
        return hours[DS], []
    local, moved = hours[DS].copy(), []
    for center, rows in hours.groupby(UNIQUE_ID, sort=True).indices.items():
        if center not in configs:
            continue  # not planned: left as written
        zone = configs[center].timezone
        wall = utc.iloc[rows].dt.tz_convert(zone).dt.tz_localize(None).to_numpy("datetime64[ns]")
        if (wall != local.iloc[rows].to_numpy("datetime64[ns]")).any():
            moved.append(f"{center}: {zone}")
        local.iloc[rows] = wall
    return local, moved


def _missing_days(forecast: pd.DataFrame) -> list[str]:
    """A note naming the days between a center's first and last forecast day that the file lacks:
    no shift of those days is planned (0 packers booked), and the plan said nothing."""
    days = forecast[[UNIQUE_ID, DS]].assign(**{DS: forecast[DS].dt.normalize()}).drop_duplicates()
    gaps = []
    for center, ds in days.groupby(UNIQUE_ID, sort=True)[DS]:
        lacking = pd.date_range(ds.min(), ds.max(), freq="D").difference(pd.DatetimeIndex(ds))
        if len(lacking):
            gaps.append(f"{center}: {len(lacking)} day(s), e.g. {lacking[0].date()}")
    if not gaps:
        return []
    return [f"the forecasts file lacks days between a center's first and last day ({'; '.join(gaps[:3])}"
            f"{f'; {len(gaps) - 3} more center(s)' if len(gaps) > 3 else ''}): no shifts are planned on them; "
            "forecast every day (a closed day is set in the centers file: closed_weekdays, closed_dates)"]


def _unused_columns(forecast: pd.DataFrame) -> list[str]:
    """A note naming the forecast file's columns the plan does not read (``q0.99``, ``P95``, ``99%``
    beside ``0.1, 0.5, 0.9``: a quantile column is named by its level alone), else none."""
    used = {UNIQUE_ID, DS, MODEL, *(col for _, col in quantile_levels(forecast))}
    unused = [str(c) for c in forecast.columns if c not in used]
    if not unused:
        return []
    return [f"column(s) {unused[:5]} of the forecasts file are not quantile columns and were not used; a "
            "quantile column is named by its level alone, e.g. \"0.99\" (rename it to plan on it)"]


def write_offline_plan(
    forecasts: Path, centers: Centers, out: Path, hourly: Path | None = None, model: str | None = None
) -> str:
    """Plan and write ``out`` (on ``model``'s rows when the file holds several); returns the line to print."""
    check_writable(out, {"--forecasts": forecasts, "--hourly": hourly})  # said before the plan, not after it
    plan = plan_from_files(forecasts, centers, hourly, model)
    write_csv(plan.assign(**{DS: plan[DS].dt.date}), out)
    note = capped_summary(plan[plan["packers"] < plan["packers_needed"]], centers.source)
    note += "".join(f"; note: {n}" for n in plan.attrs.get("notes", []))
    where = "standard output" if to_stdout(out) else out
    return (f"wrote {len(plan)} rows ({plan[UNIQUE_ID].nunique()} centers x days x shifts) to {where}; "
            f"{int(plan['packers'].sum())} packer-shifts{note}")
