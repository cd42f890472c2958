"""Staffing plan page: packers per day and shift, totals, parameters, CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.panel import UNIQUE_ID
from fcplan.dashboard import charts, data, summaries
from fcplan.dashboard.views.common import (
    WAITING_PLAN,
    csv_button,
    headcount_tiles,
    local_text,
    selected_center,
    service_text,
    shift_hours,
    shift_order,
    stored_config,
    table_height,
)

ALL = "All centers"


def day_by_shift(plan: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Packers: one row per day, one column per shift, then the day's total."""
    table = plan.pivot_table(index="day", columns="shift", values="packers", aggfunc="sum", fill_value=0)
    table = table[[s for s in order if s in table.columns]]
    table["total"] = table.sum(axis=1)
    table.index = table.index.strftime("%a %Y-%m-%d")
    table.columns.name = None
    return table


def day_by_center(plan: pd.DataFrame) -> pd.DataFrame:
    """Packers: one row per day, one column per center, then the day's total. A day outside a
    center's plan is missing, not 0 (a Sydney center plans from its own today, a day ahead of
    Seoul's: its Monday read "0" packers, as if it were closed)."""
    table = plan.pivot_table(index="day", columns="center_id", values="packers", aggfunc="sum").astype("Int64")
    table["total"] = table.sum(axis=1)
    table.index = table.index.strftime("%a %Y-%m-%d")
    table.columns.name = None
    return table


#: Help on the headers whose meaning is not plain from the words.
DETAIL_HELP = {
    "orders planned": ("the orders the shift is staffed for: the forecast at the service level, not the median; "
                       "the first shift after closed days also packs the orders placed on them"),
    "work (packer-hours)": "packer-hours of work the planned orders take (before breaks and shrinkage)",
    "packers needed (before the cap)": "packers the orders need before the center's most packers per shift cut it",
    "morning from next day's forecast": "an overnight shift's hours after midnight, from the next day's forecast",
}


#: The actions that ask a manager to do something (``planner.intraday``: "call in 3", "release 2").
CALL_IN, RELEASE = "call in", "release"


#: A plan stored before the planner kept its changes (no ``action``): said without the store's words.
NO_CHANGES = ("No call-in / release list for this plan: it was made without comparing it to the plan in "
              "force before it. Book the packers per shift in the table below.")


def changes_due(plan: pd.DataFrame, today: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """The shifts of each center's today and tomorrow (``today``: its local midnight) whose packers
    changed from the plan in force (``action`` "call in N" / "release N"), soonest first; empty
    when the plan stores no change (plans stored before it was kept)."""
    columns = ["center", "day", "shift", "starts", "booked before", "packers now", "action"]
    if "action" not in plan or plan["action"].isna().all():
        return pd.DataFrame(columns=columns)
    first = plan["center_id"].map(today)
    due = plan[(plan["day"] >= first) & (plan["day"] <= first + pd.Timedelta(days=1))]
    due = due[due["action"].astype(str).str.startswith((CALL_IN, RELEASE))]
    starts = pd.to_datetime(due["starts_at"]) if "starts_at" in due else pd.Series(pd.NaT, index=due.index)
    due = due.assign(_start=starts.fillna(due["day"])).sort_values(["_start", "center_id"])
    return pd.DataFrame({
        "center": due["center_id"],
        "day": due["day"].dt.strftime("%a %d %b"),
        "shift": due["shift"],
        "starts": due["_start"].dt.strftime("%a %H:%M"),
        "booked before": due["packers_before"].astype("Int64"),
        "packers now": due["packers"].astype("Int64"),
        "action": due["action"],
    }).reset_index(drop=True)


def _changes(plan: pd.DataFrame, center: str | None) -> None:
    """Who to call in or release today and tomorrow, against the plan in force before this one."""
    cfg = data.config()
    centers = sorted(plan["center_id"].unique())
    today = {c: data.local_today(data.zone_of(cfg.url, cfg.timezone, c), cfg.url) for c in centers}
    due = changes_due(plan, today)
    scope = "" if center is None else f" · {center}"
    st.subheader(f"Call in / release, today and tomorrow{scope}")
    if "action" not in plan or plan["action"].isna().all():
        st.caption(NO_CHANGES)
    elif due.empty:
        st.success("No change to the shifts not yet started: the packers booked stay as they are.",
                   icon=":material/check:")
    else:
        st.dataframe(due, hide_index=True, width="stretch", placeholder="—", height=table_height(len(due)))
        calls, releases = (int(due["action"].str.startswith(a).sum()) for a in (CALL_IN, RELEASE))
        st.caption(f"{calls} shift(s) to call packers in, {releases} to release (each center's local day and "
                   "shift start; shifts already running or over are kept as booked).")


def center_parameters(run: dict, centers: list[str]) -> pd.DataFrame:
    """One row per center whose configuration the plan stored (the crew planner's inputs:
    service level, productivity, shrinkage, packer bounds, shifts); empty for a plan that stored none."""
    rows = []
    for c in centers:
        cfg = stored_config(run, c)
        if cfg is None:
            continue
        rows.append({
            "center": c,
            "service level": f"{cfg.service_quantile:.0%}",
            "orders per packer hour": cfg.orders_per_packer_hour,
            "shrinkage": cfg.shrinkage,
            "packers per shift": f"{cfg.min_packers}–{cfg.max_packers or '∞'}",
            "shifts": ", ".join(
                f"{sh.name} {sh.start}-{sh.end} ({sh.paid:g} h paid, {sh.break_minutes:g} min break"
                + (f", {sh.orders_per_packer_hour:g} orders/h)" if sh.orders_per_packer_hour else ")")
                for sh in cfg.shifts),
            "closed": ", ".join([*cfg.closed_weekdays, *(["holidays"] if cfg.closed_on_holidays else [])]) or "—",
        })
    return pd.DataFrame(rows)


def _parameters(run: dict, centers: list[str]) -> None:
    params = dict(run.get("params") or {})
    shifts = params.pop("shifts", None)
    params.pop("centers", None)
    per_center = center_parameters(run, centers)
    tau = service_text(run, centers)
    if len(per_center):
        # The crew planner (planner.crews.plan_crews): each center's own stored configuration.
        st.markdown(
            f"**Service level {tau}**: each shift is staffed for that quantile of forecast demand (the "
            "center's service_level, else the newsvendor critical ratio cost_short / (cost_short + cost_idle)); "
            "packers = the floor or the ceiling of orders / orders per packer hour / ((paid hours − break) × "
            "(1 − shrinkage)), whichever has the lower expected cost, within the packers per shift."
        )
        st.dataframe(per_center, hide_index=True, width="stretch")
        return
    st.markdown(
        f"**Service level {tau}**: each shift is staffed for the {tau} quantile of forecast demand "
        f"(the newsvendor critical ratio cost_short / (cost_short + cost_idle)); packers = "
        "ceil(orders × minutes per order / 60 / (shift hours × (1 − shrinkage)))."
    )
    if shifts:
        params["shifts"] = ", ".join(map(str, shifts))
    if params:
        frame = pd.DataFrame({"parameter": list(params), "value": [str(v) for v in params.values()]})
        st.dataframe(frame, hide_index=True, width="content")


@st.fragment(run_every=data.REFRESH_S)
def live_plan(center: str | None) -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        run, plan = data.latest_plan(cfg.url)
        if run is None or plan.empty:
            st.info(WAITING_PLAN)
            return
        scope = plan if center is None else plan[plan["center_id"] == center]
        if scope.empty:
            st.warning(f"The latest plan has no rows for {center}.")
            return
        order = shift_order(run, plan)
        _changes(scope, center)
        st.subheader("Packers per day and shift" + ("" if center is None else f" · {center}"))
        # From each center's today on: a plan made from an older forecast also holds days past.
        ahead = summaries.from_today(scope, {
            c: data.local_today(data.zone_of(cfg.url, cfg.timezone, c), cfg.url) for c in scope["center_id"].unique()})
        if ahead.empty:
            st.warning(f"The latest plan (`{run['plan_id']}`) ends before today: no shifts to book.")
            ahead = scope
        if center is None:
            table = day_by_center(ahead)
        else:  # each shift's column with its local hours ("day" alone read like the row's day)
            hours = shift_hours(run, center)
            table = day_by_shift(ahead, order).rename(columns={s: f"{s} {h}" for s, h in hours.items()})
        st.dataframe(table, width="stretch", height=table_height(len(table)), placeholder="—")
        if center is not None:
            st.caption(f"Packers booked per shift, shift hours in {data.zone_of(cfg.url, cfg.timezone, center)} "
                       "local time.")
        elif table.isna().to_numpy().any():
            st.caption("Each center's own days: — where a center's plan does not cover the day (it starts at "
                       "the center's local today).")
        st.altair_chart(charts.staffing_bars(ahead[["day", "shift", "packers"]], order), width="stretch")
        with st.expander("Orders and packer hours behind the plan"):
            detail = summaries.plan_detail(scope, order)
            st.dataframe(detail, hide_index=True, width="stretch", placeholder="—", column_config={
                h: st.column_config.Column(help=text) for h, text in DETAIL_HELP.items() if h in detail})
        cols = st.columns(2)
        with cols[0]:
            csv_button("Download the plan (CSV)", scope, f"staffing_plan_{run['plan_id']}_{center or 'all'}.csv")
        forecast_run, forecast = data.latest_forecast(cfg.url)
        if forecast_run is not None and not forecast.empty:
            rows = forecast if center is None else forecast[forecast[UNIQUE_ID] == center]
            with cols[1]:
                csv_button(
                    "Download the forecasts (CSV)",
                    rows,
                    f"forecast_{forecast_run['run_id']}_{center or 'all'}.csv",
                    key="forecast_csv",
                )
        st.caption(
            f"Plan `{run['plan_id']}` made {local_text(run['created_at'], cfg.timezone)} "
            f"from forecast run `{run['forecast_run_id']}`"
        )
        with st.expander("Parameters used", expanded=False):
            _parameters(run, sorted(scope["center_id"].unique()))


def page() -> None:
    center = selected_center()
    st.header("Staffing plan")
    choice = st.radio(
        "Show",
        [center or ALL, ALL] if center else [ALL],
        horizontal=True,
        label_visibility="collapsed",
        key="staffing_scope",
    )
    scope = None if choice == ALL else center
    cfg = data.config()
    with data.database_errors(cfg.url):
        headcount_tiles(scope)
    live_plan(scope)


page()
