"""Network page, the landing page: every center's today and tomorrow on one screen.

Per center, in its own zone: orders so far against the forecast's pace, the forecast
and the planned packers for today and tomorrow, whether the plan still covers the
newest forecast at its service level (the newest forecast against the one the plan was
made from, day for day, at that level), and the open drift alerts. Selecting a center's row
opens its Center page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.dashboard import data, summaries
from fcplan.dashboard.views.common import (
    CENTER_PAGE,
    GOTO_CENTER_KEY,
    WAITING_FORECAST,
    WAITING_ORDERS,
    WAITING_PLAN,
    local_text,
    one_model,
    open_alert_counts,
    plan_per_day,
    service_quantile,
    shift_starts,
    stored_config,
)
from fcplan.planner.crews import carried_days

_STAFFING_HELP = (
    "the day's packers scaled by the newest forecast against the forecast the plan was made from, both at the "
    f"plan's service level (within ±{summaries.TOLERANCE:.0%}: ok); under +3: understaffed, 3 packers to add; "
    "over -2: overstaffed, 2 to release"
)
#: The table's columns, left to right (the expected orders so far are in the pace's help, not a
#: column: every column must fit a 1280 px wide screen with the sidebar open).
SHOWN = ["center", "local time", "open alerts", "orders so far", "pace", "forecast today", "packers today",
         "staffing today", "forecast tomorrow", "packers tomorrow", "staffing tomorrow"]
#: The network table's row selection (a widget key).
PICK_KEY = "network_pick"
_COLORS = {"under": "background-color: #f8d7da", "over": "background-color: #fff3cd"}


def _forecast_of_plan(
    url: str, plan_run: dict | None, *read: tuple[dict | None, pd.DataFrame]
) -> pd.DataFrame:
    """The forecast frame the plan was made from (its ``forecast_run_id``): one of the runs already
    ``read`` when it is one of them, else read; empty without a plan."""
    made_from = (plan_run or {}).get("forecast_run_id")
    if not made_from:
        return pd.DataFrame()
    for run, frame in read:
        if run is not None and run.get("run_id") == made_from:
            return frame
    return data.forecast_of_run(url, str(made_from))


def _staffing_caption(plan: dict | None, newest: dict | None, plan_forecast_gone: bool) -> str:
    """The caption's part on what the staffing status compares (and why it is blank when it is)."""
    if plan and plan_forecast_gone:
        return (f" · staffing: the plan's forecast `{plan['forecast_run_id']}` is no longer stored, so no status "
                "(—); make a new plan (`fcplan plan`) to compare it with the newest forecast")
    if newest and plan:
        return f" · staffing: newest forecast `{newest['run_id']}` against the plan's, day for day"
    return f" · newest forecast `{newest['run_id']}`" if newest else " · no forecast yet"


def _carried(plan_run: dict | None, centers: list[str], now: dict) -> dict:
    """Per (center, today or tomorrow): the closed days before it whose orders its first shift packs,
    with their shares, from the center's configuration as the plan stored it (none without one)."""
    out = {}
    for c in centers:
        conf = stored_config(plan_run, c)
        if conf is None:
            continue
        for day in (now[c].normalize(), now[c].normalize() + pd.Timedelta(days=1)):
            out[(c, day)] = carried_days(conf, day)
    return out


def network_frame(centers: list[str]) -> tuple[pd.DataFrame, dict | None]:
    """The network table of :func:`fcplan.dashboard.summaries.network_table` from the database."""
    cfg = data.config()
    zone = {c: data.zone_of(cfg.url, cfg.timezone, c) for c in centers}
    now = {c: data.local_now(zone[c], cfg.url) for c in centers}
    shares = data.hour_profiles(cfg.url, cfg.timezone, summaries.PROFILE_DAYS, data.profile_key(cfg.url, cfg.timezone))
    hourly_today = data.hourly_local(cfg.url, cfg.timezone, 0)
    run, forecast = data.latest_forecast(cfg.url)
    newest_run, newest = data.newest_forecast(cfg.url)
    plan_run, plan = data.latest_plan(cfg.url)
    made_from = _forecast_of_plan(cfg.url, plan_run, (run, forecast), (newest_run, newest))
    table = summaries.network_table(
        centers,
        zone,
        now,
        one_model(forecast) if not forecast.empty else pd.DataFrame(columns=[UNIQUE_ID, DS]),
        one_model(newest) if not newest.empty else pd.DataFrame(columns=[UNIQUE_ID, DS]),
        plan_per_day(plan),
        {c: service_quantile(plan_run, c) for c in centers} if plan_run else 0.5,
        hourly_today,
        shares,
        open_alert_counts(data.alerts(cfg.url, 1000)),
        planned_from=one_model(made_from) if not made_from.empty else pd.DataFrame(columns=[UNIQUE_ID, DS]),
        carried=_carried(plan_run, centers, now),
    )
    # The plan's own forecast is gone (compacted away, or a plan that names none): no status to give.
    gone = plan_run is not None and made_from.empty
    return table, {"forecast": run, "newest": newest_run, "plan": plan_run, "plan_forecast_gone": gone}


def _tiles(table: pd.DataFrame) -> None:
    cols = st.columns(5)
    cols[0].metric("Centers", len(table), border=True)
    so_far = table["orders so far"].sum()
    # The pace of the centers with an expectation only (one without a forecast would count its
    # orders against nothing and inflate it), once it is more than noise.
    rows = table[table["expected so far"].notna()]
    paced, expected = rows["orders so far"].sum(), rows["expected so far"].sum()
    pace = f"pace {paced / expected - 1:+.0%}" if expected >= summaries.MIN_PACE_ORDERS else None
    cols[1].metric("Orders so far today", f"{so_far:,.0f}", delta=pace, delta_color="off", delta_arrow="off",
                   border=True)
    for col, day, short in ((cols[2], "today", "today"), (cols[3], "tomorrow", "tmrw")):  # tiles fit at 1280 px
        status = table[f"staffing {day}"].str.split(" ").str[0]
        under, over = int((status == summaries.UNDER).sum()), int((status == summaries.OVER).sum())
        if not status.isin([summaries.UNDER, summaries.OVER, summaries.OK]).any():
            # No center has a plan (or a forecast) for the day: "0 understaffed" read as all staffed.
            # No help icon: it cut the label to "Understaffed t…" at 1280 px; the note below says why.
            col.metric(f"Understaffed {short}", "—", delta="not planned yet", delta_color="off",
                       delta_arrow="off", border=True)
            continue
        col.metric(f"Understaffed {short}", under, delta=f"{over} overstaffed", delta_color="off",
                   delta_arrow="off", border=True)
    cols[4].metric("Open alerts", int(table["open alerts"].sum()), border=True)


def _next_shifts(centers: list[str], plan_run: dict) -> None:
    """One line: each center's next shift to start and the packers booked for it (the morning
    question "whom do I book now?" asked the Staffing page once per center)."""
    cfg = data.config()
    _, plan = data.latest_plan(cfg.url)
    now = {c: data.local_now(data.zone_of(cfg.url, cfg.timezone, c), cfg.url) for c in centers}
    nexts = summaries.next_shifts(plan, now, {c: shift_starts(plan_run, c) for c in centers})
    said = summaries.next_shifts_text(nexts, {c: t.normalize() for c, t in now.items()})
    if said:
        st.markdown(f":material/schedule: **Next shift to start** (each center's local time): {said}")


@st.fragment(run_every=data.REFRESH_S)
def live_network(centers: list[str]) -> None:
    cfg = data.config()
    with data.database_errors(cfg.url), st.spinner(f"Reading {len(centers)} centers' orders, forecasts and plans…"):
        table, runs = network_frame(centers)
        table = summaries.attention_first(table)  # with 50 centers, the ones to act on must not be scrolled to
        stale = summaries.stale_forecast_text(runs["forecast"], data.local_today(cfg.timezone, cfg.url))
        if stale:
            st.warning(stale, icon=":material/history:")
        _tiles(table)
        if runs["plan"] is None:
            st.info(WAITING_FORECAST if runs["forecast"] is None else WAITING_PLAN)
        else:
            _next_shifts(centers, runs["plan"])
        counts = ["orders so far", "expected so far", "forecast today", "forecast tomorrow"]
        shown = table.assign(pace=table["pace"] * 100, **{c: table[c].round(0) for c in counts})
        statuses = ("staffing today", "staffing tomorrow")
        shown = shown.assign(**{c: shown[c].map(summaries.staffing_text) for c in statuses})
        styled = shown.style.map(
            lambda v: next((c for k, c in _COLORS.items() if str(v).startswith(k)), ""),
            subset=["staffing today", "staffing tomorrow"],
        ).map(lambda v: "color: #b00020; font-weight: 600" if v else "", subset=["open alerts"])
        number = st.column_config.NumberColumn
        picked = st.dataframe(
            styled,
            hide_index=True,
            width="stretch",
            column_order=SHOWN,
            key=PICK_KEY,
            on_select="rerun",
            selection_mode="single-row",
            placeholder="—",  # a center without a forecast or plan: a dash, not "None"
            height=min(35 * (len(table) + 1) + 3, 900),
            column_config={
                "center": st.column_config.TextColumn("center", pinned=True),
                "local time": st.column_config.TextColumn("local time", help="the center's own clock and zone"),
                "open alerts": number("alerts", format="%d", help="open drift alerts (the Alerts page)"),
                "orders so far": number("so far", format="localized", help="orders so far today (local day)"),
                "pace": number(
                    "pace", format="%+.0f%%",
                    help="orders so far against the orders expected by now: today's forecast median × the share "
                    f"of a typical day packed by the last full hour (shown once {summaries.MIN_PACE_ORDERS} or more "
                    "are expected)",
                ),
                "forecast today": number("fcst", format="localized", help="today's forecast median, orders"),
                "forecast tomorrow": number("fcst tmrw", format="localized", help="tomorrow's forecast median, orders"),
                "packers today": number("packers", format="%d", help="packers planned today, all shifts"),
                "packers tomorrow": number("packers tmrw", format="%d", help="packers planned tomorrow, all shifts"),
                "staffing today": st.column_config.TextColumn("staffing", help=_STAFFING_HELP),
                "staffing tomorrow": st.column_config.TextColumn("staffing tmrw", help=_STAFFING_HELP),
            },
        )
        plan, newest = runs["plan"], runs["newest"]
        st.caption(
            "Each center in its own zone · "
            + (f"plan `{plan['plan_id']}` made {local_text(plan['created_at'], cfg.timezone)} from forecast "
               f"`{plan['forecast_run_id']}`" if plan else "no plan")
            + _staffing_caption(plan, newest, runs["plan_forecast_gone"])
            + " · centers to act on first (understaffed, open alerts, overstaffed)"
            + " · select a center's row (the box at its left) to open its Center page"
        )
        rows = picked.selection.rows
        if rows:
            # app.py sets the sidebar's center from this before its picker is drawn (a widget's
            # value cannot change once it is drawn in a run).
            st.session_state[GOTO_CENTER_KEY] = str(table["center"].iloc[rows[0]])
            st.switch_page(CENTER_PAGE)


def page() -> None:
    st.header("Network · today and tomorrow")
    cfg = data.config()
    centers: list[str] = []
    with data.database_errors(cfg.url):
        centers = data.centers(cfg.url, cfg.timezone)
        if not centers:
            st.info(WAITING_ORDERS)
    if centers:
        live_network(centers)


page()
