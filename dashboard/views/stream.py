"""Stream health page: today's hourly orders, the worker's counters, forecast alerts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.dashboard import charts, data, summaries
from fcplan.dashboard.views.common import ALERTS_PAGE, WAITING_ORDERS, local_text, open_alert_counts
from fcplan.storage import metrics as m

LIVE_S = 5
#: The counters are the worker's running totals: next to "orders per hour today" a manager read
#: 51,234 "orders accepted" as today's.
TOTALS_NOTE = "Running totals since the worker started writing to this database, not today's"
#: Under the loop's simulated clock the orders are stored without the stream: "Orders accepted 0"
#: next to weeks of orders on the other pages.
SIMULATED_NOTE = ("Simulated clock: the loop stores its orders directly, not through the order stream, so the "
                  "worker's order counters below do not count them.")
DEAD_LETTERS_HELP = ("messages the worker set aside instead of counting (too late for their hour, unreadable or "
                     "invalid): by reason below; they are not in the orders or the forecasts")


def counter(metrics: pd.DataFrame, name: str, reason: str | None = None) -> int:
    rows = metrics[metrics["name"] == name]
    if reason is not None:
        rows = rows[rows["reason"] == reason]
    return int(rows["value"].sum())


@st.fragment(run_every=LIVE_S)
def live_stream() -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        metrics = data.stream_metrics(cfg.url)
        alerts = data.alerts(cfg.url, 1000)
        for message in summaries.open_feed_alerts(alerts)[:5]:  # the feed itself is wrong: say it first
            st.error(message, icon=":material/warning:")
        hourly = data.today_hourly(cfg.url, cfg.timezone)
        if metrics.empty and hourly.empty:
            st.info(WAITING_ORDERS)
        if data.simulated_clock(cfg.url):
            st.info(SIMULATED_NOTE, icon=":material/fast_forward:")
        if not metrics.empty:
            dead = metrics[metrics["name"].str.endswith(m.DEAD_LETTERS_SUFFIX)]
            cols = st.columns(4)
            cols[0].metric("Orders accepted", f"{counter(metrics, m.ORDERS, m.ACCEPTED):,}", border=True,
                           help="orders the worker stored, all days (today's are charted below)")
            cols[1].metric("Duplicates dropped", f"{counter(metrics, m.ORDERS, m.DUPLICATE):,}", border=True,
                           help="orders received again (same order id) and counted once")
            cols[2].metric("Dead letters", f"{int(dead['value'].sum()):,}", border=True, help=DEAD_LETTERS_HELP)
            cols[3].metric(
                "Promotions accepted", f"{counter(metrics, m.PROMOTIONS, m.ACCEPTED):,}", border=True
            )
            st.caption(f"{TOTALS_NOTE} · updated {local_text(metrics['updated_at'].max(), cfg.timezone)}")
        st.subheader("Orders per hour today (each center's local hours)")
        if hourly.empty:
            st.caption("No orders yet today.")
        else:
            st.altair_chart(charts.hourly_today(summaries.busiest_lines(hourly)), width="stretch")
            totals = hourly.groupby("unique_id")["y"].sum().astype(int).rename("orders today")
            # A center whose local day has just begun (Sydney's 00:24 beside Seoul's 22:24) has no
            # hour yet: it was left out of the table, as if the stream had lost it.
            totals = totals.reindex(sorted({*totals.index, *data.centers(cfg.url, cfg.timezone)}), fill_value=0)
            if len(totals) <= summaries.MAX_LINES:
                st.dataframe(totals.to_frame().T, width="stretch", column_config={
                    c: st.column_config.NumberColumn(format="localized") for c in totals.index})
            else:
                st.caption(f"the {summaries.MAX_LINES - 1} busiest centers and the rest together")
        if not metrics.empty:
            dead = metrics[metrics["name"].str.endswith(m.DEAD_LETTERS_SUFFIX)]
            if len(dead):
                st.subheader("Dead letters by reason")
                chart = charts.dead_letters(dead[["name", "reason", "value"]])
                st.altair_chart(chart, width="stretch")
            with st.expander("All counters"):
                st.dataframe(metrics, hide_index=True, width="stretch")
        open_alerts = sum(open_alert_counts(alerts).values())
        st.page_link(ALERTS_PAGE, label=f"Forecast alerts: {open_alerts} open", icon=":material/notifications:")


def page() -> None:
    st.header("Stream health")
    live_stream()


page()
