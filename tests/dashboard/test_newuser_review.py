"""Session 19's walk through the README and the pages as a new user and a manager (1280 px):
what read wrong on the live demo's database (Streamlit AppTest)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from .test_pages import run_page, texts


def test_all_centers_leaves_a_day_outside_a_center_s_plan_blank_not_zero(make_database) -> None:
    """The live demo's FC-GWANGJU (Sydney) plans from its own today, a day ahead of Seoul's: on
    "All centers" its Monday read 0 packers, as if the center were closed that day."""
    url, _ = make_database()
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:
        plan_id, first = con.execute(
            "SELECT plan_id, MIN(day) FROM staffing_plans WHERE plan_id = "
            "(SELECT plan_id FROM plan_runs ORDER BY created_at DESC LIMIT 1)").fetchone()
        con.execute("DELETE FROM staffing_plans WHERE plan_id = ? AND center_id = 'FC-PUS' AND day = ?",
                    (plan_id, first))
        con.commit()
    at = run_page("views/staffing.py")
    at.radio[0].set_value("All centers").run()
    table = at.dataframe[0].value
    assert "FC-PUS" in table.columns and "FC-ICN" in table.columns
    first_row = table.iloc[0]
    assert first_row.isna()["FC-PUS"], table.head(3)  # not 0: that day is outside FC-PUS's plan
    assert first_row["total"] == first_row["FC-ICN"]
    assert "where a center's plan does not cover the day" in texts(at)


def test_stream_health_lists_a_center_without_orders_yet_today_with_0(make_database) -> None:
    """At 22:24 in Seoul the live demo's Sydney center was at 00:24, no order yet in its day: the
    "orders today" table listed the other four centers only, as if the stream had lost it."""
    from datetime import UTC, datetime, timedelta

    url, _ = make_database()
    since = (datetime.now(UTC) - timedelta(days=2)).replace(tzinfo=None).isoformat(sep=" ")
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:
        con.execute("DELETE FROM center_hourly WHERE center_id = 'FC-PUS' AND hour >= ?", (since,))
        con.commit()
    at = run_page("views/stream.py")
    table = next(d.value for d in at.dataframe if "orders today" in d.value.index)
    assert table.loc["orders today", "FC-PUS"] == 0, table
    assert table.loc["orders today", "FC-ICN"] > 0


def test_what_if_says_so_when_the_plan_books_another_number_today(make_database) -> None:
    """The live demo's What-if read 5 packers today for FC-BUSAN, the Staffing plan page 4: the
    plan re-plans today on the orders so far, the What-if prices the forecast alone, and neither
    page said so."""
    import pandas as pd

    url, _ = make_database()
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:
        changed = con.execute("UPDATE staffing_plans SET packers = packers + 5 WHERE center_id = 'FC-ICN' AND day = ?",
                              (today.strftime("%Y-%m-%d"),)).rowcount
        con.commit()
        (booked,) = con.execute("SELECT SUM(packers) FROM staffing_plans WHERE center_id = 'FC-ICN' AND day = ? "
                                "AND plan_id = (SELECT plan_id FROM plan_runs ORDER BY created_at DESC LIMIT 1)",
                                (today.strftime("%Y-%m-%d"),)).fetchone()
    assert changed
    at = run_page("views/whatif.py")
    shown = int(at.dataframe[0].value.loc[f"{today:%a %Y-%m-%d}", "packers"])
    assert f"the plan books {booked} packers, re-planned on today's orders so far; the {shown} above" in texts(at)
