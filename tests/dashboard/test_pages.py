"""The Network, Center, Alerts, Models and Staffing pages on a seeded database (Streamlit AppTest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "warning", "header", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_when_the_challenger_expects_more_orders_then_the_network_page_flags_that_center_understaffed(
    make_database,
) -> None:
    make_database(challenger_lift=1.3)
    at = run_page("views/network.py")
    table = at.dataframe[0].value.set_index("center")
    assert table.loc["FC-ICN", "staffing today"].startswith("under +")  # understaffed, packers to add
    assert table.loc["FC-PUS", "staffing today"] == "ok"
    assert table.loc["FC-ICN", "open alerts"] == 1 and table.loc["FC-PUS", "open alerts"] == 0
    assert metric(at, "Understaffed today") == "1"
    assert metric(at, "Open alerts") == "1"
    assert table["local time"].str.endswith("KST").all()


def test_when_the_challenger_agrees_with_the_champion_then_no_center_is_flagged(make_database) -> None:
    make_database(challenger_lift=None)
    at = run_page("views/network.py")
    table = at.dataframe[0].value
    assert set(table["staffing today"]) == {"ok"} and set(table["staffing tomorrow"]) == {"ok"}


def test_when_the_plan_puts_a_center_in_another_zone_then_its_pages_use_that_zone(make_database) -> None:
    make_database(zones={"FC-PUS": "Australia/Sydney"})
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.selectbox[0].set_value("FC-PUS").run()
    at.switch_page("views/center.py").run()
    assert not at.exception, at.exception
    assert "Times in Australia/Sydney" in texts(at)
    today = pd.Timestamp.now(tz="Australia/Sydney").tz_localize(None).normalize()
    assert f"{today:%a %d %b}" in next(c.value for c in at.caption if "—" in c.value)
    at.switch_page("views/network.py").run()
    table = at.dataframe[0].value.set_index("center")
    assert table.loc["FC-PUS", "local time"].endswith(("AEDT", "AEST"))


def test_when_past_runs_are_stored_then_the_center_page_scores_their_forecasts(make_database) -> None:
    make_database(past_runs=21)
    at = run_page("views/center.py")
    assert "How good were our past forecasts?" in texts(at)
    weekly = at.dataframe[-1].value
    assert weekly["days"].sum() == 21  # one issued forecast for each of the last 21 complete days
    assert weekly["coverage"].between(0, 1).all()
    assert metric(at, "In the 10%–90% band").endswith("%")
    assert at.slider(key="center_horizon").value == 14


def test_when_no_past_run_is_stored_then_the_center_page_says_accuracy_comes_later(make_database) -> None:
    make_database(past_runs=0)
    at = run_page("views/center.py")
    assert "accuracy shows after the first days" in texts(at)


def test_when_a_shorter_horizon_is_chosen_then_the_forecast_numbers_shrink(make_database) -> None:
    make_database()
    at = run_page("views/center.py")
    at.slider(key="center_horizon").set_value(5).run()
    assert not at.exception, at.exception
    numbers = next(d.value for d in at.dataframe if "0.5" in d.value.columns)
    assert len(numbers) == 5


def test_when_alerts_are_stored_then_the_alerts_page_shows_the_open_one_with_its_evidence(make_database) -> None:
    make_database()
    at = run_page("views/alerts.py")
    assert metric(at, "Open alerts") == "1"
    table = at.dataframe[0].value
    assert table["kind"].tolist() == ["cusum_up"] and table["status"].tolist() == ["open"]
    assert table["what"].tolist() == ["orders above forecast (hourly)"]
    assert "cusum_up log statistic 8.4 > 7.0" in texts(at)
    assert at.json[0].value and '"orders_today": 1480' in at.json[0].value


def test_when_the_demo_data_is_seeded_then_its_alerts_use_the_kinds_the_drift_checks_write(make_database) -> None:
    from fcplan.core.contracts import FEED_STOPPED
    from fcplan.dashboard.summaries import ALERT_KINDS
    from fcplan.models.drift import COVERAGE_DRIFT, OUTSIDE_BAND
    from fcplan.models.drift_monitor import TESTS
    from fcplan.models.silence import SILENCE_TESTS
    from fcplan.storage import make_engine
    from fcplan.storage.queries import alerts_frame

    url, _ = make_database()
    real = {*TESTS, OUTSIDE_BAND, COVERAGE_DRIFT}
    assert set(alerts_frame(make_engine(url))["kind"]) == real
    assert set(ALERT_KINDS) == {*real, *SILENCE_TESTS, FEED_STOPPED}  # every real kind has a label on the pages


def test_when_the_feed_has_stopped_then_the_stream_health_page_says_so_first(make_database) -> None:
    from fcplan.storage import make_engine
    from fcplan.streams.feed_watch import FeedWatch, store_feed_alert

    url, _ = make_database()
    watch = FeedWatch(silent_after_s=60)
    watch.fetched(1, 1_780_000_000.0)
    record = watch.check(1_780_000_120.0, broker_up=True)
    store_feed_alert(make_engine(url), record)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/stream.py").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [record["message"]]


def test_when_all_alerts_are_shown_then_each_links_only_the_retrain_it_caused(make_database) -> None:
    make_database()
    at = run_page("views/alerts.py")
    at.segmented_control(key="alerts_which").set_value("All").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("kind")
    assert len(table) == 5
    # The decision names FC-PUS among the drifted centers: the cusum_down alert there caused it ...
    assert table.loc["cusum_down", "retrain"].startswith("promoted: champion's forecasts drifted")
    # ... not the FC-ICN weekday alert opened before it, nor the FC-PUS alert opened after it.
    assert table.loc["weekday_pattern", "retrain"] == "" and table.loc["coverage_drift", "retrain"] == ""
    assert table.loc["outside_band", "status"] == "daily check"
    assert metric(at, "Alerts that caused a retrain (all)") == "1"


def test_when_a_kind_is_picked_then_the_alerts_page_shows_only_that_kind(make_database) -> None:
    make_database()
    at = run_page("views/alerts.py")
    at.segmented_control(key="alerts_which").set_value("All").run()
    kinds = at.selectbox(key="alerts_kind").options
    assert set(kinds) == {"All kinds", "orders above forecast (hourly)", "orders below forecast (hourly)",
                          "weekday pattern changed (hourly)", "day outside the forecast band (daily)",
                          "band coverage drifted (daily)"}
    at.selectbox(key="alerts_kind").set_value("weekday pattern changed (hourly)").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["kind"].tolist() == ["weekday_pattern"]
    assert "decided without it" in texts(at)


def test_when_a_center_row_is_selected_on_the_network_page_then_its_center_page_opens(make_database) -> None:
    make_database()
    at = run_page("views/network.py")
    assert at.sidebar.selectbox[0].value == "FC-ICN"
    row = at.dataframe[0].value["center"].tolist().index("FC-PUS")
    at.session_state["network_pick"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Center · FC-PUS"]
    assert at.sidebar.selectbox[0].value == "FC-PUS"


def test_when_holidays_fall_in_the_horizon_then_the_center_page_names_them(make_database, monkeypatch) -> None:
    import fcplan.core.calendar as calendar

    make_database()
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    days = {today - pd.Timedelta(days=10): "Founding Day", today + pd.Timedelta(days=3): "Harvest Festival"}
    monkeypatch.setattr(
        calendar, "holiday_names", lambda country, start, end: {d: n for d, n in days.items() if start <= d <= end}
    )
    at = run_page("views/center.py")
    said = texts(at)
    coming = f"**{today + pd.Timedelta(days=3):%a %d %b}** Harvest Festival"
    assert f"Public holidays in the forecast horizon: {coming}" in said
    assert f"Public holidays in the plan: {coming}" in said
    assert "past: " in said and "Founding Day" in said


def test_when_runs_are_stored_then_the_models_page_shows_champion_challenger_history_and_correlation(
    make_database,
) -> None:
    make_database(past_runs=21, challenger_lift=1.1)
    at = run_page("views/models.py")
    said = texts(at)
    assert "Champion and challengers" in said
    status = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert status["status"].tolist() == ["champion", "challenger"]
    assert "Leaderboard over the last 23 runs" in said
    assert "Error correlation of the top 4 members" in said
    assert "Needs per-window backtest scores" not in said


def test_when_the_staffing_page_runs_then_plan_and_forecasts_download_as_csv(make_database) -> None:
    make_database()
    at = run_page("views/staffing.py")
    labels = [b.label for b in at.download_button]
    assert labels == ["Download the plan (CSV)", "Download the forecasts (CSV)"]


#: SQLite stores any value in any column (a hand-edit, a broken import): one row per table read by the
#: pages holding a value its column's type cannot read (tests/storage/test_sqlite_type_damage.py).
DAMAGE = (
    "UPDATE center_hourly SET orders = 'abc' WHERE rowid = 5",
    "UPDATE center_hourly SET hour = 'garbage' WHERE rowid = 6",
    "UPDATE plan_runs SET params = '{bad'",
    "UPDATE forecast_alerts SET window_start = 'garbage' WHERE alert_id = 'drift-cleared'",
    "UPDATE forecast_runs SET data_end = 'garbage' WHERE status != 'champion' AND rowid = "
    "(SELECT min(rowid) FROM forecast_runs WHERE status != 'champion')",
    "UPDATE leaderboard SET wql = 'abc' WHERE rowid = 1",
    "UPDATE forecast_runs SET horizon = 'abc', fit_seconds = 'abc' WHERE status = 'champion'",
    "UPDATE plan_runs SET service_quantile = 'abc'",
    "INSERT INTO clock_state (name, now, updated_at) VALUES ('simulated', 'garbage', '2026-01-01 00:00:00')",
)


def test_when_stored_rows_hold_values_their_columns_cannot_read_then_every_page_shows_the_rest(
    make_database,
) -> None:
    import sqlite3
    from contextlib import closing

    url, _ = make_database()
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn, conn:
        for sql in DAMAGE:
            conn.execute(sql)
    for page in ("views/network.py", "views/center.py", "views/alerts.py", "views/models.py",
                 "views/staffing.py", "views/stream.py", "views/whatif.py"):
        at = run_page(page)  # no traceback, no error box
        assert texts(at)
