"""The worker's whole-feed silence: no order read for N minutes while the broker answers is told once
(table, topic record, webhook) and cleared by the next order; a broker that does not answer is not a
silent feed, nor is a topic that never had an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from fcplan.core.contracts import ForecastAlert
from fcplan.planner.centers import parse_centers
from fcplan.storage import make_engine
from fcplan.storage import queries as q
from fcplan.storage.schema import center_hourly
from fcplan.streams.feed_watch import (
    CLEARED,
    FEED_STOPPED,
    OPEN,
    FeedRates,
    FeedWatch,
    broker_answers,
    feed_rates,
    load_feed_rates,
    store_feed_alert,
)

T0 = 1_780_000_000.0  # seconds since the epoch


def watch_for(watch: FeedWatch, seconds: int, broker_up: bool = True, step: int = 5) -> list[dict]:
    start = watch.last_check or T0
    told = []
    for t in range(step, seconds + 1, step):
        record = watch.check(start + t, broker_up)
        if record is not None:
            told.append(record)
    return told


def test_no_order_read_for_the_set_minutes_while_the_broker_answers_is_told_once_then_cleared() -> None:
    watch = FeedWatch(silent_after_s=30 * 60)
    assert watch.fetched(120, T0) is None
    assert watch_for(watch, 29 * 60) == []
    told = watch_for(watch, 60 * 60)  # one alert however long it lasts
    assert [r["status"] for r in told] == [OPEN] and told[0]["kind"] == FEED_STOPPED
    assert "30 minutes" in told[0]["message"] and told[0]["center_id"] == "all"
    ForecastAlert.model_validate(told[0])  # the forecast-alerts record
    cleared = watch.fetched(3, watch.last_check + 1)
    assert cleared is not None and cleared["status"] == CLEARED and cleared["alert_id"] == told[0]["alert_id"]
    assert watch.fetched(3, watch.last_check + 2) is None


def test_a_broker_that_does_not_answer_or_a_topic_never_written_is_not_a_silent_feed() -> None:
    assert watch_for(FeedWatch(silent_after_s=60), 3600) == []  # no order ever read: a new install
    watch = FeedWatch(silent_after_s=30 * 60)
    watch.fetched(1, T0)
    assert watch_for(watch, 2 * 3600, broker_up=False) == []  # an outage: the consumer waits it out
    assert watch_for(watch, 29 * 60) == []  # the broker back: the silence counts from then
    assert [r["status"] for r in watch_for(watch, 2 * 60)] == [OPEN]
    assert watch_for(FeedWatch(silent_after_s=0), 3600) == []  # turned off


class FakeConsumer:
    def __init__(self, stamps: dict) -> None:
        self.stamps = stamps

    def assignment(self) -> set:
        return set(self.stamps)

    def last_poll_timestamp(self, tp):
        return self.stamps[tp]


def test_the_broker_answers_when_every_assigned_partition_had_a_fetch_response_lately() -> None:
    now = T0
    assert broker_answers(FakeConsumer({0: (now - 1) * 1000, 1: (now - 2) * 1000}), now)
    assert not broker_answers(FakeConsumer({0: (now - 1) * 1000, 1: (now - 300) * 1000}), now)
    assert not broker_answers(FakeConsumer({0: None}), now)
    assert not broker_answers(FakeConsumer({}), now)  # nothing assigned (a rebalance, no group)


def test_the_alert_is_stored_open_then_cleared_for_the_dashboard(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    watch = FeedWatch(silent_after_s=60)
    watch.fetched(1, T0)
    opened = watch_for(watch, 120)[0]
    store_feed_alert(engine, opened)
    store_feed_alert(engine, opened)  # told twice (a retry): one row
    stored = q.alerts_frame(engine)
    assert stored[["kind", "status"]].values.tolist() == [[FEED_STOPPED, OPEN]]
    store_feed_alert(engine, watch.fetched(1, T0 + 200))
    stored = q.alerts_frame(engine)
    assert stored["status"].tolist() == [CLEARED] and stored["cleared_at"].notna().all()
    assert "no order read" in stored["message"].iloc[0]


def test_an_alert_left_open_by_a_stopped_worker_is_cleared_by_the_next_workers_first_orders(sqlite_url: str) -> None:
    """A worker restarted during a silence knew nothing of the alert its predecessor opened: the
    stream health page showed it open for good; the new worker takes it back and its orders clear it."""
    from fcplan.core.settings import Settings
    from fcplan.streams.app import Worker
    from fcplan.streams.feed_watch import open_feed_alerts

    engine = make_engine(sqlite_url)
    before = FeedWatch(silent_after_s=60)
    before.fetched(1, T0)
    opened = watch_for(before, 120)[0]
    store_feed_alert(engine, opened)  # then the worker stops, the silence still on

    worker = Worker(Settings(), engine)  # the next worker reads the alerts left open
    after = worker.orders_consumer.feed
    assert open_feed_alerts(engine) == [T0]
    assert after.fetched(0, T0 + 300) is None  # an empty fetch ends nothing
    cleared = after.fetched(5, T0 + 400)
    assert cleared is not None and cleared["status"] == CLEARED and cleared["alert_id"] == opened["alert_id"]
    assert "7 minutes of silence" in cleared["message"]  # since the last order before the silence
    store_feed_alert(engine, cleared)
    assert q.alerts_frame(engine)["status"].tolist() == [CLEARED] and open_feed_alerts(engine) == []
    assert after.fetched(5, T0 + 401) is None  # told once


# -- rate-aware: what this worker normally reads at the hour (center_hourly) ---------------------------------------

DAY0 = datetime(2026, 11, 2)  # a Monday, naive UTC like center_hourly.hour


def history(days: int, per_hour: float = 10.0, open_hours: range = range(8, 20), center: str = "FC-A") -> list:
    """``center_hourly`` rows of ``days`` days from DAY0: ``per_hour`` orders at ``open_hours`` UTC, none at night."""
    return [(center, DAY0 + timedelta(days=d, hours=h), per_hour) for d in range(days) for h in open_hours]


def at(days: float, hours: float) -> float:
    return (DAY0 + timedelta(days=days, hours=hours)).replace(tzinfo=UTC).timestamp()


def rated_watch(rows: list, now: float, centers: tuple = ("FC-A",)) -> FeedWatch:
    watch = FeedWatch(silent_after_s=30 * 60)
    watch.set_rates(feed_rates(*zip(*rows, strict=True), now=now))
    watch.read(centers, now)
    return watch


def quiet_from(watch: FeedWatch, last: float, seconds: float, step: int = 60) -> list[tuple[float, dict]]:
    """A record at ``last``, then ``seconds`` of empty fetches (broker up): ``(when, record)`` told."""
    watch.fetched(5, last)
    told = []
    for t in range(step, int(seconds) + 1, step):
        record = watch.check(last + t, True)
        if record is not None:
            told.append((last + t, record))
    return told


def test_a_night_quiet_where_the_history_has_no_orders_does_not_alarm_a_fixed_rule_does() -> None:
    rows = history(35)
    last = at(35, 20.5)  # the evening's last order; the history has none from 20:00 to 08:00 UTC
    watch = rated_watch(rows, last)
    assert quiet_from(watch, last, 11 * 3600) == []  # the whole night and the early morning: silent
    fixed = FeedWatch(silent_after_s=30 * 60)  # the old rule: one alert (and a clear) every night
    assert [r["status"] for _, r in quiet_from(fixed, last, 11 * 3600)] == [OPEN]


def test_a_daytime_silence_alarms_once_the_missing_orders_were_unlikely_and_a_night_one_the_next_morning() -> None:
    rows = history(35)
    watch = rated_watch(rows, at(35, 9))
    told = quiet_from(watch, at(35, 10), 6 * 3600)  # 10 an hour: under 1e-6 after about 14 missing orders
    assert [r["status"] for _, r in told] == [OPEN]
    when, record = told[0]
    assert at(35, 11.3) <= when <= at(35, 11.5)  # 1.38 h: exp(-13.8) = 1e-6
    assert record["evidence"]["expected_orders"] >= 13.8 and "expected" in record["message"]
    assert watch.fetched(1, when + 60)["status"] == CLEARED  # cleared by the next records, as before
    busy = rated_watch(history(35, per_hour=200.0), at(35, 9))  # a busy feed: the set minutes still rule
    assert [(t - at(35, 10)) / 60 for t, _ in quiet_from(busy, at(35, 10), 3600)] == [30.0]
    evening = rated_watch(rows, at(35, 19))
    told = quiet_from(evening, at(35, 19.9), 14 * 3600)  # stopped at the evening's end: told next morning
    assert [r["status"] for _, r in told] == [OPEN] and at(36, 9) < told[0][0] < at(36, 9.5)
    assert told[0][1]["window_start"].hour == 19


def test_rates_use_the_same_hour_of_the_week_then_of_the_day_under_a_week_and_none_under_a_day() -> None:
    closed_sunday = [r for r in history(35) if r[1].weekday() != 6]
    rates = feed_rates(*zip(*closed_sunday, strict=True), now=at(35, 0))
    week = rates.per_center["FC-A"]
    assert week[10] == 10.0 and week[6 * 24 + 10] == 0.0 and week[3] == 0.0  # Monday 10:00, Sunday 10:00, night
    young = feed_rates(*zip(*history(3, center="FC-B"), strict=True), now=at(3, 0))
    assert young.per_center["FC-B"][6 * 24 + 10] == 10.0  # hour of the day: Sunday 10:00 as any 10:00
    assert feed_rates(*zip(*history(1, center="FC-C")[:5], strict=True), now=at(0, 13)).per_center == {}


def test_without_a_rate_for_a_center_read_the_fixed_rule_holds_and_only_centers_read_count() -> None:
    rows = history(35) + history(35, per_hour=500.0, open_hours=range(24), center="FC-OTHER")
    last = at(35, 22)
    mine = rated_watch(rows, last)  # this worker reads FC-A only: another worker holds FC-OTHER's partition
    assert quiet_from(mine, last, 6 * 3600) == []
    new = rated_watch(rows, last, centers=("FC-NEW",))  # no history for what it reads: the fixed rule
    assert [(t - last) / 60 for t, _ in quiet_from(new, last, 3600)] == [30.0]
    unread = FeedWatch(silent_after_s=30 * 60)
    unread.set_rates(feed_rates(*zip(*rows, strict=True), now=last))  # rates, no center read yet
    assert [(t - last) / 60 for t, _ in quiet_from(unread, last, 3600)] == [30.0]


def test_the_rates_are_read_from_center_hourly(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    now = datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp()
    rows = [{"center_id": "FC-A", "hour": datetime(2026, 12, 7, 10) - timedelta(days=7 * w), "orders": 4 * (w + 1),
             "lines": 1, "units": 1, "updated_at": datetime(2026, 12, 7)} for w in range(7)]
    with engine.begin() as conn:
        conn.execute(center_hourly.insert(), rows)
    rates = load_feed_rates(engine, now)
    assert rates.per_center["FC-A"][10] == (4 + 8 + 12 + 16) / 4  # the last four Mondays' 10:00 (today's first)


def test_the_consumer_reads_the_rates_off_the_loop_and_a_failing_database_only_waits() -> None:
    import asyncio

    from fcplan.core.settings import Settings
    from fcplan.streams.orders_consumer import OrdersConsumer
    from fcplan.streams.validation import Limits

    def broken(now: float):
        raise RuntimeError("no such table: center_hourly")

    async def one_pass(consumer: OrdersConsumer) -> None:
        task = asyncio.ensure_future(consumer._read_rates())
        await asyncio.sleep(0.2)
        task.cancel()

    failing = OrdersConsumer(Settings(), Limits(), load_rates=broken)
    asyncio.run(one_pass(failing))
    assert failing.feed.rates is None and failing._rates_due > 0  # tried again later; nothing raised
    rates = FeedRates({"FC-A": np.ones(168)})
    fine = OrdersConsumer(Settings(), Limits(), load_rates=lambda now: rates)
    asyncio.run(one_pass(fine))
    assert fine.feed.rates is rates


def test_a_closed_day_of_the_centers_file_expects_no_orders_of_that_center() -> None:
    rows = history(35, open_hours=range(24))  # orders every hour, Sundays too: the history has no closed day
    sunday = at(34, 0)  # DAY0 + 34 days is a Sunday
    closed = parse_centers({"defaults": {"timezone": "UTC", "closed_weekdays": ["Sun"]}}).closed_hours()
    open_watch = rated_watch(rows, sunday)
    assert [r["status"] for _, r in quiet_from(open_watch, sunday + 3600, 6 * 3600)] == [OPEN]
    watch = FeedWatch(silent_after_s=30 * 60, closed=closed)
    watch.set_rates(feed_rates(*zip(*rows, strict=True), now=sunday))
    watch.read(("FC-A",), sunday)
    assert quiet_from(watch, sunday + 3600, 22 * 3600) == []  # closed all Sunday: no silent feed
    told = quiet_from(watch, sunday + 23 * 3600, 6 * 3600)  # Monday's orders fail to come: told
    assert [r["status"] for _, r in told] == [OPEN]


def test_a_centers_closed_hours_are_its_local_days() -> None:
    seoul = parse_centers({"defaults": {"timezone": "Asia/Seoul", "closed_weekdays": ["Sun"]}}).closed_hours()
    saturday_15_utc = int(at(33, 15) // 3600)  # Sunday 00:00 in Seoul
    assert [seoul("FC-A", saturday_15_utc - 1), seoul("FC-A", saturday_15_utc)] == [False, True]
    assert seoul("FC-A", saturday_15_utc + 23) and not seoul("FC-A", saturday_15_utc + 24)
    listed = parse_centers({"centers": {"FC-B": {"timezone": "UTC", "closed_weekdays": ["Sun"]}}}).closed_hours()
    assert listed("FC-UNKNOWN", saturday_15_utc + 12) is False  # a center the file does not know: never closed


def test_closed_hours_asks_the_calendar_once_per_center_and_local_day(monkeypatch) -> None:
    """The watch asks for every center read and every hour of a quiet interval, on the event loop;
    the calendar (0.2 ms a call) is asked once per center and local day, not once per hour."""
    from fcplan.planner.centers import CenterConfig

    calls = []
    real = CenterConfig.closed

    def counted(self, days):
        calls.append(self.center_id)
        return real(self, days)

    monkeypatch.setattr(CenterConfig, "closed", counted)
    closed = parse_centers({"defaults": {"timezone": "Asia/Seoul", "closed_weekdays": ["Sun"]}}).closed_hours()
    first = int(at(33, 15) // 3600)  # Sunday 00:00 in Seoul
    seen = [[closed(c, h) for h in range(first, first + 72)] for c in ("FC-A", "FC-B")]
    assert seen[0] == seen[1] == [True] * 24 + [False] * 48
    assert len(calls) == 2 * 3  # two centers, three local days


def test_the_rates_of_many_centers_are_grouped_once_not_compared_per_center() -> None:
    """The hourly read of thousands of centers' rows (in a thread, but holding the GIL) must not compare
    every row with every center: that starved the worker's event loop for a minute each hour."""
    compared = []

    class Name(str):
        __hash__ = str.__hash__

        def __eq__(self, other: object) -> bool:
            compared.append(1)
            return str.__eq__(self, other)

    now = T0
    hours = [datetime.fromtimestamp(now, UTC).replace(tzinfo=None) - timedelta(hours=h) for h in range(1, 8 * 24 + 1)]
    names = [Name(f"FC-{i}") for i in range(40)]
    rows = [(c, h, float(i + 1)) for i, c in enumerate(names) for h in hours]
    rates = feed_rates(*zip(*rows, strict=True), now=now)
    assert sorted(rates.per_center) == sorted(names)
    assert [float(rates.per_center[c].mean()) for c in names] == [float(i + 1) for i in range(40)]
    assert len(compared) < len(rows)  # the old per-center mask: 40 comparisons a row
