"""The what-if page's packers for a plan that stored no center configuration (its global
parameters and shift shares) count each shift's real length on the day, as the planner does:
it called ``plan_staffing`` without the shifts and zone, so a night shift spanning a
daylight-saving change was paid and packed 8 hours instead of 7 (or 9)."""

from __future__ import annotations

import pandas as pd

from fcplan.dashboard.views import whatif
from fcplan.planner import parse_shifts, plan_staffing

from .test_dashboard import run_page

ZONE = "America/New_York"  # clocks go forward at 02:00 on Sun 8 March 2026
SHIFTS = ["day:6-14", "swing:14-22", "night:22-6"]
PLAN_RUN = {"plan_id": "p", "params": {"shifts": SHIFTS, "shift_hours": 8.0, "shrinkage": 0.15,
                                       "minutes_per_order": 2.0, "min_packers": 1}}


def forecast(days: pd.DatetimeIndex, median: float) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "FC-NYC", "ds": days, "model": "ensemble",
                         "0.1": 0.9 * median, "0.5": median, "0.9": 1.1 * median})


def test_a_night_shift_over_the_spring_change_needs_the_packers_of_its_real_seven_hours() -> None:
    days = pd.date_range("2026-03-06", "2026-03-09", freq="D")
    rows = forecast(days, 10000.0)
    plan = pd.DataFrame({"center_id": "FC-NYC", "shift": ["day", "swing", "night"], "orders_planned": [50, 30, 20]})
    got = whatif.packers_per_day(rows, PLAN_RUN, plan, "FC-NYC", ZONE)
    shares = whatif.plan_shares(plan, "FC-NYC", ["day", "swing", "night"])
    params = whatif.center_params(PLAN_RUN, "FC-NYC")
    planner = plan_staffing(rows, shares, params, shifts=parse_shifts(SHIFTS), zones=ZONE)
    pd.testing.assert_frame_equal(got, planner.groupby("ds")[whatif.DAY_TOTALS].sum())
    # Same orders every day; Saturday's night (22:00 to 06:00 Sunday) lasts 7 hours: more packers.
    assert got.loc["2026-03-07", "packers"] > got.loc["2026-03-06", "packers"] == got.loc["2026-03-09", "packers"]


def test_on_a_plan_without_center_configuration_the_baseline_is_the_stored_plan(make_database) -> None:
    """The seeded plan is the planner's (shifts and zones passed); without its ``centers`` the page
    takes the global-parameter path, whose baseline must be that plan's packers per day."""
    from sqlalchemy import update

    from fcplan.storage import make_engine
    from fcplan.storage import queries as q
    from fcplan.storage.schema import plan_runs

    url, _ = make_database()
    engine = make_engine(url)
    run = q.latest_plan_run(engine)
    stored = q.plan_frame(engine, run["plan_id"])
    params = {k: v for k, v in run["params"].items() if k != "centers"}
    with engine.begin() as conn:
        conn.execute(update(plan_runs).where(plan_runs.c.plan_id == run["plan_id"]).values(params=params))
    engine.dispose()
    at = run_page("views/whatif.py")
    assert not at.exception, at.exception
    center = at.sidebar.selectbox[0].value
    table = at.dataframe[0].value
    mine = stored[stored["center_id"] == center].groupby("day")["packers"].sum()
    shown = table["packers"].set_axis(pd.to_datetime(table.index.str[4:]).date)
    assert (shown == mine.reindex(shown.index)).all(), pd.concat([shown, mine], axis=1)
    assert "stored plan's parameters" in " ".join(str(c.value) for c in at.caption)
