"""The retrainer with any quantile set and long center ids: the hourly drift check runs
first, its alert is stored (fixed-length id, PostgreSQL too) and the decision sees it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
from sqlalchemy import select

from fcplan.app.loop import store_hours
from fcplan.core.contracts import ForecastAlert
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.settings import ForecastSettings
from fcplan.models.retrain import retrain
from fcplan.simulator import make_centers
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.storage import make_engine
from fcplan.storage import queries as q
from fcplan.storage.schema import forecast_runs

TZ = "Asia/Seoul"
START = pd.Timestamp("2025-06-01")
LONG_CENTER = "FC-" + "NORTH-GYEONGGI-MEGA-HUB-" * 2 + "0001"  # 55 characters
CFG = ForecastSettings(quantiles=(0.1, 0.5, 0.9), models=("glm",), horizon=7, backtest_windows=1)


def at(day: int, hour: int) -> datetime:
    return (START + pd.Timedelta(days=day, hours=hour)).tz_localize(TZ).tz_convert(UTC).to_pydatetime()


def test_with_quantiles_01_05_09_and_a_55_character_center_a_rise_is_alerted_and_retrained(db_url: str) -> None:
    engine = make_engine(db_url)
    hourly = sample_hourly_counts(make_centers(1, seed=3, scale=2.0), [], START, START + pd.Timedelta(days=44), 3, TZ)
    hourly[UNIQUE_ID] = LONG_CENTER
    later = hourly[DS] >= START + pd.Timedelta(days=41, hours=10)
    hourly.loc[later, Y] = (hourly.loc[later, Y] * 1.6).round()
    store_hours(engine, hourly[hourly[DS] < START + pd.Timedelta(days=40)], TZ)
    first = retrain(engine, CFG, TZ, now=at(40, 4))
    assert first.run_id is not None and "first run becomes champion" in first.message
    with engine.connect() as conn:  # the run keeps its members' error correlation for the dashboard
        row = select(forecast_runs.c.error_correlation).where(forecast_runs.c.run_id == first.run_id)
        correlation = conn.execute(row).scalar_one()
    assert correlation and all(correlation[m][m] == 1.0 for m in correlation)
    store_hours(engine, hourly[hourly[DS] >= START + pd.Timedelta(days=40)], TZ)
    hook = Endpoint()
    second = retrain(engine, CFG.model_copy(update={"alert_webhook": hook.url}), TZ, now=at(43, 4), drift_hours=72)
    assert "drifted" in second.message and LONG_CENTER in second.message
    alerts = q.alerts_frame(engine)
    assert alerts[["center_id", "kind", "status"]].values.tolist() == [[LONG_CENTER, "cusum_up", "open"]]
    assert len(alerts["alert_id"].iloc[0]) == 32
    assert [ForecastAlert.model_validate(a).alert_id for a in second.alerts] == alerts["alert_id"].tolist()
    assert [b["alert_id"] for b in hook.bodies] == alerts["alert_id"].tolist()  # posted before retrain returned
    hook.server.shutdown()


class Endpoint:
    """A local webhook receiver."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
