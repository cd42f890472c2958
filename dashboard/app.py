"""fcplan operations dashboard: ``streamlit run dashboard/app.py``.

The entry point: reads the settings (database URL, time zone) once, draws the
center picker, and runs the selected page. Reads the database only.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fcplan.core.settings import load_settings
from fcplan.dashboard import data
from fcplan.dashboard.views.common import CENTER_KEY, GOTO_CENTER_KEY

HERE = Path(__file__).parent
PAGES = [
    st.Page(HERE / "views" / "network.py", title="Network", icon=":material/hub:", url_path="network", default=True),
    st.Page(HERE / "views" / "center.py", title="Center", icon=":material/show_chart:", url_path="center"),
    st.Page(HERE / "views" / "staffing.py", title="Staffing plan", icon=":material/groups:", url_path="staffing"),
    st.Page(HERE / "views" / "whatif.py", title="What-if", icon=":material/sell:", url_path="whatif"),
    st.Page(HERE / "views" / "models.py", title="Models", icon=":material/leaderboard:", url_path="models"),
    st.Page(HERE / "views" / "alerts.py", title="Alerts", icon=":material/notifications:", url_path="alerts"),
    st.Page(HERE / "views" / "stream.py", title="Stream health", icon=":material/monitor_heart:", url_path="stream"),
]


def _config() -> data.DashboardConfig:
    """The environment, read here only (cheap; re-read each run so a restart is never needed)."""
    settings = load_settings()
    return data.DashboardConfig(
        url=settings.database.url, timezone=settings.timezone, holiday_country=settings.forecast.holiday_country
    )


@st.fragment(run_every=data.REFRESH_S)
def _reconnect(url: str) -> None:
    """While the database is down: rerun the whole app once it answers again."""
    if data.database_problem(url) is None:
        st.rerun()


def simulated_text(now: object, tz: str) -> str:
    """The sidebar's note under the loop's simulated clock (``fcplan demo --simulate-days``)."""
    return (f"Simulated clock: now is {now:%a %d %b %H:%M} ({tz}), not the wall clock's. Today, tomorrow and "
            "the plans on every page follow it.")


def main() -> None:
    st.set_page_config(page_title="fcplan · operations", page_icon=":material/inventory_2:", layout="wide")
    cfg = _config()
    data.set_config(cfg)
    page = st.navigation(PAGES, position="top")
    st.sidebar.title("fcplan")
    st.sidebar.caption("Packer headcount from live orders")
    problem = data.database_problem(cfg.url)
    if problem is not None:
        # Nothing on any page can be read: one banner instead of one per section.
        st.error(problem, icon=":material/database:")
        _reconnect(cfg.url)
        return
    with data.database_errors(cfg.url):
        centers = data.centers(cfg.url, cfg.timezone)
        goto = st.session_state.pop(GOTO_CENTER_KEY, None)
        if goto in centers:
            st.session_state[CENTER_KEY] = goto  # a row picked on the Network page
        if centers:
            if st.session_state.get(CENTER_KEY) not in centers:
                st.session_state[CENTER_KEY] = centers[0]
            st.sidebar.selectbox("Fulfillment center", centers, key=CENTER_KEY)
        else:
            st.session_state[CENTER_KEY] = None
            st.sidebar.info("No centers yet.")
        if data.simulated_clock(cfg.url):
            # The pages' "today" and "now" follow the loop's clock, days or months from the wall clock's.
            st.sidebar.info(simulated_text(data.local_now(cfg.timezone, cfg.url), cfg.timezone),
                            icon=":material/fast_forward:")
        for center, name in data.unknown_zones(cfg.url).items():
            st.sidebar.warning(f"{center}'s time zone {name!r} is unknown on this machine: its times are shown in "
                               f"{cfg.timezone}. Update the tz database (`pip install -U tzdata`) or fix the centers "
                               "file.", icon=":material/schedule:")
    st.sidebar.caption(f"Times in each center's zone (default {cfg.timezone}) · refreshes every {data.REFRESH_S} s")
    page.run()


main()
