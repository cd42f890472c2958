"""Staffing plan page: packers per day and shift, totals, parameters, CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.panel import UNIQUE_ID
from fcplan.dashboard import charts, data
from fcplan.dashboard.views.common import (
    WAITING_PLAN,
    csv_button,
    headcount_tiles,
    local_text,
    selected_center,
    shift_order,
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
    table = plan.pivot_table(index="day", columns="center_id", values="packers", aggfunc="sum", fill_value=0)
    table["total"] = table.sum(axis=1)
    table.index = table.index.strftime("%a %Y-%m-%d")
    table.columns.name = None
    return table


#: The actions that ask a manager to do something (``planner.intraday``: "call in 3", "release 2").
CALL_IN, RELEASE = "call in", "release"


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
        st.caption("This plan stores no change against the plan in force before it.")
    elif due.empty:
        st.success("No change to the shifts not yet started: the packers booked stay as they are.",
                   icon=":material/check:")
    else:
        st.dataframe(due, hide_index=True, width="stretch", placeholder="—")
        calls, releases = (int(due["action"].str.startswith(a).sum()) for a in (CALL_IN, RELEASE))
        st.caption(f"{calls} shift(s) to call packers in, {releases} to release (each center's local day and "
                   "shift start; shifts already running or over are kept as booked).")


def _parameters(run: dict) -> None:
    params = dict(run.get("params") or {})
    shifts = params.pop("shifts", None)
    tau = run["service_quantile"]
    st.markdown(
        f"**Service level {tau:.0%}**: each shift is staffed for the {tau:.0%} quantile of forecast demand "
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
        if center is None:
            st.dataframe(day_by_center(scope), width="stretch")
        else:
            st.dataframe(day_by_shift(scope, order), width="stretch")
        st.altair_chart(charts.staffing_bars(scope[["day", "shift", "packers"]], order), width="stretch")
        with st.expander("Orders and packer hours behind the plan"):
            detail = scope.assign(day=scope["day"].dt.strftime("%Y-%m-%d"))
            if "starts_at" in detail:
                detail["starts_at"] = pd.to_datetime(detail["starts_at"]).dt.strftime("%a %d %b %H:%M")
            detail = detail.round({c: 1 for c in detail.select_dtypes("number").columns})
            st.dataframe(detail, hide_index=True, width="stretch", placeholder="—")
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
            _parameters(run)


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
