"""The worker's whole-feed silence: no order read for N minutes while the broker answers is told once
(table, topic record, webhook) and cleared by the next order; a broker that does not answer is not a
silent feed, nor is a topic that never had an order."""

from __future__ import annotations

from fcplan.core.contracts import ForecastAlert
from fcplan.storage import make_engine
from fcplan.storage import queries as q
from fcplan.streams.feed_watch import CLEARED, FEED_STOPPED, OPEN, FeedWatch, broker_answers, store_feed_alert

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
