"""The retrainer's drift check with any quantile set and long center ids, on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from fcplan.settings import ForecastSettings
from fcplan.storage import make_engine
from fcplan.storage import queries as q
from models.retrain import daily_alert_id, store_run, watch_drift

LONG_CENTER = "FC-" + "NORTH-GYEONGGI-MEGA-HUB-" * 2 + "0001"  # 55 characters


def stored_run(engine, run_id: str, data_end: str, days: pd.DatetimeIndex, levels: list[float]) -> None:
    forecast = pd.DataFrame({"unique_id": LONG_CENTER, "ds": days, "model": "ensemble"})
    for level in levels:
        forecast[f"{level:g}"] = 100.0 + 100.0 * (level - 0.5)
    result = SimpleNamespace(
        forecast=forecast,
        leaderboard=pd.DataFrame(columns=["model", "window", "wql"]),
        weights={"ets": 1.0},
        fallbacks={},
    )
    cfg = ForecastSettings(quantiles=tuple(levels), horizon=len(days) - 1)
    store_run(engine, run_id, "ensemble:ets=1.00", result, cfg, pd.Timestamp(data_end), 0.1)


def test_with_quantiles_01_05_09_and_a_55_character_center_the_drift_alerts_are_stored(db_url: str) -> None:
    engine = make_engine(db_url)
    days = pd.date_range("2026-03-01", periods=8, freq="D")
    stored_run(engine, "r1", "2026-02-28", days, [0.1, 0.5, 0.9])
    history = pd.DataFrame({"unique_id": LONG_CENTER, "ds": days, "y": [100.0] * 7 + [400.0]})
    alerts = watch_drift(engine, history, pd.Timestamp("2026-03-09"))
    assert alerts["kind"].tolist() == ["outside_band"]
    watch_drift(engine, history, pd.Timestamp("2026-03-09"))  # stored once, however often it runs
    stored = q.alerts_frame(engine)
    assert stored["center_id"].tolist() == [LONG_CENTER]
    assert stored["alert_id"].tolist() == [daily_alert_id(LONG_CENTER, days[-1], "outside_band")]
