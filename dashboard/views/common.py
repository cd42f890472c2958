"""Pieces several pages share: the selected center, headcount tiles, waiting messages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.panel import DS, MODEL, UNIQUE_ID, PanelError, select_model
from fcplan.dashboard import data, summaries
from fcplan.planner.centers import CenterConfig
from fcplan.planner.shifts import parse_shifts

CENTER_KEY = "center"
#: A center to open on the Center page (set by the Network page's row selection; read by app.py).
GOTO_CENTER_KEY = "goto_center"
#: The Center page, for links from other pages (relative to ``dashboard/app.py``).
CENTER_PAGE = "views/center.py"
#: ``forecast_alerts.status`` of an alert still open (the hourly drift monitor's lifecycle).
OPEN_STATUS = "open"
#: The Alerts page, for links from other pages (relative to ``dashboard/app.py``).
ALERTS_PAGE = "views/alerts.py"
#: The service level tile's help: what the percentage means for the packers booked, then how it is set.
SERVICE_HELP = (
    "Each shift is booked for the orders the forecast stays below this share of the time: the packers "
    "booked are enough on about that share of days, and short on the rest. Set by the center's service_level, "
    "else cost_short / (cost_short + cost_idle); a range when the centers differ."
)
WAITING_FORECAST = (
    "Waiting for the first forecast… the retrainer writes one once a few days of orders are in."
)
WAITING_PLAN = "Waiting for the first staffing plan… it is made right after each forecast (`fcplan plan`)."
WAITING_ORDERS = "Waiting for orders… start the worker and the order stream (`fcplan demo`)."


#: Streamlit's table rows (and header) are 35 px high, plus a 1 px border above and below.
ROW_PX, TABLE_BORDER_PX = 35, 3
#: A table with more rows than this scrolls inside its box (a 45-row table would push the chart
#: out of sight); up to it, every row shows.
MOST_ROWS = 30


def table_height(rows: int, most: int = MOST_ROWS) -> int:
    """The pixel height of a table that shows its header and ``rows`` rows (at most ``most``)
    without an inner scroll: Streamlit's default box shows 10 and scrolls the rest."""
    return (min(max(rows, 1), most) + 1) * ROW_PX + TABLE_BORDER_PX


def selected_center() -> str | None:
    return st.session_state.get(CENTER_KEY)


def center_header(title: str) -> str | None:
    """The page's header for the selected center; None (and a waiting note) before there is one."""
    center = selected_center()
    st.header(f"{title} · {center}" if center else title)
    if center is None:
        st.info(WAITING_ORDERS)
    return center


def shift_order(plan_run: dict | None, plan: pd.DataFrame) -> list[str]:
    """Shift names in the order of the plan's settings (``day:6-14`` -> ``day``), else as stored."""
    names = [str(s).split(":")[0] for s in ((plan_run or {}).get("params") or {}).get("shifts", [])]
    seen = list(dict.fromkeys(plan["shift"])) if "shift" in plan else []
    return [n for n in names if n in seen] + [n for n in seen if n not in names]


def stored_config(plan_run: dict | None, center: str) -> CenterConfig | None:
    """``center``'s configuration as the plan run stored it (its shifts, breaks, productivity,
    service level, min/max packers, closed days); None for a plan that stored none, or only
    part of one. The Staffing, What-if pages and the service level tiles read it."""
    conf = (((plan_run or {}).get("params") or {}).get("centers") or {}).get(center)
    if not conf:
        return None
    try:
        return CenterConfig.model_validate(conf)
    except (ValueError, TypeError):
        return None


def _stored_shifts(plan_run: dict | None, center: str) -> list:
    """``center``'s shifts (:class:`fcplan.planner.shifts.Shift`) as the plan stored them: the
    center's own configuration, else the run's shifts; empty when neither reads."""
    conf = stored_config(plan_run, center)
    try:
        return [s.shift for s in conf.shifts] if conf is not None else list(
            parse_shifts(((plan_run or {}).get("params") or {}).get("shifts") or []))
    except (ValueError, TypeError):  # ShiftError is a ValueError
        return []


def shift_starts(plan_run: dict | None, center: str) -> dict[str, int]:
    """``{"day": 6, ...}``: each shift's local start hour at ``center`` as the plan stored it."""
    return {s.name: s.start_hour for s in _stored_shifts(plan_run, center)}


def shift_hours(plan_run: dict | None, center: str) -> dict[str, str]:
    """``{"day": "06:00–14:00", ...}``: each shift's local hours at ``center`` as the plan stored
    them (the center's own configuration, else the run's shifts); empty when neither reads. The
    tables named a shift only ("day", "swing"): a manager booking packers needs its hours."""
    shifts = _stored_shifts(plan_run, center)
    # end_hour is 0-24: a whole-day shift (0-24) ends at "24:00" (it read "00:00–00:00").
    return {s.name: f"{s.start_hour:02d}:00–{s.end_hour:02d}:00" for s in shifts}


def shift_hours_text(plan_run: dict | None, center: str, order: list[str]) -> str:
    """``day 06:00–14:00 · swing 14:00–22:00 · ...`` in ``order`` (empty when the plan stored no hours)."""
    hours = shift_hours(plan_run, center)
    return " · ".join(f"{name} {hours[name]}" for name in order if name in hours)


def service_quantile(plan_run: dict | None, center: str) -> float:
    """The demand quantile the plan staffed ``center`` at: its own (a centers file's
    ``service_level`` or costs, as the planner stored its configuration), else the run's."""
    conf = stored_config(plan_run, center)
    return conf.service_quantile if conf is not None else float((plan_run or {}).get("service_quantile") or 0.5)


def service_text(plan_run: dict | None, centers: list[str]) -> str:
    """The service level of ``centers`` as a percentage; a range when the centers differ."""
    levels = sorted({round(service_quantile(plan_run, c), 4) for c in centers}) or [
        float((plan_run or {}).get("service_quantile") or 0.5)]
    return f"{levels[0]:.0%}" if len(levels) == 1 else f"{levels[0]:.0%}–{levels[-1]:.0%}"


def _on_days(plan: pd.DataFrame, days: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """The plan rows of each center in ``days`` on its day there (each center's own local day)."""
    return plan[plan["day"] == plan["center_id"].map(days)]


def packers_on(plan: pd.DataFrame, days: dict[str, pd.Timestamp]) -> int | None:
    """Total packers booked over the centers of ``days``, each on its day; None if the plan has no such rows."""
    rows = _on_days(plan, days)
    return int(rows["packers"].sum()) if len(rows) else None


def _by_shift(plan: pd.DataFrame, days: dict[str, pd.Timestamp], order: list[str]) -> str:
    totals = _on_days(plan, days).groupby("shift")["packers"].sum()
    return " · ".join(f"{s} {int(totals[s])}" for s in order if s in totals)


def _days_text(days: dict[str, pd.Timestamp]) -> str:
    """``Mon 07 Dec``, or each center's local day when the centers' zones are on different dates."""
    dates = sorted(set(days.values()))
    if len(dates) == 1:
        return f"{dates[0]:%a %d %b}"
    groups = {d: [c for c, cd in sorted(days.items()) if cd == d] for d in dates}
    return "each center's own day: " + ", ".join(
        f"{d:%a %d %b} ({', '.join(cs) if len(cs) <= 3 else f'{len(cs)} centers'})" for d, cs in groups.items())


def headcount_tiles(center: str | None) -> None:
    """Packers today and tomorrow (per shift in the tile's caption) for ``center`` (None: all
    centers, each on its own local today and tomorrow).

    Nothing before the first plan: the pages that draw the tiles say they wait for it below."""
    cfg = data.config()
    run, plan = data.latest_plan(cfg.url)
    if run is None or plan.empty:
        return
    who = [center] if center else sorted(plan["center_id"].unique())
    today = {c: center_today(c) for c in who}
    stale_forecast_warning(min(today.values()))
    order = shift_order(run, plan)
    cols = st.columns(3)
    for col, label, shift in ((cols[0], "today", 0), (cols[1], "tomorrow", 1)):
        days = {c: d + pd.Timedelta(days=shift) for c, d in today.items()}
        value = packers_on(plan, days)
        col.metric(
            f"Packers {label} · {center or 'all centers'}",
            "not planned" if value is None else f"{value}",
            help=f"{_days_text(days)}: {_by_shift(plan, days, order) or 'no plan rows'}",
            border=True,
        )
        if value is not None:
            col.caption(f"{_days_text(days)} — {_by_shift(plan, days, order)}")
    cols[2].metric(
        "Service level",
        service_text(run, who),
        help=SERVICE_HELP,
        border=True,
    )
    cols[2].caption(f"plan made {local_text(run['created_at'], zone(center) if center else cfg.timezone)}")


def stale_forecast_warning(today: pd.Timestamp) -> None:
    """A warning above the numbers when the forecast in use is days old (see
    :func:`fcplan.dashboard.summaries.stale_forecast_text`)."""
    run, _ = data.latest_forecast(data.config().url)
    said = summaries.stale_forecast_text(run, today)
    if said:
        st.warning(said, icon=":material/history:")


def local_text(ts: object, tz: str) -> str:
    """A naive-UTC database time as readable local time."""
    local = data.to_local(ts, tz)
    return "—" if local is None else f"{local:%a %d %b %H:%M} ({tz})"


def one_model(forecast: pd.DataFrame) -> pd.DataFrame:
    """The rows of one model: the ensemble when there are several (else the first by name)."""
    try:
        return select_model(forecast)
    except PanelError:
        return forecast[forecast[MODEL] == sorted(forecast[MODEL].unique())[0]]


def center_rows(forecast: pd.DataFrame, center: str) -> pd.DataFrame:
    """The center's rows of one model (see :func:`one_model`)."""
    return one_model(forecast[forecast[UNIQUE_ID] == center])


def zone(center: str) -> str:
    """The center's IANA zone (see :func:`fcplan.dashboard.data.zone_of`)."""
    cfg = data.config()
    return data.zone_of(cfg.url, cfg.timezone, center)


def center_today(center: str) -> pd.Timestamp:
    """Midnight of the center's current local day."""
    return data.local_today(zone(center), data.config().url)


def plan_per_day(plan: pd.DataFrame) -> pd.DataFrame:
    """``unique_id, ds, packers, orders_planned``: the plan summed over shifts."""
    cols = ["packers", "orders_planned"]
    if plan.empty:
        return pd.DataFrame(columns=[UNIQUE_ID, DS, *cols])
    per_day = plan.groupby(["center_id", "day"], as_index=False)[cols].sum()
    return per_day.rename(columns={"center_id": UNIQUE_ID, "day": DS})


def open_alert_counts(alerts: pd.DataFrame) -> dict[str, int]:
    """Open alerts (the hourly monitor's lifecycle) per center."""
    if alerts.empty or "status" not in alerts:
        return {}
    return alerts[alerts["status"] == OPEN_STATUS].groupby("center_id").size().astype(int).to_dict()


def csv_button(label: str, frame: pd.DataFrame, file_name: str, key: str | None = None) -> None:
    """A CSV download of ``frame`` (days written as dates)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    st.download_button(
        label, out.to_csv(index=False).encode(), file_name=file_name, mime="text/csv", on_click="ignore", key=key
    )
