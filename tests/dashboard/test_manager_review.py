"""Session 15's review of the pages as an operations manager reads them (1280, 1400 and 1920 px
wide): what misled or confused, each fixed behaviour pinned here (Streamlit AppTest and pure
chart specs; the browser's own checks are in test_browser.py)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from .test_pages import APP, run_page, texts


def _insert_alerts(url: str, rows: list[dict]) -> None:
    from sqlalchemy import insert

    from fcplan.storage import make_engine
    from fcplan.storage.schema import forecast_alerts

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(forecast_alerts), rows)
    engine.dispose()


def test_when_two_alerts_share_center_kind_and_minute_then_the_evidence_picker_offers_each(make_database) -> None:
    """The daily check writes one alert per day judged, in the same minute: the picker listed
    them under one label (a dict keyed by it), so only the last one's evidence could be read."""
    url, _ = make_database()
    opened = datetime(2026, 12, 1, 3, 0)
    same = {"created_at": opened, "center_id": "FC-PUS", "kind": "outside_band"}
    _insert_alerts(url, [
        {**same, "alert_id": "band-a", "day": opened.date(), "message": "Sun 29 Nov: 3410 orders, above the range"},
        {**same, "alert_id": "band-b", "day": opened.date(), "message": "Mon 30 Nov: 980 orders, below the range"},
        {**same, "alert_id": "band-c", "day": opened.date(), "message": "Mon 30 Nov: 980 orders, below the range"},
    ])
    at = run_page("views/alerts.py")
    at.segmented_control(key="alerts_which").set_value("All").run()
    at.selectbox(key="alerts_kind").set_value("day outside the forecast band (daily)").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    picker = at.selectbox(key="alerts_pick")
    assert len(picker.options) == len(table) == 4  # the seeded one and these three
    assert len(set(picker.options)) == len(picker.options), picker.options
    assert any(o.endswith("· Sun 29 Nov: 3410 orders, above the range") for o in picker.options)
    assert sum(o.endswith(("(1 of 2)", "(2 of 2)")) for o in picker.options) == 2
    shown = []
    for alert_id in ("daily-band", "band-a", "band-b", "band-c"):  # the seeded one's id, then these
        at.selectbox(key="alerts_pick").set_value(alert_id).run()
        assert not at.exception, at.exception
        shown.append(next(m.value for m in at.markdown if "(`outside_band`)" in m.value))  # the evidence
    assert sum("3410 orders, above the range" in m and "FC-PUS" in m for m in shown) == 1
    assert sum("980 orders, below the range" in m for m in shown) == 2


def _x_axis(chart: object) -> dict:
    spec = chart.to_dict()  # type: ignore[attr-defined]
    layers = spec.get("layer", [spec])
    return next(layer["encoding"]["x"]["axis"] for layer in layers if "axis" in layer.get("encoding", {}).get("x", {}))


def test_when_a_few_hours_of_orders_are_drawn_then_the_stream_chart_labels_whole_hours_only() -> None:
    """Just after midnight (three points) Vega ticked every 15 or 30 minutes: '00:30' labels on
    counts that are per hour."""
    from fcplan.dashboard import charts

    hours = pd.date_range("2026-12-07 00:00", periods=3, freq="h")
    hourly = pd.DataFrame({"unique_id": "FC-ICN", "ds": hours, "y": [12.0, 8.0, 5.0]})
    axis = _x_axis(charts.hourly_today(hourly))
    assert axis["format"] == "%H:%M" and axis["tickMinStep"] == 3600 * 1000


def test_when_runs_come_minutes_apart_then_the_leaderboard_history_labels_their_hour_not_the_day() -> None:
    """The demo retrains every two minutes: a day format wrote '07 Dec' under every tick; runs a
    day apart keep one day label a day."""
    from fcplan.dashboard import history_charts

    def board(times: pd.DatetimeIndex) -> pd.DataFrame:
        return pd.DataFrame({"created_at": times, "model": "ets", "wql": 0.1})

    minutes = _x_axis(history_charts.leaderboard_history(board(pd.date_range("2026-12-07 10:00", periods=30,
                                                                                freq="2min"))))
    assert minutes["format"] == "%H:%M"
    overnight = _x_axis(history_charts.leaderboard_history(board(pd.date_range("2026-12-06 23:00", periods=5,
                                                                                  freq="30min"))))
    assert overnight["format"] == "%a %H:%M"
    days = _x_axis(history_charts.leaderboard_history(board(pd.date_range("2026-11-01 04:00", periods=30,
                                                                             freq="D"))))
    assert days["format"] == "%d %b" and days["tickMinStep"] == 24 * 3600 * 1000


def test_when_the_network_table_is_drawn_then_its_columns_fit_a_laptop_and_staffing_reads_short(
    make_database,
) -> None:
    """Tomorrow's staffing, the column to act on, was the one cut off: the expected orders left the
    columns (they are in the pace's help) and the statuses read ``under +3`` / ``over -2``
    (test_browser.py measures the fit at 1280, 1400 and 1920 px)."""
    from fcplan.dashboard.summaries import staffing_text

    assert staffing_text("understaffed (+3)") == "under +3" and staffing_text("overstaffed (-2)") == "over -2"
    assert staffing_text("ok") == "ok" and staffing_text("—") == "—"
    make_database(challenger_lift=1.3)
    at = run_page("views/network.py")
    order = list(at.dataframe[0].proto.column_order)
    assert order[0] == "center" and order[-1] == "staffing tomorrow" and "expected so far" not in order
    assert at.dataframe[0].value.set_index("center").loc["FC-ICN", "staffing today"].startswith("under +")


def test_when_a_center_has_orders_but_no_forecast_then_the_pace_tile_leaves_its_orders_out(make_database) -> None:
    """The tile summed every center's orders against the expectations of the centers with a
    forecast: a new center's orders read as the network running ahead of its forecast.

    The clock is the loop's simulated one, at 02:30 of today in Seoul: by the wall clock, from
    midnight to 01:00 (15:00-16:00 UTC) no pace is shown at all (none is expected before the
    first hour is complete) and the test failed."""
    from sqlalchemy import insert

    from fcplan.storage import make_engine
    from fcplan.storage.schema import clock_state

    from .test_review import NEW, _add_center_without_forecast

    url, _ = make_database()
    early = pd.Timestamp.now(tz="Asia/Seoul").normalize() + pd.Timedelta(hours=2, minutes=30)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(clock_state), [{"name": "simulated", "updated_at": datetime(2026, 1, 1),
                                            "now": early.tz_convert("UTC").tz_localize(None).to_pydatetime()}])
    engine.dispose()
    at = run_page("views/network.py")
    before = next(m for m in at.metric if m.label == "Orders so far today")
    _add_center_without_forecast(url)
    import streamlit as st

    st.cache_data.clear()
    at = run_page("views/network.py")
    after = next(m for m in at.metric if m.label == "Orders so far today")
    table = at.dataframe[0].value.set_index("center")
    assert table.loc[NEW, "orders so far"] > 0
    assert after.delta == before.delta and str(after.delta).startswith("pace ")
    assert table.loc[NEW, "staffing today"] == "—"


def _kind_effects(url: str, rows: list[tuple[str, str, float, float, int]]) -> None:
    """Store per-center kind effects ``(center, kind, effect_per_pct, pooled, promo_days)`` for run-1."""
    from sqlalchemy import insert

    from fcplan.storage import make_engine
    from fcplan.storage.schema import promo_kind_effects

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(promo_kind_effects), [
            {"run_id": "run-1", "unique_id": c, "kind": k, "effect_per_pct": e, "pooled_effect_per_pct": p,
             "promo_days": n} for c, k, e, p, n in rows
        ])
    engine.dispose()


def test_when_a_kinds_lift_rests_on_a_few_promotion_days_then_the_whatif_page_says_it_is_a_rough_guide(
    make_database,
) -> None:
    """With two centers the retrainer's per-center kind effects are barely pooled: 4 'discount' days
    at FC-ICN gave it a lift of its own (×1.64 at 20% off), shown as plainly as one measured on
    many promotions. The page now says what it rests on and warns when that is little."""
    url, _ = make_database(effect_per_pct=0.01)
    _kind_effects(url, [
        ("FC-ICN", "discount", 0.025, 0.02, 4), ("FC-PUS", "discount", 0.015, 0.02, 1),
        ("FC-ICN", "flash", 0.012, 0.012, 30), ("FC-PUS", "flash", 0.012, 0.012, 28),
    ])
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/whatif.py").run()
    assert at.sidebar.selectbox[0].value == "FC-ICN"
    at.selectbox(key="whatif_kind").set_value("discount").run()
    assert not at.exception, at.exception
    warned = [w.value for w in at.warning]
    assert any(w.startswith("Few discount promotions behind this lift: 5 promotion days over 2 centers, 4 of them "
                            "at FC-ICN") and "rough guide" in w for w in warned), warned
    assert "from 4 discount days there and 5 over 2 centers" in texts(at)
    assert "All promotion kinds together: **+10.5% orders per 10% discount**" in texts(at)
    at.selectbox(key="whatif_kind").set_value("flash").run()
    assert not [w.value for w in at.warning if "rough guide" in w.value]
    # A center that never ran the kind takes the others' lift: said so.
    from fcplan.dashboard.summaries import thin_evidence_text

    never = thin_evidence_text({"days": 0, "total": 6, "centers": 2}, "FC-NEW", "discount", 1.5, 20)
    assert never is not None and "FC-NEW has never run one, so its lift is the other centers'" in never
    assert thin_evidence_text({"days": 2, "total": 40, "centers": 5}, "FC-NEW", "discount", 1.5, 20) is None


def test_when_few_orders_are_expected_yet_then_the_network_shows_no_pace() -> None:
    """Just after midnight 5 orders against 3 expected read '+66%' on the landing page."""
    from fcplan.dashboard import summaries as s

    day = pd.Timestamp("2026-12-07")
    forecast = pd.DataFrame({"unique_id": ["A", "B"], "ds": day, "0.5": [240.0, 3000.0], "0.9": [270.0, 3300.0]})
    shares = pd.DataFrame({"unique_id": ["A"] * 24 + ["B"] * 24, "hour": list(range(24)) * 2, "share": 1 / 24})
    shares["done"] = shares.groupby("unique_id")["share"].cumsum()
    hours = pd.date_range(day, periods=2, freq="h")
    today = pd.DataFrame({"unique_id": ["A", "A", "B", "B"], "ds": list(hours) * 2, "y": [3.0, 2.0, 140.0, 160.0]})
    now = {"A": day + pd.Timedelta(hours=2, minutes=10), "B": day + pd.Timedelta(hours=2, minutes=10)}
    plan = pd.DataFrame(columns=["unique_id", "ds", "packers", "orders_planned"])
    table = s.network_table(["A", "B"], {"A": "Asia/Seoul", "B": "Asia/Seoul"}, now, forecast, forecast, plan,
                            0.5, today, shares, {}).set_index("center")
    assert table.loc["A", "expected so far"] == pytest.approx(20.0)  # 240 × 2/24
    assert pd.isna(table.loc["A", "pace"])  # 5 orders against 20: too few to say
    assert table.loc["B", "pace"] == pytest.approx(300 / 250 - 1)


def _age_the_forecast(url: str, days: int) -> None:
    """The champion made on data ``days`` days older: its forecast's and its plan's days that much earlier."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:
        con.execute("UPDATE forecast_runs SET data_end = date(data_end, ?) WHERE run_id = 'run-1'", (f"-{days} day",))
        con.execute("UPDATE staffing_plans SET day = date(day, ?)", (f"-{days} day",))
        con.execute("UPDATE forecasts SET ds = date(ds, ?) WHERE run_id = 'run-1'", (f"-{days} day",))
        con.commit()


def test_when_the_forecast_in_use_is_days_old_then_the_pages_warn_and_plans_start_today(make_database) -> None:
    """The demo's champion was once 8 days stale (its challenger not promoted): every page read
    today's numbers off it without a word, and the plan's charts began a week in the past."""
    url, _ = make_database()
    _age_the_forecast(url, 8)
    for page in ("views/network.py", "views/center.py", "views/staffing.py"):
        at = run_page(page)
        warned = [w.value for w in at.warning]
        assert any(w.startswith("The forecast in use (run `run-1`) was made on orders up to ") and "9 days ago" in w
                   for w in warned), (page, warned)
    table = next(d.value for d in at.dataframe if "total" in d.value.columns)  # the center's days by shift
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    assert table.index[0] == f"{today:%a %Y-%m-%d}"


def test_when_the_forecast_is_from_yesterday_then_no_page_warns(make_database) -> None:
    make_database()
    at = run_page("views/center.py")
    assert not [w.value for w in at.warning if "The forecast in use" in w.value]


def test_when_the_models_page_lists_the_leaderboard_then_wape_and_coverage_read_as_percentages(make_database) -> None:
    """WAPE 0.080 and coverage 0.80 beside the Center page's 'WAPE 8.0%' and 'in the band 80%':
    one measure, two notations. The heading named 5 members over a heatmap of 4."""
    import json

    make_database()
    at = run_page("views/models.py")
    board = at.dataframe[0]
    config = json.loads(board.proto.columns)
    assert config["WAPE"]["type_config"]["format"] == "percent"
    assert config["coverage"]["type_config"]["format"] == "percent"
    assert "Error correlation of the top 4 members" in [h.value for h in at.subheader]


def test_when_the_forecast_in_use_is_days_old_then_the_whatif_page_offers_only_days_from_today(make_database) -> None:
    """On a forecast made a week ago the What-if page offered promotions on days already past."""
    url, _ = make_database()
    _age_the_forecast(url, 8)
    at = run_page("views/whatif.py")
    assert any("The forecast in use (run `run-1`)" in w.value for w in at.warning)
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = at.dataframe[0].value
    assert table.index[0] == f"{today:%a %Y-%m-%d}"
    assert at.date_input(key="whatif_start").value >= today.date()


# Session 18's review (1280 px, a manager booking this morning's packers).


def _drop_plans_and_forecasts(url: str) -> None:
    """Orders only: the state between ``fcplan demo``'s first orders and its first forecast."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:
        for table in ("staffing_plans", "plan_runs", "forecasts", "leaderboard", "forecast_runs"):
            con.execute(f"DELETE FROM {table}")
        con.commit()


def test_when_nothing_is_planned_yet_then_the_network_tiles_say_so_instead_of_none_understaffed(
    make_database,
) -> None:
    """With orders in and no forecast or plan yet the tiles read "Understaffed today 0 · 0
    overstaffed": every center looked staffed when none had a plan."""
    from fcplan.dashboard.views.common import WAITING_FORECAST

    url, _ = make_database()
    _drop_plans_and_forecasts(url)
    at = run_page("views/network.py")
    tiles = {m.label: m for m in at.metric}
    for label in ("Understaffed today", "Understaffed tmrw"):
        assert tiles[label].value == "—" and tiles[label].proto.delta == "not planned yet"
    assert WAITING_FORECAST in [i.value for i in at.info]
    assert int(tiles["Centers"].value) == 2  # the rest of the page still reads the orders


def test_the_shifts_are_shown_with_their_local_hours_on_the_staffing_and_center_pages(make_database) -> None:
    """The per-shift table's columns read "day", "swing", "night" (the first could be the row's
    day) and no page said when a shift starts: the hours the plan stored are in the headers and
    under the Center page's headcount chart."""
    make_database()
    at = run_page("views/staffing.py")
    assert list(at.dataframe[0].value.columns) == ["day 06:00–14:00", "swing 14:00–22:00", "night 22:00–06:00",
                                                   "total"]
    at = run_page("views/center.py")
    assert "shifts (local time): day 06:00–14:00 · swing 14:00–22:00 · night 22:00–06:00" in texts(at)


def test_a_centers_own_shifts_give_the_hours_shown_else_the_runs_shifts() -> None:
    from fcplan.dashboard.views.common import shift_hours

    own = {"center_id": "FC-ICN", "shifts": [{"name": "early", "start": 5, "end": 13},
                                             {"name": "late", "start": 13, "end": 5}]}
    run = {"params": {"shifts": ["day:6-18", "night:18-6"], "centers": {"FC-ICN": own}}}
    assert shift_hours(run, "FC-ICN") == {"early": "05:00–13:00", "late": "13:00–05:00"}
    assert shift_hours(run, "FC-PUS") == {"day": "06:00–18:00", "night": "18:00–06:00"}
    assert shift_hours({"params": {"shifts": ["nonsense"]}}, "FC-PUS") == {} and shift_hours(None, "FC-PUS") == {}


def test_the_stream_counters_say_they_are_running_totals_and_what_a_dead_letter_is(make_database) -> None:
    """Next to "orders per hour today", 51,234 "orders accepted" read as today's orders; "dead
    letters" was not explained."""
    make_database()
    at = run_page("views/stream.py")
    helps = {m.label: m.proto.help for m in at.metric}
    assert "all days" in helps["Orders accepted"] and "set aside" in helps["Dead letters"]
    assert any(c.value.startswith("Running totals since the worker started") for c in at.caption)


def test_the_models_leaderboard_and_service_level_explain_their_numbers(make_database) -> None:
    """MASE had no help (the other scores had); the service level's help named a quantile and a
    cost ratio, not what it means for the packers booked."""
    import json

    make_database()
    at = run_page("views/models.py")
    columns = json.loads(at.dataframe[0].proto.columns)
    assert "repeating last week" in columns["MASE"]["help"]
    at = run_page("views/staffing.py")
    service = next(m for m in at.metric if m.label == "Service level")
    assert "enough on about that share of days" in service.proto.help


def test_under_a_simulated_clock_every_page_says_whose_now_it_shows(make_database) -> None:
    """After ``fcplan demo --simulate-days`` the pages showed "00:00 KST" and days weeks ahead of
    the wall clock with nothing saying so; the Stream page read "Orders accepted 0" next to weeks
    of orders (the loop stores them without the stream)."""
    from sqlalchemy import insert

    from fcplan.storage import make_engine
    from fcplan.storage.schema import clock_state

    url, _ = make_database()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(clock_state), [{"name": "simulated", "now": datetime(2026, 3, 10, 3),
                                            "updated_at": datetime(2026, 3, 10, 3)}])
    engine.dispose()
    at = run_page("views/stream.py")
    assert "Simulated clock: now is Tue 10 Mar 12:00 (Asia/Seoul)" in " ".join(i.value for i in at.sidebar.info)
    assert any("do not count them" in i.value for i in at.info)


def test_an_alerts_evidence_is_listed_in_words_with_the_stored_keys_kept_aside(make_database) -> None:
    """The evidence was a raw JSON object ("pit_today": 0.993, "theta": 1.3): code to a manager."""
    from fcplan.dashboard.summaries import evidence_table

    table = evidence_table({"pit_today": 0.993, "ratio_today": 1.31, "orders_today": 1480, "band": [0.05, 0.95],
                            "something_new": [1, 2]})
    assert table["key"].tolist() == ["orders_today", "ratio_today", "pit_today", "band", "something_new"]
    shown = table.set_index("key")["value"]
    assert shown.to_dict() == {"orders_today": "1,480", "ratio_today": "131%", "pit_today": "0.993",
                               "band": "5%–95%", "something_new": "[1, 2]"}
    assert table.set_index("key").loc["pit_today", "what"].startswith("where today's orders sit")
    make_database()
    at = run_page("views/alerts.py")
    evidence = at.dataframe[-1].value
    assert "orders so far against expected" in set(evidence["what"])
    assert "pit_today" not in " ".join(evidence["what"])
