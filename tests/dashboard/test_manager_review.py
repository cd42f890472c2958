"""Session 15's review of the pages as an operations manager reads them (1280, 1400 and 1920 px
wide): what misled or confused, each fixed behaviour pinned here (Streamlit AppTest and pure
chart specs; the browser's own checks are in test_browser.py)."""

from __future__ import annotations

from datetime import datetime

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
