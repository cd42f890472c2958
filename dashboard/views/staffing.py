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
        st.subheader("Packers per day and shift" + ("" if center is None else f" · {center}"))
        if center is None:
            st.dataframe(day_by_center(scope), width="stretch")
        else:
            st.dataframe(day_by_shift(scope, order), width="stretch")
        st.altair_chart(charts.staffing_bars(scope[["day", "shift", "packers"]], order), width="stretch")
        with st.expander("Orders and packer hours behind the plan"):
            detail = scope.assign(day=scope["day"].dt.strftime("%Y-%m-%d")).round(1)
            st.dataframe(detail, hide_index=True, width="stretch")
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
