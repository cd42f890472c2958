"""Reads, as panel-shaped frames. Shared by the retrainer, the planner runner and
the dashboard (plain SQLAlchemy + pandas: nothing heavy to import)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.types import Float, Integer, Numeric

from fcplan.core.panel import DS, MODEL, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_name
from fcplan.storage import utcnow
from fcplan.storage.schema import (
    center_hourly,
    clock_state,
    forecast_alerts,
    forecast_runs,
    forecasts,
    leaderboard,
    model_decisions,
    plan_runs,
    promotions,
    staffing_plans,
    stream_metrics,
)
from fcplan.storage.schema import promo_effects as promo_effects_table
from fcplan.storage.schema import promo_kind_effects as promo_kind_effects_table


def _frame(engine: Engine, stmt: object) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        keys = list(result.keys())
        try:
            # Plain tuples: pandas probes SQLAlchemy Row objects one by one (most of the time of a large read).
            rows = [tuple(r) for r in result]
        except (ValueError, TypeError):  # a stored value its column's type cannot read (SQLite only)
            if engine.dialect.name != "sqlite":
                raise
            rows = _readable_rows(conn, stmt, keys)
    frame = pd.DataFrame.from_records(rows, columns=keys)
    if engine.dialect.name == "sqlite" and len(frame):
        frame = _numbers_only(frame, stmt)
    return frame


def all_rows(conn: Connection, stmt: object) -> list[tuple]:
    """Every row of ``stmt`` on ``conn`` as tuples; on SQLite, rows holding a value their column's
    type cannot read are left out with a warning (:func:`_readable_rows`) instead of failing."""
    try:
        return _no_numeric_text([tuple(r) for r in conn.execute(stmt)], conn, stmt)  # type: ignore[call-overload]
    except (ValueError, TypeError):
        if conn.dialect.name != "sqlite":
            raise
        return _no_numeric_text(_readable_rows(conn, stmt, [c.key for c in _selected(stmt)]), conn, stmt)


def all_records(conn: Connection, stmt: object) -> list[dict]:
    """:func:`all_rows` as dicts keyed by column name."""
    keys = [c.key for c in _selected(stmt)]
    return [dict(zip(keys, r, strict=True)) for r in all_rows(conn, stmt)]


def _no_numeric_text(rows: list[tuple], conn: Connection, stmt: object) -> list[tuple]:
    """``rows`` without those where a numeric column holds text or bytes (SQLite only; the rows'
    form of :func:`_numbers_only`)."""
    if conn.dialect.name != "sqlite" or not rows:
        return rows
    selected = _selected(stmt)
    numeric = [i for i, c in enumerate(selected) if isinstance(c.type, Integer | Float | Numeric)]
    if not any(isinstance(r[i], str | bytes) for r in rows for i in numeric):  # (the orders writer's path)
        return rows
    frame = pd.DataFrame.from_records(rows, columns=[c.key for c in selected]).astype(object)
    keep = _numeric_text_free(frame, stmt)
    return rows if keep.all() else [r for r, k in zip(rows, keep, strict=True) if k]


def _selected(stmt: object) -> list:
    return list(stmt.selected_columns)  # type: ignore[attr-defined]


def _damaged(frame_or_rows: object, bad: list[int], where: str, example: object) -> None:
    log.warning("%d stored row(s) hold a value their column's type cannot hold (%s, e.g. %r; written to the "
                "SQLite file by another program?) and are left out; fix or delete them", len(bad), where, example)


def _readable_rows(conn: object, stmt: object, keys: list[str]) -> list[tuple]:
    """The rows of ``stmt`` without those holding a value their column's type cannot read (text in a
    DATETIME, JSON that does not parse): SQLite stores any value in any column, and one such row
    stopped every read of its table, and every retrain or plan with it."""
    from sqlalchemy import type_coerce
    from sqlalchemy.types import NullType

    columns = _selected(stmt)
    dialect = conn.dialect  # type: ignore[attr-defined]
    raw = stmt.with_only_columns(  # type: ignore[attr-defined]
        *[type_coerce(c, NullType()).label(k) for c, k in zip(columns, keys, strict=True)]
    )
    procs = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    rows, bad, where, example = [], [], "", None
    for i, row in enumerate(conn.execute(raw)):  # type: ignore[attr-defined]
        try:
            rows.append(tuple(v if p is None or v is None else p(v) for p, v in zip(procs, row, strict=True)))
        except (ValueError, TypeError):
            bad.append(i)
            if example is None:
                k = next(j for j, (p, v) in enumerate(zip(procs, row, strict=True)) if _unreadable(p, v))
                where, example = keys[k], row[k]
    if bad:
        _damaged(rows, bad, where, example)
    return rows


def _unreadable(proc: object, value: object) -> bool:
    if proc is None or value is None:
        return False
    try:
        proc(value)  # type: ignore[operator]
    except (ValueError, TypeError):
        return True
    return False


def _numbers_only(frame: pd.DataFrame, stmt: object) -> pd.DataFrame:
    """``frame`` without the rows where a numeric column holds text or bytes (SQLite keeps ``'abc'``
    stored in an INTEGER column as it is; ``astype(float)`` then stopped the read)."""
    keep = _numeric_text_free(frame, stmt)
    if keep.all():
        return frame
    frame = frame[keep].reset_index(drop=True)
    return frame.infer_objects()


def _numeric_text_free(frame: pd.DataFrame, stmt: object) -> pd.Series:
    """Where no numeric column of ``frame`` (the rows of ``stmt``) holds text or bytes; warns of the others."""
    keep = pd.Series(True, index=frame.index)
    where, example = "", None
    for col, key in zip(_selected(stmt), frame.columns, strict=True):
        if not isinstance(col.type, Integer | Float | Numeric) or frame[key].dtype != object:
            continue
        wrong = frame[key].map(lambda v: isinstance(v, str | bytes)).astype(bool)
        if wrong.any() and example is None:
            where, example = key, frame[key][wrong].iloc[0]
        keep &= ~wrong
    if not keep.all():
        _damaged(frame, list(np.flatnonzero(~keep.to_numpy())), where, example)
    return keep


def hourly_orders(
    engine: Engine, tz: str, since: datetime | None = None, zones: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``unique_id, ds (local wall-clock hour, tz-naive), y (orders), lines, units, hour_utc``.

    ``ds`` is in ``tz``, or for a center in ``zones`` (center -> IANA zone) in its own zone."""
    stmt = select(*_HOURLY_COLUMNS)
    if since is not None:
        stmt = stmt.where(center_hourly.c.hour >= since)
    return _hourly_frame(engine, stmt, tz, zones)


def hourly_corrections(
    engine: Engine,
    tz: str,
    updated_after: datetime,
    since: datetime,
    before: datetime,
    zones: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The stored hours in ``[since, before)`` (UTC) written after ``updated_after``: orders
    that arrived for hours already read (late orders, corrections). Columns as :func:`hourly_orders`."""
    cols = center_hourly.c
    stmt = select(*_HOURLY_COLUMNS).where(cols.hour >= since, cols.hour < before, cols.updated_at > updated_after)
    return _hourly_frame(engine, stmt, tz, zones)


#: How far past this machine's clock a stored hour's ``updated_at`` (the writer's clock) may be.
STAMP_SKEW = timedelta(days=1)


def hours_watermark(engine: Engine) -> datetime | None:
    """The newest ``updated_at`` of the stored hours (None while there are none).

    Writers stamp it with their clock: one later than now (plus :data:`STAMP_SKEW`) is damage (a
    year typed wrong) and is passed over with a warning; taken, it would hold the drift loop's
    watermark there, and no correction stored after it would ever be read."""
    stamp = center_hourly.c.updated_at
    bound = utcnow() + STAMP_SKEW
    try:
        with engine.connect() as conn:
            newest, ahead = conn.execute(
                select(func.max(stamp).filter(stamp <= bound), func.count().filter(stamp > bound))
            ).one()
        if ahead:
            log.warning("center_hourly: %d stored hour(s) were updated later than %s (updated_at), which no writer's "
                        "clock says yet; they are passed over as the hours' watermark: fix or delete them",
                        ahead, bound)
        return newest
    except (ValueError, TypeError):  # the largest stored value is not a time (SQLite): the newest that is
        if engine.dialect.name != "sqlite":
            raise
    # Aggregated in SQL, one row per center (not every stored hour): each center's newest value that
    # SQLite reads as a time; one Python cannot read after all leaves its center out, with a warning.
    newest = select(center_hourly.c.center_id, func.max(stamp).label("updated_at")).where(
        func.datetime(stamp).is_not(None), stamp <= bound
    ).group_by(center_hourly.c.center_id)
    with engine.connect() as conn:
        stamps = [row[1] for row in all_rows(conn, newest) if row[1] is not None]
    return max(stamps, default=None)


_HOURLY_COLUMNS = (
    center_hourly.c.center_id,
    center_hourly.c.hour,
    center_hourly.c.orders,
    center_hourly.c.lines,
    center_hourly.c.units,
)


def _hourly_frame(engine: Engine, stmt: object, tz: str, zones: Mapping[str, str] | None) -> pd.DataFrame:
    raw = _frame(engine, stmt.order_by(center_hourly.c.center_id, center_hourly.c.hour))  # type: ignore[attr-defined]
    if raw.empty:
        return pd.DataFrame(
            {
                UNIQUE_ID: pd.Series(dtype=str),
                DS: pd.Series(dtype="datetime64[ns]"),
                Y: pd.Series(dtype=float),
                "lines": [],
                "units": [],
                "hour_utc": [],
            }
        )
    raw = raw[_in_pandas_range(raw["hour"], "hourly rows", raw["center_id"])].reset_index(drop=True)
    hour_utc = pd.to_datetime(raw["hour"]).astype("datetime64[ns]")
    local = local_hours(raw["center_id"].astype(str), hour_utc, tz, zones)
    return pd.DataFrame(
        {
            UNIQUE_ID: raw["center_id"].astype(str),
            DS: local,
            Y: raw["orders"].astype(float),
            "lines": raw["lines"],
            "units": raw["units"],
            "hour_utc": hour_utc,
        }
    )


#: The times pandas can hold (nanoseconds: 1677-09-22 to 2262-04-11), with a day's margin for time zones.
_PANDAS_RANGE = (pd.Timestamp.min + pd.Timedelta(days=1), pd.Timestamp.max - pd.Timedelta(days=1))


def _in_pandas_range(values: pd.Series, what: str, owners: pd.Series) -> pd.Series:
    """Where the stored ``values`` (datetimes) are times pandas can hold. A row stored before
    validation refused such times (an order stamped 1600, a promotion in 2326) made every read
    fail, and with it every retrain; it is now left out, with a warning naming it."""
    try:
        stamps = pd.to_datetime(values)  # microseconds (pandas 3) from the database's datetimes: any year
        ok = stamps.isna() | stamps.between(*_PANDAS_RANGE)
    except (OverflowError, ValueError):  # pandas 2 (nanoseconds) refuses them: judge each value
        ok = values.map(_holdable).astype(bool)
    if not ok.all():
        log.warning("%d stored %s have times pandas cannot hold and are left out, e.g. %s at %s",
                    int((~ok).sum()), what, owners[~ok].iloc[0], values[~ok].iloc[0])
    return ok


def _holdable(value: object) -> bool:
    """Whether one stored datetime (or a missing value) is a time pandas can hold."""
    if not isinstance(value, datetime):
        return value is None or value != value  # NaN / NaT
    lo, hi = (t.to_pydatetime(warn=False) for t in _PANDAS_RANGE)
    return lo <= value.replace(tzinfo=None) <= hi


def local_hours(centers: pd.Series, hour_utc: pd.Series, tz: str, zones: Mapping[str, str] | None) -> pd.Series:
    """Naive UTC hours -> each center's local wall-clock hour (its zone in ``zones``, else ``tz``)."""
    aware = hour_utc.dt.tz_localize("UTC")
    zone = centers.map(dict(zones or {})).fillna(tz)
    local = pd.Series(pd.NaT, index=hour_utc.index, dtype="datetime64[ns]")
    for name, idx in zone.groupby(zone).groups.items():
        local.loc[idx] = aware.loc[idx].dt.tz_convert(name).dt.tz_localize(None).astype("datetime64[ns]")
    return local


log = logging.getLogger(__name__)

#: A center's history starts after its stray first days: fewer than ``STRAY_DAYS`` days
#: with orders, then ``STRAY_GAP`` or more without any (one order stamped 1970 by a broken
#: clock would otherwise fill decades of zero days). The orders stay stored.
STRAY_DAYS = 7
STRAY_GAP = pd.Timedelta(days=28)


def history_start(days: pd.Series) -> int:
    """Position in the sorted days with orders ``days`` where a center's history starts
    (0 unless it begins with stray days, see :data:`STRAY_DAYS`)."""
    values = days.to_numpy("datetime64[ns]")
    start = 0
    for j in np.flatnonzero(np.diff(values) >= STRAY_GAP.to_timedelta64()):
        if j + 1 - start < STRAY_DAYS:
            start = int(j) + 1
    return start


def daily_orders(
    engine: Engine, tz: str, complete_before: date | None = None, zones: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Orders per center per local day as a panel ``unique_id, ds, y``.

    Days with no orders between a center's first and last day are 0; stray first days
    far before the rest are left out (:func:`history_start`). With
    ``complete_before``, only days before it (e.g. today, still filling) are kept.
    Days are local to ``tz``, or to a center's own zone in ``zones``.
    """
    hourly = hourly_orders(engine, tz, zones=zones)
    if hourly.empty:
        return hourly[[UNIQUE_ID, DS, Y]]
    hourly[DS] = hourly[DS].dt.normalize()
    daily = hourly.groupby([UNIQUE_ID, DS], as_index=False)[Y].sum()
    if complete_before is not None:
        daily = daily[daily[DS] < pd.Timestamp(complete_before)]
    parts = []
    for uid, grp in daily.groupby(UNIQUE_ID, sort=True):
        grp = grp.sort_values(DS)
        start = history_start(grp[DS])
        if start:
            log.warning("center %s: its first %d day(s) with orders (%s to %s) stand %d days or more before "
                        "the rest and are left out of its history (check the clock of the system that sent them)",
                        uid, start, grp[DS].iloc[0].date(), grp[DS].iloc[start - 1].date(), STRAY_GAP.days)
            grp = grp.iloc[start:]
        grid = pd.date_range(grp[DS].min(), grp[DS].max(), freq="D")
        part = grp.set_index(DS)[Y].reindex(grid, fill_value=0.0).rename_axis(DS).reset_index()
        part.insert(0, UNIQUE_ID, uid)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else daily


def promotion_calendar(engine: Engine) -> pd.DataFrame:
    """``promo_id, center_ids (list or None), start, end (naive UTC), kind, discount_pct, status``."""
    cols = [
        promotions.c.promo_id,
        promotions.c.center_ids,
        promotions.c.start,
        promotions.c.end,
        promotions.c.kind,
        promotions.c.discount_pct,
        promotions.c.status,
    ]
    frame = _frame(engine, select(*cols).order_by(promotions.c.start))
    for col in ("start", "end"):
        frame = frame[_in_pandas_range(frame[col], "promotions", frame["promo_id"])]
    frame = frame.reset_index(drop=True)
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return frame


def _first(engine: Engine, stmt: object) -> dict | None:
    """The first row of ``stmt`` as a dict (None when there is none); on SQLite, rows holding a value
    their column's type cannot read (text in a number too) are passed over (see :func:`all_rows`)."""
    with engine.connect() as conn:
        try:
            row = conn.execute(stmt).mappings().first()  # type: ignore[call-overload]
            if row is None or _no_numeric_text([tuple(row.values())], conn, stmt):
                return dict(row) if row else None
        except (ValueError, TypeError):
            if engine.dialect.name != "sqlite":
                raise
        rows = all_records(conn, stmt.limit(None))  # type: ignore[attr-defined]
    return rows[0] if rows else None


#: How far a center's local day can run ahead of the UTC day (UTC+14, Kiribati): a run's
#: ``data_end`` (a local day) up to this past a clock's UTC now is still that clock's.
_ZONE_AHEAD = timedelta(hours=14)


def _last_day(now: datetime | None) -> date | None:
    """The last local day a clock at ``now`` can have data for (None: no bound)."""
    if now is None:
        return None
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
    return (stamp + _ZONE_AHEAD).date()


def _runs_of_clock(last: date) -> object:
    """The condition on ``forecast_runs`` that a run's data ends by ``last`` (see :func:`_of_clock`)."""
    return forecast_runs.c.data_end.is_(None) | (forecast_runs.c.data_end <= last)


def _of_clock(stmt: object, now: datetime | None) -> object:
    """``stmt`` (over ``forecast_runs``, or joined to it) newest first: by ``created_at`` (real time,
    ``now`` None); for a simulated clock at ``now``, kept to that clock's runs and newest data first.

    A run whose data ends after that clock's today was made by another clock (a real-time loop's
    runs in a database a simulation started in the past now writes to). Among the clock's runs,
    ``created_at`` cannot tell the newest: runs stored before the loop stamped the simulated time
    carry the wall clock's, months after the simulated stamps of newer runs. So the newest is the
    run whose data ends last (what an operations manager watching that clock asks for), then
    ``created_at`` (runs of the same data, a retrain on the day)."""
    last = _last_day(now)
    newest = forecast_runs.c.created_at.desc()
    if last is None:
        return stmt.order_by(newest)  # type: ignore[attr-defined]
    return stmt.where(_runs_of_clock(last)).order_by(  # type: ignore[attr-defined]
        forecast_runs.c.data_end.desc().nulls_last(), newest)


def _newest(stmt: object, now: datetime | None) -> object:
    """The newest row of ``stmt`` (see :func:`_of_clock`)."""
    return _of_clock(stmt, now).limit(1)  # type: ignore[attr-defined]


def _newest_run(now: datetime | None = None) -> object:
    return _newest(select(forecast_runs), now)


def latest_forecast_run(engine: Engine, now: datetime | None = None) -> dict | None:
    """The newest forecast run (by ``created_at``); with ``now`` (the simulated clock's), the newest
    of that clock's runs (see :func:`_of_clock`), else the newest of all."""
    return (_first(engine, _newest_run(now)) if now is not None else None) or _first(engine, _newest_run())


def simulated_now(engine: Engine) -> datetime | None:
    """The simulated clock's now (naive UTC) while the loop runs in simulated time, else None."""
    row = _first(engine, select(clock_state.c.now).where(clock_state.c.name == "simulated"))
    return row["now"] if row else None


def current_forecast_run(engine: Engine, now: datetime | None = None) -> dict | None:
    """The run plans and alerts use: the champion (``status``), else the newest run; with ``now``
    (the simulated clock's), among that clock's runs first (see :func:`_of_clock`)."""
    champion = select(forecast_runs).where(forecast_runs.c.status == "champion")
    if now is not None:
        found = _first(engine, _newest(champion, now)) or _first(engine, _newest_run(now))
        if found is not None:
            return found
    return _first(engine, _newest(champion, None)) or latest_forecast_run(engine)


def forecast_run(engine: Engine, run_id: str) -> dict | None:
    """The ``forecast_runs`` row of ``run_id``."""
    return _first(engine, select(forecast_runs).where(forecast_runs.c.run_id == run_id))


def forecast_frame(engine: Engine, run_id: str) -> pd.DataFrame:
    """The forecast frame of a run: ``unique_id, ds, model, "<q>"...``."""
    stmt = select(
        forecasts.c.unique_id, forecasts.c.ds, forecasts.c.model, forecasts.c.quantile, forecasts.c.value
    ).where(forecasts.c.run_id == run_id)
    long = _frame(engine, stmt)
    if long.empty:
        return pd.DataFrame(columns=[UNIQUE_ID, DS, MODEL])
    long["quantile"] = long["quantile"].map(quantile_name)
    wide = long.pivot_table(index=[UNIQUE_ID, DS, MODEL], columns="quantile", values="value").reset_index()
    wide.columns.name = None
    wide[DS] = pd.to_datetime(wide[DS]).astype("datetime64[ns]")
    levels = sorted((c for c in wide.columns if c not in (UNIQUE_ID, DS, MODEL)), key=float)
    # A day lacking one of its model's levels (a stored value left out as unreadable) cannot be
    # planned; the other days can: it is left out, not the whole run.
    holes = (wide[levels].isna() & wide[levels].notna().groupby(wide[MODEL]).transform("any")).any(axis=1)
    if holes.any():
        log.warning("forecast run %s: %d (center, day, model) row(s) lack some of their model's quantiles and are "
                    "left out, e.g. %s %s", run_id, int(holes.sum()), wide.loc[holes, UNIQUE_ID].iloc[0],
                    wide.loc[holes, DS].iloc[0].date())
        wide = wide[~holes].reset_index(drop=True)
    return wide[[UNIQUE_ID, DS, MODEL, *levels]]


def issued_forecasts(engine: Engine, since: date) -> pd.DataFrame:
    """Every run's ensemble forecasts for days from ``since``: ``unique_id, ds,
    data_end, run_id`` + one column per quantile (see :func:`fcplan.models.drift.as_issued`)."""
    stmt = (
        select(
            forecasts.c.run_id,
            forecasts.c.unique_id,
            forecasts.c.ds,
            forecasts.c.quantile,
            forecasts.c.value,
            forecast_runs.c.data_end,
        )
        .join(forecast_runs, forecast_runs.c.run_id == forecasts.c.run_id)
        .where(forecasts.c.ds >= since)
    )
    long = _frame(engine, stmt)
    if long.empty:
        return pd.DataFrame(columns=[UNIQUE_ID, DS, "data_end", "run_id"])
    long["quantile"] = long["quantile"].map(quantile_name)
    wide = long.pivot_table(index=["run_id", UNIQUE_ID, DS, "data_end"], columns="quantile", values="value")
    wide = wide.reset_index()
    wide.columns.name = None
    wide[DS] = pd.to_datetime(wide[DS]).astype("datetime64[ns]")
    wide["data_end"] = pd.to_datetime(wide["data_end"]).astype("datetime64[ns]")
    return wide


def leaderboard_frame(engine: Engine, run_id: str) -> pd.DataFrame:
    return _frame(engine, select(leaderboard).where(leaderboard.c.run_id == run_id))


def promo_effects(engine: Engine, run_id: str) -> pd.DataFrame:
    """``unique_id, effect_per_pct, promo_days`` of a forecast run (empty if none was stored)."""
    t = promo_effects_table
    stmt = select(t.c.unique_id, t.c.effect_per_pct, t.c.promo_days).where(t.c.run_id == run_id)
    return _frame(engine, stmt.order_by(t.c.unique_id))


def promo_kind_effects(engine: Engine, run_id: str) -> pd.DataFrame:
    """``unique_id, kind, effect_per_pct, pooled_effect_per_pct, promo_days`` of a forecast run."""
    t = promo_kind_effects_table
    stmt = select(t.c.unique_id, t.c.kind, t.c.effect_per_pct, t.c.pooled_effect_per_pct, t.c.promo_days)
    return _frame(engine, stmt.where(t.c.run_id == run_id).order_by(t.c.unique_id, t.c.kind))


def latest_plan_run(engine: Engine, now: datetime | None = None) -> dict | None:
    """The newest plan (by ``created_at``); with ``now`` (the simulated clock's), the newest made
    from a forecast run of that clock, that of the newest data first (see :func:`_of_clock`; a plan
    whose run is gone counts, after the others), else the newest of all."""
    stmt = select(plan_runs).order_by(plan_runs.c.created_at.desc()).limit(1)
    if now is None:
        return _first(engine, stmt)
    joined = select(plan_runs).outerjoin(forecast_runs, forecast_runs.c.run_id == plan_runs.c.forecast_run_id)
    ours = _of_clock(joined, now).order_by(plan_runs.c.created_at.desc()).limit(1)  # type: ignore[attr-defined]
    return _first(engine, ours) or _first(engine, stmt)


def plan_frame(engine: Engine, plan_id: str) -> pd.DataFrame:
    """``center_id, day, shift, orders_median, orders_planned, packer_hours, packers``, then the crew
    detail (``starts_at, packers_needed, next_day_forecast, shift_status, packers_before,
    packers_change, action``; empty for plans stored before it was kept)."""
    stmt = select(staffing_plans).where(staffing_plans.c.plan_id == plan_id)
    frame = _frame(engine, stmt.order_by(staffing_plans.c.center_id, staffing_plans.c.day))
    return frame.drop(columns=["plan_id"])


def metrics_frame(engine: Engine) -> pd.DataFrame:
    return _frame(engine, select(stream_metrics).order_by(stream_metrics.c.name, stream_metrics.c.reason))


def decisions_frame(engine: Engine, limit: int = 100) -> pd.DataFrame:
    """Champion/challenger decisions, newest first: ``created_at, challenger_run_id,
    champion_run_id, promoted, reason, evidence``."""
    stmt = select(model_decisions).order_by(model_decisions.c.created_at.desc()).limit(limit)
    return _frame(engine, stmt)


def alerts_frame(engine: Engine, limit: int = 200) -> pd.DataFrame:
    stmt = select(forecast_alerts).order_by(forecast_alerts.c.created_at.desc()).limit(limit)
    return _frame(engine, stmt)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of interest (the demo's summary)."""
    out = {}
    with engine.connect() as conn:
        for name, table in (("hourly", center_hourly), ("forecast", forecasts), ("plan", staffing_plans)):
            out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        days = select(forecasts.c.run_id, forecasts.c.unique_id, forecasts.c.ds).distinct().subquery()
        out["forecast_days"] = int(conn.execute(select(func.count()).select_from(days)).scalar_one())
    return out
