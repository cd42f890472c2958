"""Session 15's review of the pages as an operations manager reads them (1280, 1400 and 1920 px
wide): what misled or confused, each fixed behaviour pinned here (Streamlit AppTest and pure
chart specs; the browser's own checks are in test_browser.py)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from tests.dashboard.test_pages import run_page


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
        shown.append(next(m.value for m in at.markdown if "day outside the forecast band" in m.value))
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
