"""Session 18's second look at the pages a manager books packers from (1280 px): plain headers
on the Staffing plan's detail, What-if sentences that read for every promotion kind, whole-day
shift hours (Streamlit AppTest and the pure helpers)."""

from __future__ import annotations

import pandas as pd
import pytest

from .test_dashboard import _whatif, _whatif_with_effects
from .test_pages import run_page, texts

#: The stored column names the Staffing page's detail expander showed as headers.
RAW = {"center_id", "orders_median", "orders_planned", "packer_hours", "packers_needed", "next_day_forecast",
       "shift_status", "packers_before", "packers_change", "starts_at"}


def test_the_plan_detail_under_the_staffing_table_reads_plain_headers_with_units(make_database) -> None:
    """The expander "Orders and packer hours behind the plan" showed `orders_planned`,
    `packers_needed`, `shift_status`: the store's names, no units."""
    import sqlite3
    from contextlib import closing

    url, _ = make_database()
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as con:  # the crew detail, as the planner writes it
        con.execute("UPDATE staffing_plans SET starts_at = day || ' 06:00:00.000000', packers_needed = packers + 1, "
                    "next_day_forecast = 0, shift_status = 'not started', packers_before = packers, "
                    "packers_change = 0, action = 'no change'")
        con.commit()
    at = run_page("views/staffing.py")
    detail = next(e for e in at.expander if e.label == "Orders and packer hours behind the plan")
    columns = list(detail.dataframe[0].value.columns)
    assert not RAW & set(columns), columns
    assert columns == ["center", "day", "shift", "shift starts (local)", "orders (median forecast)", "orders planned",
                       "work (packer-hours)", "packers booked", "packers needed (before the cap)",
                       "packers, plan before", "change (packers)", "action", "shift status when planned",
                       "morning from next day's forecast"]


def test_a_plan_stored_without_the_crew_detail_shows_no_empty_detail_columns() -> None:
    """Plans stored before the crew detail was kept: seven columns of dashes pushed the packers
    booked out of sight at 1280 px."""
    from fcplan.dashboard.summaries import plan_detail

    plan = pd.DataFrame({"center_id": ["FC-ICN"], "day": pd.to_datetime(["2026-12-07"]), "shift": ["day"],
                         "orders_median": [401.26], "orders_planned": [417.74], "packer_hours": [13.92],
                         "packers": [3], "starts_at": [None], "packers_needed": [None], "shift_status": [None]})
    detail = plan_detail(plan)
    assert list(detail.columns) == ["center", "day", "shift", "orders (median forecast)", "orders planned",
                                    "work (packer-hours)", "packers booked"]
    assert detail.iloc[0].tolist() == ["FC-ICN", "2026-12-07", "day", 401.3, 417.7, 13.9, 3]


@pytest.mark.parametrize(("kind", "said"), [
    ("any kind", "A promotion of any kind at 20% off"),
    ("discount", "A discount promotion at 20% off"),
    ("free_shipping", "A free shipping promotion at 20% off"),
    ("flash_sale", "A flash sale at 20% off"),
    ("end_of_season", "An end of season promotion at 20% off"),
])
def test_a_promotion_is_named_in_words_for_each_kind(kind: str, said: str) -> None:
    from fcplan.dashboard.summaries import promotion_text

    assert promotion_text(kind, 20) == said


def test_the_whatif_sentence_reads_naturally_for_the_pooled_effect(make_database) -> None:
    """It read "A 20% any kind promotion: orders × 1.49"."""
    make_database(effect_per_pct=0.02)
    at = run_page("views/whatif.py")
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    _whatif(at, today + pd.Timedelta(days=8), 2, 20)
    assert "A promotion of any kind at 20% off: orders ×" in texts(at)
    assert "any kind promotion" not in texts(at)


def test_the_whatif_sentence_names_a_stored_kind_in_words(make_database) -> None:
    """It read "A 20% free_shipping promotion: orders × 1.81 ..., from 30 free_shipping days there"."""
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    at = _whatif_with_effects(make_database, [("free_shipping", 0.03, 0.03, 30)])
    at.selectbox(key="whatif_kind").set_value("free_shipping").run()
    _whatif(at, today + pd.Timedelta(days=8), 2, 20)
    said = texts(at)
    assert "A free shipping promotion at 20% off: orders ×" in said and "from 30 free shipping days there" in said
    assert "free_shipping" not in said


def test_a_whole_day_shift_reads_00_to_24_not_00_to_00() -> None:
    from fcplan.dashboard.views.common import shift_hours, shift_hours_text

    own = {"center_id": "FC-ICN", "shifts": [{"name": "all day", "start": 0, "end": 24}]}
    run = {"params": {"shifts": ["early:0-12", "late:12-24"], "centers": {"FC-ICN": own}}}
    assert shift_hours(run, "FC-ICN") == {"all day": "00:00–24:00"}
    assert shift_hours_text(run, "FC-PUS", ["early", "late"]) == "early 00:00–12:00 · late 12:00–24:00"
    # A shift that wraps past midnight still ends on the next day's clock.
    assert shift_hours({"params": {"shifts": ["day:6-18", "night:18-6"]}}, "FC-PUS")["night"] == "18:00–06:00"
