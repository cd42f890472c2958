"""The drift loop on a database: a shift raises one alert (table, topic payload, webhook,
one retrain trigger); a retrain that fits the new level clears it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from scipy import stats

from fcplan.app.loop import store_hours
from fcplan.core.contracts import ForecastAlert
from fcplan.core.locales import Locales
from fcplan.core.panel import DS
from fcplan.models.drift_loop import DriftLoop
from fcplan.models.drift_monitor import CLEARED, DOWN, OPEN, UP, DriftMonitor
from fcplan.simulator import expected_daily, make_centers
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import Shift
from fcplan.storage import make_engine, upsert
from fcplan.storage import queries as q
from fcplan.storage.schema import forecast_runs, forecasts

TZ = "Asia/Seoul"
START = pd.Timestamp("2025-09-01")
LEVELS = [0.1, 0.5, 0.9]


def store_forecast(engine, run_id: str, center, data_end: pd.Timestamp, days: int, factor: float) -> None:
    truth = expected_daily([center], [], data_end + pd.Timedelta(days=1), data_end + pd.Timedelta(days=1 + days), TZ)
    rows = []
    for ds, mean, r in truth[[DS, "mean", "dispersion"]].itertuples(index=False):
        for level in LEVELS:
            value = float(stats.nbinom.ppf(level, r, r / (r + mean * factor)))
            rows.append(
                {
                    "run_id": run_id,
                    "unique_id": center.center_id,
                    "ds": ds.date(),
                    "model": "ensemble",
                    "quantile": level,
                    "value": value,
                }
            )
    with engine.begin() as conn:
        conn.execute(
            forecast_runs.insert(),
            {
                "run_id": run_id,
                "created_at": datetime(2025, 1, 1),
                "model_version": run_id,
                "horizon": days,
                "quantiles": LEVELS,
                "weights": {},
                "data_end": data_end.date(),
                "fit_seconds": 0.0,
                "fallbacks": {},
            },
        )
        upsert(conn, forecasts, rows, ["run_id", "unique_id", "ds", "model", "quantile"])


def at(local: pd.Timestamp) -> datetime:
    return local.tz_localize(TZ).tz_convert(UTC).to_pydatetime()


def test_a_shift_raises_one_alert_everywhere_and_a_fitting_retrain_clears_it(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    shift_at = START + pd.Timedelta(days=3, hours=11)
    hourly = sample_hourly_counts(
        [center],
        [],
        START - pd.Timedelta(days=30),
        START + pd.Timedelta(days=12),
        4,
        TZ,
        [Shift(center.center_id, shift_at.tz_localize(TZ).to_pydatetime(), 1.4)],
    )
    store_hours(engine, hourly, TZ)
    store_forecast(engine, "run-old", center, START - pd.Timedelta(days=31), 45, 1.0)
    published, posted, retrains = [], [], []
    loop = DriftLoop(
        engine,
        TZ,
        publish=lambda key, p: published.append((key, p)),
        webhook=posted.append,
        on_alert=retrains.append,
        backfill_hours=24 * 3,
    )
    for day in range(8):  # the loop runs every 6 hours for 8 days
        for hour in range(0, 24, 6):
            loop.run_once(at(START + pd.Timedelta(days=day, hours=hour)))
    assert retrains == [center.center_id]
    assert [p["status"] for _, p in published] == [OPEN] and len(posted) == 1
    record = ForecastAlert.model_validate(published[0][1])
    assert record.kind == UP and record.window_end > shift_at and record.model_version == "run-old"
    assert published[0][0] == center.center_id
    stored = q.alerts_frame(engine)
    assert stored[["alert_id", "status"]].values.tolist() == [[record.alert_id, OPEN]]

    store_forecast(engine, "run-new", center, START + pd.Timedelta(days=7), 20, 1.4)  # the triggered retrain
    for day in range(8, 12):
        for hour in range(0, 24, 6):
            loop.run_once(at(START + pd.Timedelta(days=day, hours=hour)))
    assert [p["status"] for _, p in published] == [OPEN, CLEARED]
    assert published[1][1]["alert_id"] == record.alert_id and published[1][1]["model_version"] == "run-new"
    stored = q.alerts_frame(engine)
    assert stored["status"].tolist() == [CLEARED] and stored["cleared_at"].notna().all()
    assert retrains == [center.center_id]


def test_when_the_publisher_is_down_the_alert_is_still_stored(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=4), 4, TZ)
    store_hours(engine, hourly, TZ)
    store_forecast(engine, "run-high", center, START - pd.Timedelta(days=31), 40, 1.5)  # 50 % too high

    def down(key: str, payload: dict) -> None:
        raise ConnectionError("broker down")

    events = DriftLoop(engine, TZ, publish=down, backfill_hours=72).run_once(at(START + pd.Timedelta(days=3)))
    assert [e.status for e in events] == [OPEN]
    assert q.alerts_frame(engine)["status"].tolist() == [OPEN]
    assert events[0].test == DOWN


def test_one_shot_runs_continue_an_open_alert_and_clear_it_without_reopening(sqlite_url: str) -> None:
    """As ``fcplan retrain`` runs it: a fresh loop each time, reading back the open alert."""
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=8), 4, TZ)
    store_hours(engine, hourly, TZ)
    store_forecast(engine, "run-high", center, START - pd.Timedelta(days=31), 32, 2.0)  # twice too high
    statuses = []
    for day in range(1, 3):
        statuses += [
            e.status for e in DriftLoop(engine, TZ, backfill_hours=48).run_once(at(START + pd.Timedelta(days=day)))
        ]
    assert statuses == [OPEN]  # the second run found it open: no second alert
    store_forecast(engine, "run-fit", center, START + pd.Timedelta(days=2), 20, 1.0)  # a retrain that fits
    for day in range(4, 7):
        statuses += [
            e.status for e in DriftLoop(engine, TZ, backfill_hours=48).run_once(at(START + pd.Timedelta(days=day)))
        ]
    assert statuses == [OPEN, CLEARED]
    assert q.alerts_frame(engine)["status"].tolist() == [CLEARED]


class _Recorder(DriftMonitor):
    """A monitor that records the local hour and the issued day it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[pd.Timestamp, str]] = []

    def observe(self, center_id, hour, count, quantiles, shares, run_id):  # type: ignore[override]
        self.seen.append((hour, run_id))
        return []


def test_each_center_is_judged_on_its_own_local_hours_and_days(sqlite_url: str) -> None:
    """A Los Angeles center in a Seoul-default setup: its hours are LA wall-clock hours,
    and each LA day is judged by the forecast for that LA day."""
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    la = "America/Los_Angeles"
    locales = Locales(TZ, zones={center.center_id: la})
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=3), 4, la)
    store_hours(engine, hourly, la)
    store_forecast(engine, "run-la", center, START - pd.Timedelta(days=31), 40, 1.0)
    recorder = _Recorder()
    now = (START + pd.Timedelta(days=2)).tz_localize(la).tz_convert(UTC).to_pydatetime()  # LA midnight
    DriftLoop(engine, locales, monitor=recorder, backfill_hours=24, settle_hours=0).run_once(now)
    hours = [h for h, _ in recorder.seen]
    assert len(hours) == 24
    # the last 24 complete hours before LA midnight are exactly LA's previous local day
    assert hours[0] == START + pd.Timedelta(days=1) and hours[-1] == START + pd.Timedelta(days=1, hours=23)
    # with one zone for all (Seoul), the same instants would be other wall-clock hours
    recorder_seoul = _Recorder()
    DriftLoop(engine, TZ, monitor=recorder_seoul, backfill_hours=24, settle_hours=0).run_once(now)
    assert [h for h, _ in recorder_seoul.seen] != hours


def test_the_incremental_loop_reads_only_new_hours_and_raises_the_same_alarms_as_a_full_recompute(
    sqlite_url: str, monkeypatch
) -> None:
    """Hours arrive as a stream; one loop keeps its state, the other re-reads the whole
    learning window every hour: the same alerts (open and cleared), hour for hour."""
    engine = make_engine(sqlite_url)
    centers = make_centers(2, seed=4)
    shift_at = START + pd.Timedelta(hours=15)  # alerted about 3 hours later
    hourly = sample_hourly_counts(
        centers,
        [],
        START - pd.Timedelta(days=30),
        START + pd.Timedelta(days=3),
        4,
        TZ,
        [Shift(centers[0].center_id, shift_at.tz_localize(TZ).to_pydatetime(), 1.4)],
    )
    store_hours(engine, hourly[hourly[DS] < START], TZ)
    for center in centers:
        store_forecast(engine, f"run-old-{center.center_id}", center, START - pd.Timedelta(days=31), 45, 1.0)
    reads: list[datetime] = []
    hourly_orders = q.hourly_orders

    def recording(engine, tz, since=None, zones=None):
        reads.append(since)
        return hourly_orders(engine, tz, since=since, zones=zones)

    monkeypatch.setattr(q, "hourly_orders", recording)
    incremental = DriftLoop(engine, TZ, backfill_hours=24)
    full = DriftLoop(engine, TZ, backfill_hours=24, incremental=False)
    seen: dict[str, list] = {"incremental": [], "full": []}
    for hour in range(1, 24 * 3):
        now = START + pd.Timedelta(hours=hour)
        store_hours(engine, hourly[(hourly[DS] >= now - pd.Timedelta(hours=1)) & (hourly[DS] < now)], TZ)
        if hour == 24:  # a retrain that fits the new level clears the alert (about a day later)
            store_forecast(engine, "run-new", centers[0], START, 10, 1.4)
        for name, loop in (("incremental", incremental), ("full", full)):
            reads.clear()
            events = loop.run_once(at(now))
            seen[name] += [(now, e.center_id, e.status, e.test, round(e.statistic, 9)) for e in events]
            if name == "incremental" and hour > 1:  # only the hour that settled since the last call
                utc_hour = now.tz_localize(TZ).tz_convert(UTC).tz_localize(None) - pd.Timedelta(hours=2)
                assert reads == [utc_hour.to_pydatetime()]
    assert [s for _, c, s, *_ in seen["full"] if c == centers[0].center_id][:2] == [OPEN, CLEARED]
    assert seen["incremental"] == seen["full"]


class _Counts(DriftMonitor):
    """A monitor that records each local hour and the count it is judged on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[pd.Timestamp, float] = {}

    def observe(self, center_id, hour, count, quantiles, shares, run_id):  # type: ignore[override]
        assert hour not in self.seen, f"{hour} judged twice"
        self.seen[hour] = count
        return []


def _one_center(sqlite_url: str):
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=2), 4, TZ)
    store_hours(engine, hourly[hourly[DS] < START], TZ)
    store_forecast(engine, "run", center, START - pd.Timedelta(days=31), 40, 1.0)
    return engine, center, hourly


def _store(engine, center, local_hour: pd.Timestamp, orders: int) -> None:
    store_hours(engine, pd.DataFrame({"unique_id": [center.center_id], DS: [local_hour], "y": [orders]}), TZ)


def test_an_hour_is_judged_once_it_has_settled_so_orders_arriving_just_after_it_count(sqlite_url: str) -> None:
    engine, center, _ = _one_center(sqlite_url)
    monitor = _Counts()
    loop = DriftLoop(engine, TZ, monitor=monitor, backfill_hours=2)
    ten = START + pd.Timedelta(hours=10)
    _store(engine, center, ten, 30)  # most of 10:00's orders, stored by 11:00
    loop.run_once(at(ten + pd.Timedelta(hours=1)))
    assert ten not in monitor.seen  # not settled yet (default: one hour)
    _store(engine, center, ten, 42)  # the stragglers, at 11:20
    loop.run_once(at(ten + pd.Timedelta(hours=2)))
    assert monitor.seen[ten] == 42.0
    assert loop.late == {}
    now_judged = DriftLoop(engine, TZ, monitor=_Counts(), backfill_hours=2, settle_hours=0)
    now_judged.run_once(at(ten + pd.Timedelta(hours=1)))
    assert now_judged.monitor.seen[ten] == 42.0  # settle_hours=0 judges an hour as soon as it ends


@pytest.mark.parametrize("incremental", [True, False])
def test_orders_arriving_for_an_hour_already_judged_are_counted_logged_and_learned(
    sqlite_url: str, incremental: bool, caplog
) -> None:
    engine, center, _ = _one_center(sqlite_url)
    loop = DriftLoop(engine, TZ, monitor=_Counts(), backfill_hours=3, incremental=incremental)
    nine = START + pd.Timedelta(hours=9)
    for hour in range(9, 13):
        _store(engine, center, START + pd.Timedelta(hours=hour), 40)
        loop.run_once(at(START + pd.Timedelta(hours=hour + 1)))
    assert loop.monitor.seen[nine] == 40.0 and loop.late == {}
    _store(engine, center, nine, 47)  # 7 orders for 09:00 arrive at 13:30, long after it was judged
    _store(engine, center, START + pd.Timedelta(hours=13), 40)
    with caplog.at_level("WARNING", logger="fcplan.models.drift_loop"):
        loop.run_once(at(START + pd.Timedelta(hours=14)))
        loop.run_once(at(START + pd.Timedelta(hours=15)))  # counted once
    assert loop.monitor.seen[nine] == 40.0  # not judged again
    late = loop.late[center.center_id]
    assert (late.orders, late.hours) == (7.0, 1)
    assert late.newest == nine.tz_localize(TZ).tz_convert(UTC).tz_localize(None)
    assert loop.status()[center.center_id]["late_orders"] == 7.0
    assert [r.message for r in caplog.records if "already judged" in r.message] != []
    utc_nine = nine.tz_localize(TZ).tz_convert(UTC).tz_localize(None)
    kept = loop._hours[center.center_id].set_index("hour_utc")["y"]
    assert kept[utc_nine] == 47.0  # the learned intraday profile uses the corrected count


def test_a_negative_settle_lag_is_refused_with_how_to_fix_it(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="settle_hours must be 0 or more"):
        DriftLoop(make_engine(sqlite_url), TZ, settle_hours=-1)


# The database refused the alert's write (an outage): run_once raised after the monitor had judged
# the hours, so the alert was never stored, nor sent, nor its retrain triggered.
def test_an_alert_the_database_refused_is_sent_and_stored_at_the_next_run(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from fcplan.models import drift_loop

    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=4), 4, TZ)
    store_hours(engine, hourly, TZ)
    store_forecast(engine, "run-high", center, START - pd.Timedelta(days=31), 40, 1.5)  # 50 % too high
    real = drift_loop.store_alert

    def down(*args: object) -> None:
        raise OperationalError("INSERT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(drift_loop, "store_alert", down)
    published, retrains = [], []
    loop = DriftLoop(engine, TZ, publish=lambda k, p: published.append(p), on_alert=retrains.append, backfill_hours=72)
    events = loop.run_once(at(START + pd.Timedelta(days=3)))
    assert [e.status for e in events] == [OPEN] and len(published) == 1 and retrains == [center.center_id]
    assert q.alerts_frame(engine).empty and len(loop.unstored) == 1
    loop.run_once(at(START + pd.Timedelta(days=3, hours=1)))  # still down: kept
    assert len(loop.unstored) == 1
    monkeypatch.setattr(drift_loop, "store_alert", real)
    loop.run_once(at(START + pd.Timedelta(days=3, hours=2)))
    assert q.alerts_frame(engine)["alert_id"].tolist() == [events[0].alert_id] and not loop.unstored
