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
    # A day's shifts in the plan's order, not the store's (alphabetical: "day, night, swing").
    three = pd.concat([plan.assign(shift=s) for s in ("day", "night", "swing")], ignore_index=True)
    assert plan_detail(three, ["day", "swing", "night"])["shift"].tolist() == ["day", "swing", "night"]


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


def _plan(rows: list[tuple[str, str, str, int, str | None]]) -> pd.DataFrame:
    """Plan rows ``(center, day, shift, packers, starts_at)``."""
    return pd.DataFrame({"center_id": [r[0] for r in rows], "day": pd.to_datetime([r[1] for r in rows]),
                         "shift": [r[2] for r in rows], "packers": [r[3] for r in rows],
                         "starts_at": pd.to_datetime([r[4] for r in rows])})


def test_each_centers_next_shift_to_start_is_the_first_not_yet_started_in_its_own_time() -> None:
    from fcplan.dashboard.summaries import next_shifts, next_shifts_text

    hours = {"day": 6, "swing": 14, "night": 22}
    plan = _plan([
        ("FC-ICN", "2026-12-07", "day", 3, None), ("FC-ICN", "2026-12-07", "swing", 4, None),
        ("FC-ICN", "2026-12-07", "night", 1, None), ("FC-ICN", "2026-12-08", "day", 5, None),
        ("FC-SYD", "2026-12-07", "night", 2, None), ("FC-SYD", "2026-12-08", "day", 6, "2026-12-08 05:00"),
        ("FC-OLD", "2026-12-07", "day", 2, None),  # its plan ends before its now: left out
        ("FC-AAA", "2026-12-07", "night", 3, None),  # starts with FC-ICN's: by name (its now read 0.2 s earlier)
    ])
    now = {"FC-ICN": pd.Timestamp("2026-12-07 14:30"),  # the swing shift is running: the night one is next
           "FC-SYD": pd.Timestamp("2026-12-07 23:10"),  # a stored start beats the shift's hour
           "FC-OLD": pd.Timestamp("2026-12-07 09:00"), "FC-AAA": pd.Timestamp("2026-12-07 14:29:59.8")}
    nexts = next_shifts(plan, now, {c: hours for c in now})
    assert nexts.to_dict("list") == {
        "center": ["FC-SYD", "FC-AAA", "FC-ICN"], "shift": ["day", "night", "night"],
        "starts": [pd.Timestamp("2026-12-08 05:00"), *[pd.Timestamp("2026-12-07 22:00")] * 2], "packers": [6, 3, 1]}
    nexts = nexts[nexts["center"] != "FC-AAA"]
    today = {c: t.normalize() for c, t in now.items()}
    assert next_shifts_text(nexts, today) == "FC-SYD day tomorrow 05:00, 6 packers · FC-ICN night today 22:00, 1 packer"
    assert next_shifts_text(nexts, today, most=1) == "FC-SYD day tomorrow 05:00, 6 packers · 1 more center on the " \
        "Staffing page"
    assert next_shifts_text(next_shifts(plan.iloc[:0], now, {}), today) == ""


def test_the_network_page_names_each_centers_next_shift_and_its_packers(make_database) -> None:
    """The morning question, "whom do I book now?", took one visit to the Staffing page per center."""
    from fcplan.app.seed_db import SHIFTS

    starts = sorted(int(s.split(":")[1].split("-")[0]) for s in SHIFTS)
    names = {int(s.split(":")[1].split("-")[0]): s.split(":")[0] for s in SHIFTS}

    def expected(now: pd.Timestamp) -> str:
        later = [h for h in starts if h > now.hour]
        hour = later[0] if later else starts[0]
        return f"{names[hour]} {'today' if later else 'tomorrow'} {hour:02d}:00, "

    before = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None)
    make_database()
    at = run_page("views/network.py")
    after = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None)
    line = next(m.value for m in at.markdown if "Next shift to start" in m.value)
    for center in ("FC-ICN", "FC-PUS"):
        assert any(f"{center} {expected(t)}" in line for t in (before, after)), line
    assert "packer" in line


def test_the_whatif_kind_list_and_the_center_pages_promotions_name_kinds_in_words(make_database) -> None:
    """The What-if page's kind list showed the stored names ("free_shipping"), the Center page's
    promotion caption "sitewide_sale -20% ..."."""
    from types import SimpleNamespace

    from fcplan.dashboard.views.center import promo_text

    at = _whatif_with_effects(make_database, [("free_shipping", 0.03, 0.03, 30)])
    box = at.selectbox(key="whatif_kind")
    assert "free shipping" in box.options and "free_shipping" not in box.options
    box.set_value("free_shipping").run()
    assert at.selectbox(key="whatif_kind").value == "free_shipping"
    promo = SimpleNamespace(kind="sitewide_sale", discount_pct=20.0, start=pd.Timestamp("2026-12-10"),
                            end=pd.Timestamp("2026-12-14"))
    assert promo_text(promo).startswith("sitewide sale ")
