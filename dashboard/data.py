"""Cached database reads for the dashboard (no writes, no model code).

Every read takes the database URL (a string, so Streamlit can hash it) and goes
through :mod:`fcplan.storage.queries`, cached for :data:`TTL_S` seconds. A
table that does not exist yet (the system just started) reads as empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from fcplan.core.contracts import CANCELLED
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.dashboard import summaries
from fcplan.storage import make_engine, outage
from fcplan.storage import queries as q
from fcplan.storage import report_queries as rq

TTL_S = 5
#: Hourly profiles change with the day only: read them again at most once an hour.
PROFILE_TTL_S = 3600
#: Seconds between live refreshes of the data parts of each page.
REFRESH_S = 8
log = logging.getLogger(__name__)
HISTORY_DAYS = 120
_CONFIG_KEY = "fcplan_config"
T = TypeVar("T")


@dataclass(frozen=True)
class DashboardConfig:
    """What the entry point read from the environment, handed to the pages."""

    url: str
    timezone: str
    holiday_country: str = "KR"


def set_config(config: DashboardConfig) -> None:
    st.session_state[_CONFIG_KEY] = config


def config() -> DashboardConfig:
    """The entry point's settings; pages fail clearly when run on their own."""
    found = st.session_state.get(_CONFIG_KEY)
    if found is None:
        raise RuntimeError("run the dashboard through its entry point: streamlit run dashboard/app.py")
    return found


def problem_text(url: str, exc: BaseException) -> str:
    """What to show instead of a page when the database fails: one paragraph, no traceback."""
    if outage.is_outage(exc):
        said = outage.describe(url, exc)
        return (
            f"{said[0].upper()}{said[1:]}. Start the database or check FCPLAN_DATABASE_URL; "
            f"this page reconnects by itself every {REFRESH_S} s."
        )
    return (
        f"Cannot read the database ({outage.redacted(url)}): {type(exc).__name__}: {outage.reason(exc)}. "
        "Check FCPLAN_DATABASE_URL and that the database is running; this page retries by itself."
    )


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Show a database failure, or a value this section cannot read, as a message instead of a
    traceback (the log keeps the traceback)."""
    try:
        yield
    except SQLAlchemyError as exc:
        st.error(problem_text(url, exc), icon=":material/database:")
    except Exception as exc:  # Streamlit's stop and rerun are BaseExceptions: they pass
        log.exception("dashboard section failed on %s", url)
        st.error(unreadable_text(exc), icon=":material/report:")


def unreadable_text(exc: Exception) -> str:
    """What a section says when the database holds something it cannot draw (an odd value in a
    row the checks let through): what happened, that the rest works, and what to do."""
    return (
        f"This section could not be drawn from what the database holds ({type(exc).__name__}: {exc}). "
        "The other pages still work, and this one retries by itself every "
        f"{REFRESH_S} s: a new forecast or plan (`fcplan retrain`, `fcplan plan`) replaces a damaged newest row. "
        "If it stays, the dashboard's log has the details to report."
    )


def missing_sqlite_file(url: str) -> Path | None:
    """The absolute path of a SQLite ``url``'s file when no file is there (None for another
    database, an in-memory one, or a file that exists). Opening it would create an empty one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    return None if path.exists() else path.resolve()


def database_problem(url: str) -> str | None:
    """None when the database answers; else what to show instead of the page (not cached).

    A SQLite file that is not there is a problem too, not an empty database: opening it would
    create an empty file (and its folder), so a typo or a relative path read from another
    directory would show "waiting for orders" forever."""
    missing = missing_sqlite_file(url)
    if missing is not None:
        return (
            f"No database at {missing}: the worker creates it when it starts (`fcplan worker`, `fcplan demo`). "
            "Check FCPLAN_DATABASE_URL (a relative sqlite:/// path is read from the folder the dashboard was "
            f"started in); this page reconnects by itself every {REFRESH_S} s."
        )
    try:
        with engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return problem_text(url, exc)
    return None


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """One engine per URL for the process; the dashboard never creates tables."""
    return make_engine(url, create=False)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def table_names(url: str) -> frozenset[str]:
    return frozenset(inspect(engine(url)).get_table_names())


def _when_tables(url: str, tables: tuple[str, ...], read: Callable[[], T], empty: T) -> T:
    if not set(tables) <= table_names(url):
        return empty
    return read()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _simulated_now(url: str) -> datetime | None:
    return _when_tables(url, ("clock_state",), lambda: q.simulated_now(engine(url)), None)


def simulated_clock(url: str) -> bool:
    """Whether the database at ``url`` runs on the loop's simulated clock (``fcplan demo
    --simulate-days``): its runs are then ordered by their data, not by ``created_at``."""
    return _simulated_now(url) is not None


def local_now(tz: str, url: str | None = None) -> pd.Timestamp:
    """The current local time in ``tz`` (tz-naive), by the loop's simulated clock when the
    database at ``url`` has one, else by the wall clock."""
    simulated = _simulated_now(url) if url else None
    now = pd.Timestamp(simulated).tz_localize("UTC") if simulated is not None else pd.Timestamp.now(tz="UTC")
    return now.tz_convert(tz).tz_localize(None)


def local_today(tz: str, url: str | None = None) -> pd.Timestamp:
    """Midnight of the current local day in ``tz`` (tz-naive; see :func:`local_now`)."""
    return local_now(tz, url).normalize()


def _utc_of_local(ts: pd.Timestamp, tz: str) -> datetime:
    return ts.tz_localize(tz).tz_convert("UTC").tz_localize(None).to_pydatetime()


def to_local(ts: Any, tz: str) -> pd.Timestamp | None:
    """A naive-UTC database timestamp as naive local time (None stays None)."""
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(tz).tz_localize(None)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def center_configs(url: str) -> dict[str, dict]:
    """Each center's configuration (zone, holiday country, shifts) as the newest plan stored it."""
    return _when_tables(url, ("plan_runs",), lambda: rq.plan_center_configs(engine(url)), {})


def zone_of(url: str, tz: str, center: str) -> str:
    """The center's IANA zone: the one its newest plan was made in, else the dashboard's ``tz``
    (also when this machine does not know the stored zone: see :func:`unknown_zones`)."""
    stored = str(center_configs(url).get(center, {}).get("timezone") or tz)
    return stored if known_zone(stored) else tz


def known_zone(name: str) -> bool:
    """Whether this machine's time zone data has ``name`` (a plan made where the tz database is
    newer, or edited by hand, can name one it lacks)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def unknown_zones(url: str) -> dict[str, str]:
    """``center -> zone`` of the centers whose stored zone this machine does not know."""
    return {c: str(conf["timezone"]) for c, conf in sorted(center_configs(url).items())
            if conf.get("timezone") and not known_zone(str(conf["timezone"]))}


def zones(url: str, tz: str) -> tuple[tuple[str, str], ...]:
    """``(center, zone)`` of every center whose plan names a zone (hashable, for the caches)."""
    return tuple(sorted((c, str(conf["timezone"])) for c, conf in center_configs(url).items()
                        if conf.get("timezone") and known_zone(str(conf["timezone"]))))


def holiday_country_of(url: str, country: str, center: str) -> str:
    """The center's holiday country as its newest plan stored it, else ``country``; "" for a
    center configured without one (``holiday_country = ""``: it keeps no public holidays)."""
    conf = center_configs(url).get(center, {})
    if "holiday_country" in conf:
        return str(conf["holiday_country"] or "")
    return country


@st.cache_data(ttl=TTL_S, show_spinner=False)
def hourly_since(
    url: str,
    tz: str,
    since: datetime,
    zone_map: tuple[tuple[str, str], ...] = (),
    centers: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """``unique_id, ds (the center's local hour), y`` from ``since`` (naive UTC) on, of
    ``centers`` (None: every center)."""

    def read() -> pd.DataFrame:
        counts = rq.hourly_counts(engine(url), since, centers)
        local = q.local_hours(counts[UNIQUE_ID], counts["hour_utc"], tz, dict(zone_map))
        return pd.DataFrame({UNIQUE_ID: counts[UNIQUE_ID], DS: local, Y: counts[Y]})

    empty = pd.DataFrame(
        {UNIQUE_ID: pd.Series(dtype=str), DS: pd.Series(dtype="datetime64[ns]"), Y: pd.Series(dtype=float)}
    )
    return _when_tables(url, ("center_hourly",), read, empty)


def hourly_local(url: str, tz: str, days_back: int, center: str | None = None) -> pd.DataFrame:
    """Orders per center (or of ``center``) per local hour from each center's midnight
    ``days_back`` days ago (0: today so far), in the center's own zone."""
    zone_map = zones(url, tz)
    if center is not None:
        zone_map = tuple((c, z) for c, z in zone_map if c == center)
    starts = {z: local_today(z, url) - pd.Timedelta(days=days_back) for z in {tz, *dict(zone_map).values()}}
    since = min(_utc_of_local(start, z) for z, start in starts.items())
    hourly = hourly_since(url, tz, since, zone_map, None if center is None else (center,))
    if hourly.empty:
        return hourly
    first_of_zone = {c: starts[z] for c, z in zone_map}
    first = hourly[UNIQUE_ID].map(first_of_zone).fillna(starts[tz])
    return hourly[hourly[DS] >= first].reset_index(drop=True)


@st.cache_data(ttl=PROFILE_TTL_S, show_spinner=False)
def hour_profiles(url: str, tz: str, days: int, key: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Each center's typical share of a day's orders per local hour over the ``days`` days
    before its today (:func:`fcplan.dashboard.summaries.hour_shares`); ``key``: ``(zone, today)``
    pairs, so a new local day reads it again, else once per :data:`PROFILE_TTL_S`."""
    hourly = hourly_local(url, tz, days)
    zone_map = dict(zones(url, tz))
    today_of = dict(key)
    today = {c: pd.Timestamp(today_of[zone_map.get(c, tz)]) for c in hourly[UNIQUE_ID].unique()}
    return summaries.hour_shares(hourly, today, days)


def profile_key(url: str, tz: str) -> tuple[tuple[str, str], ...]:
    """``(zone, local today)`` of every zone in use: the cache key of :func:`hour_profiles`."""
    names = sorted({tz, *dict(zones(url, tz)).values()})
    return tuple((z, str(local_today(z, url).date())) for z in names)


def daily_history(url: str, tz: str, days: int = HISTORY_DAYS, center: str | None = None) -> pd.DataFrame:
    """Orders per center (or of ``center``) per local day for the last ``days`` days, today
    included (partial)."""
    hourly = hourly_local(url, tz, days, center)
    if hourly.empty:
        return hourly
    hourly = hourly.assign(**{DS: hourly[DS].dt.normalize()})
    return hourly.groupby([UNIQUE_ID, DS], as_index=False)[Y].sum()


def today_hourly(url: str, tz: str) -> pd.DataFrame:
    return hourly_local(url, tz, 0)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_forecast(url: str) -> tuple[dict | None, pd.DataFrame]:
    """The newest forecast run and its forecast frame (``None`` and empty before the first)."""

    def read() -> tuple[dict | None, pd.DataFrame]:
        run = q.current_forecast_run(engine(url), _simulated_now(url))
        if run is None:
            return None, pd.DataFrame()
        return run, q.forecast_frame(engine(url), run["run_id"])

    return _when_tables(url, ("forecast_runs", "forecasts"), read, (None, pd.DataFrame()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def forecast_of_run(url: str, run_id: str) -> pd.DataFrame:
    """The forecast frame of run ``run_id`` (empty when its rows are gone)."""
    return _when_tables(url, ("forecasts",), lambda: q.forecast_frame(engine(url), run_id), pd.DataFrame())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def leaderboard(url: str, run_id: str) -> pd.DataFrame:
    return _when_tables(
        url, ("leaderboard",), lambda: q.leaderboard_frame(engine(url), run_id), pd.DataFrame()
    )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_plan(url: str) -> tuple[dict | None, pd.DataFrame]:
    """The newest plan run and its rows ``center_id, day (datetime64), shift, ..., packers``."""

    def read() -> tuple[dict | None, pd.DataFrame]:
        run = q.latest_plan_run(engine(url), _simulated_now(url))
        if run is None:
            return None, pd.DataFrame()
        frame = q.plan_frame(engine(url), run["plan_id"])
        if not frame.empty:
            frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
            frame["center_id"] = frame["center_id"].astype(str)
        return run, frame

    return _when_tables(url, ("plan_runs", "staffing_plans"), read, (None, pd.DataFrame()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def promo_effects(url: str, run_id: str) -> pd.DataFrame:
    """``unique_id, effect_per_pct, promo_days`` the retrainer estimated with forecast run ``run_id``."""
    return _when_tables(
        url, ("promo_effects",), lambda: q.promo_effects(engine(url), run_id), pd.DataFrame()
    )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def promo_kind_effects(url: str, run_id: str) -> pd.DataFrame:
    """``unique_id, kind, effect_per_pct, pooled_effect_per_pct, promo_days`` of forecast run ``run_id``."""
    return _when_tables(
        url, ("promo_kind_effects",), lambda: q.promo_kind_effects(engine(url), run_id), pd.DataFrame()
    )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def stream_metrics(url: str) -> pd.DataFrame:
    return _when_tables(url, ("stream_metrics",), lambda: q.metrics_frame(engine(url)), pd.DataFrame())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def decisions(url: str, limit: int = 30) -> pd.DataFrame:
    return _when_tables(url, ("model_decisions",), lambda: q.decisions_frame(engine(url), limit), pd.DataFrame())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerts(url: str, limit: int = 50) -> pd.DataFrame:
    return _when_tables(url, ("forecast_alerts",), lambda: q.alerts_frame(engine(url), limit), pd.DataFrame())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def promotions(url: str) -> pd.DataFrame:
    return _when_tables(url, ("promotions",), lambda: q.promotion_calendar(engine(url)), pd.DataFrame())


def promotions_for(url: str, tz: str, center: str) -> pd.DataFrame:
    """Active promotions touching ``center``, as ``promo_id, kind, discount_pct, start, end`` (local)."""
    promos = promotions(url)
    if promos.empty:
        return promos
    promos = promos[promos["status"] != CANCELLED]
    # center_ids null (or not a list) means every center.
    applies = promos["center_ids"].map(lambda ids: not isinstance(ids, list | tuple) or center in ids)
    promos = promos[applies.astype(bool)].copy()
    for col in ("start", "end"):
        promos[col] = promos[col].dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    return promos[["promo_id", "kind", "discount_pct", "start", "end"]]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _center_ids(url: str) -> list[str]:
    return _when_tables(url, ("center_hourly",), lambda: rq.center_ids(engine(url)), [])


def centers(url: str, tz: str) -> list[str]:
    """Every center with orders, a forecast or a plan, sorted."""
    found: set[str] = set(_center_ids(url))
    _, forecast = latest_forecast(url)
    if not forecast.empty:
        found |= set(forecast[UNIQUE_ID].astype(str))
    _, plan = latest_plan(url)
    if not plan.empty:
        found |= set(plan["center_id"])
    return sorted(found)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def newest_forecast(url: str) -> tuple[dict | None, pd.DataFrame]:
    """The newest forecast run, champion or not, and its frame (the champion's when it is the newest)."""

    def read() -> tuple[dict | None, pd.DataFrame]:
        run = q.latest_forecast_run(engine(url), _simulated_now(url))
        current, frame = latest_forecast(url)
        if run is None or (current is not None and current["run_id"] == run["run_id"]):
            return current, frame
        return run, q.forecast_frame(engine(url), run["run_id"])

    return _when_tables(url, ("forecast_runs", "forecasts"), read, (None, pd.DataFrame()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def runs(url: str, limit: int = 400) -> pd.DataFrame:
    """The newest forecast runs, newest first (``run_id, created_at, data_end, status, ...``): under
    the loop's simulated clock, that clock's runs, newest data first."""
    return _when_tables(url, ("forecast_runs",), lambda: rq.runs_frame(engine(url), limit, _simulated_now(url)),
                        pd.DataFrame(columns=rq.RUN_COLUMNS))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def leaderboard_history(url: str, run_ids: tuple[str, ...]) -> pd.DataFrame:
    return _when_tables(url, ("leaderboard",), lambda: rq.leaderboard_history(engine(url), run_ids), pd.DataFrame())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def issued_forecasts(
    url: str, center: str, since: pd.Timestamp, until: pd.Timestamp, levels: tuple[float, ...]
) -> pd.DataFrame:
    """The day-ahead forecast issued for each of ``center``'s days in ``[since, until)``."""
    return _when_tables(
        url,
        ("forecast_runs", "forecasts"),
        lambda: rq.issued_forecasts(engine(url), center, since.date(), until.date(), levels),
        pd.DataFrame(),
    )
