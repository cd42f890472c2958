"""The silence watch: a center (or the whole feed) gone quiet is told within hours, not after the drift
monitor's ~3 days; night hours, closed days and days the forecast expects empty never alarm."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcplan.app.loop import store_hours
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift_loop import DriftLoop, open_alert_centers
from fcplan.models.drift_monitor import CLEARED, OPEN
from fcplan.models.silence import ALL_CENTERS, FEED_SILENT, SILENT, SilenceWatch, log_p_empty, silence_message
from fcplan.simulator import expected_daily, make_centers
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.storage import make_engine, upsert
from fcplan.storage import queries as q
from fcplan.storage.schema import forecast_runs, forecasts

TZ = "Asia/Seoul"
START = pd.Timestamp("2025-09-01")
LEVELS = [0.1, 0.5, 0.9]
#: a daytime profile: nothing from 22:00 to 06:00
SHARES = np.array([0.0] * 6 + [1.0] * 16 + [0.0] * 2) / 16


def feed(watch: SilenceWatch, counts: list[float], day=(320.0, 20.0), closed: bool = False, first=START) -> list:
    events = []
    for i, count in enumerate(counts):
        hour = first + pd.Timedelta(hours=i)
        events += watch.observe("fc", hour, count, day, float(SHARES[hour.hour]), "v1", closed)
    return events


def test_the_chance_of_an_empty_stretch_falls_with_the_orders_expected_in_it() -> None:
    assert log_p_empty(0.0, 20.0, 0.5) == 0.0
    assert log_p_empty(100.0, 1e6, 0.1) == pytest.approx(-10.0, abs=1e-3)  # no day-level noise: Poisson
    wide, narrow = log_p_empty(100.0, 2.0, 0.5), log_p_empty(100.0, 50.0, 0.5)
    assert narrow < wide < 0  # a forecast unsure of the day's level expects empty hours more readily
    assert log_p_empty(100.0, 20.0, 0.5) < log_p_empty(100.0, 20.0, 0.2) < log_p_empty(10.0, 20.0, 0.2)


def test_a_busy_center_gone_quiet_alarms_within_hours_and_clears_at_its_next_order() -> None:
    watch = SilenceWatch()
    quiet_from = 10  # 20 orders an hour expected from 06:00; nothing from 10:00
    events = feed(watch, [20.0] * quiet_from + [0.0] * 14 + [5.0])
    opened = [e for e in events if e.status == OPEN]
    assert len(opened) == 1 and opened[0].test == SILENT
    assert opened[0].window_start == START + pd.Timedelta(hours=quiet_from)
    assert opened[0].window_end <= START + pd.Timedelta(hours=quiet_from + 4)
    assert events[-1].status == CLEARED and events[-1].alert_id == opened[0].alert_id


def test_night_hours_closed_days_and_days_expected_empty_never_alarm() -> None:
    watch = SilenceWatch()
    night = [20.0 if SHARES[h] > 0 else 0.0 for h in range(24)] * 7  # a week, orders only by day
    assert feed(watch, night) == []
    assert feed(SilenceWatch(), [0.0] * 24 * 3, closed=True) == []  # closed three days
    # a Sunday the forecast expects nearly empty: median 1 order, a lower tail at 0
    assert feed(SilenceWatch(), [0.0] * 24, day=(1.5, 0.8)) == []


def store_forecast(engine, run_id: str, centers, data_end: pd.Timestamp, days: int) -> None:
    first = data_end + pd.Timedelta(days=1)
    truth = expected_daily(centers, [], first, first + pd.Timedelta(days=days), TZ)
    rows = [
        {"run_id": run_id, "unique_id": uid, "ds": ds.date(), "model": "ensemble", "quantile": level,
         "value": float(stats.nbinom.ppf(level, r, r / (r + mean)))}
        for uid, ds, mean, r in truth[[UNIQUE_ID, DS, "mean", "dispersion"]].itertuples(index=False)
        for level in LEVELS
    ]
    with engine.begin() as conn:
        conn.execute(forecast_runs.insert(), {
            "run_id": run_id, "created_at": datetime(2025, 1, 1), "model_version": run_id, "horizon": days,
            "quantiles": LEVELS, "weights": {}, "data_end": data_end.date(), "fit_seconds": 0.0, "fallbacks": {},
        })
        upsert(conn, forecasts, rows, ["run_id", "unique_id", "ds", "model", "quantile"])


def at(local: pd.Timestamp) -> datetime:
    return local.tz_localize(TZ).tz_convert(UTC).to_pydatetime()


def test_a_feed_gone_silent_is_told_within_hours_per_center_and_once_for_the_feed(sqlite_url: str) -> None:
    """The producer dies at 11:00 on day 3: both centers alert within hours (the drift monitor needed
    about three days on low volumes), then one whole-feed alert; webhook and table have them, and no
    retrain is triggered (by them, nor by the drift monitor's fall of the same hours: it would learn the
    silence)."""
    engine = make_engine(sqlite_url)
    centers = make_centers(2, seed=4)
    silent_from = START + pd.Timedelta(days=3, hours=11)
    hourly = sample_hourly_counts(centers, [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=5), 4, TZ)
    hourly.loc[hourly[DS] >= silent_from, Y] = 0.0
    store_hours(engine, hourly[hourly[Y] > 0], TZ)
    store_forecast(engine, "run", centers, START - pd.Timedelta(days=31), 40)
    posted, retrains = [], []
    loop = DriftLoop(engine, TZ, webhook=posted.append, on_alert=retrains.append, backfill_hours=24)
    opened: dict[str, pd.Timestamp] = {}
    for hour in range(3 * 24, 4 * 24 + 12):
        now = START + pd.Timedelta(hours=hour)
        for event in loop.run_once(at(now)):
            if event.status == OPEN:
                opened.setdefault(event.test + ":" + event.center_id, now)
    silent = {k: v for k, v in opened.items() if k.startswith(SILENT)}
    assert sorted(silent) == sorted(f"{SILENT}:{c.center_id}" for c in centers)
    assert max(silent.values()) <= silent_from + pd.Timedelta(hours=6)  # 1 hour of it to settle
    assert opened[f"{FEED_SILENT}:{ALL_CENTERS}"] == max(silent.values())
    assert retrains == []
    told = [p for p in posted if p["kind"] in (SILENT, FEED_SILENT)]
    assert len(told) == 3 and all("no orders" in p["message"] for p in told)
    assert {SILENT, FEED_SILENT} <= set(q.alerts_frame(engine)["kind"])
    # the drift monitor's own (down) alerts still count as drift in the retrainer, the silence ones do not
    assert ALL_CENTERS not in open_alert_centers(engine)


def test_a_center_closed_on_its_silent_day_does_not_alarm(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    center = make_centers(1, seed=4)[0]
    closed_day = (START + pd.Timedelta(days=3)).date()
    hourly = sample_hourly_counts([center], [], START - pd.Timedelta(days=30), START + pd.Timedelta(days=5), 4, TZ)
    store_hours(engine, hourly[hourly[DS].dt.date != closed_day], TZ)
    store_forecast(engine, "run", [center], START - pd.Timedelta(days=31), 40)

    def closed(uid: str, day: date) -> bool:
        return day == closed_day

    events = DriftLoop(engine, TZ, backfill_hours=24, closed=closed).run_once(at(START + pd.Timedelta(days=4, hours=2)))
    assert [e for e in events if e.test == SILENT] == []
    events = DriftLoop(engine, TZ, backfill_hours=24).run_once(at(START + pd.Timedelta(days=4, hours=2)))
    assert [e.test for e in events if e.status == OPEN and e.test == SILENT] == [SILENT]  # not told: it alarms


def test_the_whole_feed_is_silent_when_every_center_is_empty_and_two_of_them_unusually() -> None:
    """A small center (8 orders a day) never alarms alone in a few hours, but its quiet adds to a busy
    one's; a busy center silent while the small one still sends is that center, not the feed."""

    def run(small_counts: list[float]) -> list[str]:
        watch, told = SilenceWatch(), []
        for i, small in enumerate(small_counts):
            hour = START + pd.Timedelta(hours=i)
            busy = 20.0 if i < 8 else 0.0
            told += [e.test for e in watch.observe("busy", hour, busy, (320.0, 20.0), float(SHARES[hour.hour]), "v")]
            told += [e.test for e in watch.observe("small", hour, small, (8.0, 20.0), float(SHARES[hour.hour]), "v")]
            told += [e.test for e in watch.feed(["busy", "small"], hour)]
        return told

    assert run([0.0] * 24) == [SILENT, FEED_SILENT]
    assert run([1.0 if h % 3 == 0 else 0.0 for h in range(24)]) == [SILENT]


def test_centers_in_different_zones_are_lined_up_on_one_clock_for_the_whole_feed() -> None:
    """Two Seoul centers silent since 13:00 their time (each alarmed alone) and a small Los Angeles
    center that sent its last order at 07:00 its time (14 hours later): its first empty hour is no
    evidence that the feed stopped. Their local hours compared as one clock took Seoul's 13:00 for the
    feed's last order (ten hours before Los Angeles' own) and alarmed on the whole feed at once."""
    watch, told = SilenceWatch(), []
    seoul, la = pd.Timedelta(hours=9), pd.Timedelta(hours=-8)
    first = pd.Timestamp("2025-09-01 00:00")  # UTC
    for i in range(26):
        at = first + pd.Timedelta(hours=i)  # Seoul 09:00 to 10:00, Los Angeles 17:00 to 18:00
        for c in ("seoul-1", "seoul-2"):
            local = at + seoul
            count = 30.0 if i < 4 else 0.0  # silent from 13:00 Seoul time (04:00 UTC)
            told += watch.observe(c, local, count, (320.0, 20.0), float(SHARES[local.hour]), "v", at=at)
        local = at + la
        count = 1.0 if i < 15 else 0.0  # its last order in the hour 07:00 Los Angeles time (14:00 UTC)
        told += watch.observe("la", local, count, (8.0, 20.0), 1 / 24, "v", at=at)
        told += watch.feed(["seoul-1", "seoul-2", "la"], at)
        if i == 17:
            assert [e for e in told if e.test == FEED_SILENT] == []  # Seoul's night since 15:00 UTC: no evidence
    assert sorted(e.center_id for e in told if e.test == SILENT) == ["seoul-1", "seoul-2"]
    feed_alerts = [e for e in told if e.test == FEED_SILENT]  # Seoul's morning: the feed has stopped
    assert [e.status for e in feed_alerts] == [OPEN] and feed_alerts[0].window_start == first + pd.Timedelta(hours=15)
    assert "since Mon 01 Sep 15:00 UTC" in silence_message(feed_alerts[0])


def test_the_feed_alert_clears_at_an_order_not_at_an_hour_that_judged_no_center() -> None:
    """An hour in which the drift loop judged fewer than two centers (their forecast missing, nothing
    settled) cleared an open feed alert as if orders came, and the next hour opened it again."""
    watch, told = SilenceWatch(), []
    for i in range(24):
        hour = START + pd.Timedelta(hours=i)
        for c in ("a", "b"):
            told += watch.observe(c, hour, 20.0 if i < 8 else 0.0, (320.0, 20.0), float(SHARES[hour.hour]), "v")
        told += watch.feed(["a", "b"], hour)
    assert [e.status for e in told if e.test == FEED_SILENT] == [OPEN]
    assert watch.feed([], START + pd.Timedelta(hours=24)) == []  # nothing judged: still open
    assert watch.feed(["a"], START + pd.Timedelta(hours=24)) == []
    hour = START + pd.Timedelta(hours=25)
    watch.observe("a", hour, 3.0, (320.0, 20.0), float(SHARES[hour.hour]), "v")
    assert [e.status for e in watch.feed(["a", "b"], hour)] == [CLEARED]
