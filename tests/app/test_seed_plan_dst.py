"""The demo seeder's plan (``plan_staffing``) counts a shift's real length on a daylight-saving
day as the crew planner does: it planned every night shift on 8 hours, a spring-forward night too."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fcplan.app.seed_db import SeedSpec, seed_plan
from fcplan.storage import make_engine


def test_the_seeded_plan_staffs_the_short_spring_forward_night_for_its_seven_hours(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fcplan.db'}")
    hours = pd.date_range("2026-02-01", "2026-03-01", freq="h", inclusive="left")
    hourly = pd.DataFrame({"unique_id": "FC-NYC", "ds": hours, "y": 10.0})  # flat: a third a shift
    days = pd.date_range("2026-03-06", "2026-03-09")
    levels = ("0.05", "0.1", "0.5", "0.9", "0.95")
    # 576 orders a day, 192 a shift, 6.4 packer-hours at 2 minutes an order: one packer's 8 h x 0.85 =
    # 6.8 productive hours cover it, the 7 h x 0.85 = 5.95 of the night into the change do not
    forecast = pd.DataFrame([{"unique_id": "FC-NYC", "ds": d, **dict.fromkeys(levels, 576.0)} for d in days])
    plan = seed_plan(engine, hourly, forecast, SeedSpec(centers=("FC-NYC",), tz="America/New_York"))
    nights = plan[plan["shift"] == "night"].set_index("ds")["packers"]
    assert nights.to_dict() == {pd.Timestamp("2026-03-06"): 1, pd.Timestamp("2026-03-07"): 2,
                                pd.Timestamp("2026-03-08"): 1, pd.Timestamp("2026-03-09"): 1}
    assert plan.loc[plan["shift"] != "night", "packers"].eq(1).all()
    engine.dispose()
