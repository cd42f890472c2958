"""The faust-streaming worker: thin loops around pure validation and one sink.

``orders``: the batch consumer task (:mod:`fcplan.streams.orders_consumer`): whole
fetches -> validate -> one database transaction (dedupe, lateness, insert,
hourly recount) -> dead letters and hourly aggregates (``center-demand``) ->
offsets committed. ``promotions``: a faust agent over ``take_events`` batches
(low volume), acked after the write, its consumer's positions checked by the
same log guard as the orders consumer's (:mod:`fcplan.streams.faust_guard`). A
crash replays at most uncommitted batches, which the idempotent sink absorbs; a
bad promotion read again is not dead-lettered again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import faust
from sqlalchemy import Engine

from fcplan.core import contracts
from fcplan.core.contracts import dead_letter
from fcplan.core.settings import Settings
from fcplan.core.webhook import Webhook
from fcplan.storage import make_engine
from fcplan.storage.outage import Backoff, backoff_s, call_through_outages, retry_outage
from fcplan.streams.counted import Origin
from fcplan.streams.faust_guard import GuardedTransport
from fcplan.streams.feed_watch import ClosedHour, load_feed_rates, open_feed_alerts, store_feed_alert
from fcplan.streams.log_guard import Handled
from fcplan.streams.orders_consumer import OrdersConsumer
from fcplan.streams.promotion_store import PromotionStore
from fcplan.streams.stop_deadline import StopDeadline
from fcplan.streams.validation import Limits

log = logging.getLogger(__name__)

#: An orders consumer that ran this long before failing starts again after the shortest backoff.
ORDERS_RESTART_RESET_S = 300.0


def limits_from(settings: Settings) -> Limits:
    s = settings.streams
    return Limits(
        max_bytes=s.max_message_bytes,
        max_lines=s.max_lines,
        max_units=s.max_units,
        max_future=timedelta(hours=s.max_future_hours),
        late_grace=timedelta(hours=s.late_grace_hours),
        centers=frozenset(settings.centers),
    )


class _App(faust.App):
    """faust's App, but its ``early_tasks`` start with the app rather than after it is ready.

    ``app.task`` functions start once the app's own consumer has joined its group and
    been assigned partitions. The orders consumer has a group of its own and needs
    nothing of faust's, so it joins at the same time: a worker is consuming orders one
    group join sooner (half the session timeout on the embedded broker, which answers
    a join after that long: 5 s with the default settings). Like ``app.task`` futures,
    these are cancelled when the app stops.
    """

    early_tasks: list[Any]

    def _new_transport(self) -> Any:
        """faust's aiokafka transport, with the log guard in its consumer
        (:mod:`fcplan.streams.faust_guard`): the promotions agent survives a broker that came
        back empty."""
        return GuardedTransport(self.conf.broker_consumer, self)

    async def on_start(self) -> None:
        await super().on_start()
        for task in getattr(self, "early_tasks", []):
            self.add_future(task())


class Worker:
    """Holds the app, its topics and the database engine (no module globals)."""

    def __init__(self, settings: Settings, engine: Engine | None = None, closed: ClosedHour | None = None) -> None:
        k = settings.kafka
        self.settings = settings
        self.limits = limits_from(settings)
        self.engine = engine or make_engine(settings.database.url)
        self.app = _App(
            settings.streams.app_id,
            broker=f"kafka://{k.servers}",
            store="memory://",
            key_serializer="raw",
            value_serializer="raw",
            topic_partitions=k.partitions,
            topic_replication_factor=1,
            topic_allow_declare=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            broker_rebalance_timeout=k.rebalance_timeout_s,
            broker_session_timeout=k.session_timeout_s,
            broker_heartbeat_interval=k.heartbeat_interval_s,
            broker_max_poll_interval=k.max_poll_interval_s,
            broker_commit_interval=1.0,
            web_enabled=False,
        )
        topic = self.app.topic
        self.promotions = topic(contracts.PROMOTIONS, key_serializer="raw", value_serializer="raw")
        self.promotions_dlq = topic(contracts.PROMOTIONS_DLQ, key_serializer="raw", value_serializer="raw")
        self.promotion_store = PromotionStore(self.engine, self.limits)
        #: the promotions dead-lettered lately: one read again is not dead-lettered (nor counted) again
        self.promotions_dead = Handled()
        self.app.agent(self.promotions, name="fcplan.promotions")(self._promotions_agent)
        url = settings.forecast.alert_webhook
        self.webhook = Webhook(url) if url else None
        self.orders_consumer = OrdersConsumer(settings, self.limits, on_feed=self._feed_alert,
                                              load_rates=lambda now: load_feed_rates(self.engine, now),
                                              closed=closed)
        self._restore_feed_alerts()
        self.app.early_tasks = [self._orders_task]

    def close_webhook(self, timeout_s: float) -> None:
        """Post the alerts still queued for the webhook (a feed alert raised as the worker stops),
        waiting at most ``timeout_s``; the daemon thread would otherwise die with them at exit."""
        if self.webhook is not None:
            self.webhook.close(timeout_s)

    def _restore_feed_alerts(self) -> None:
        """Take back the ``feed_stopped`` alerts a previous worker left open (it stopped during the
        silence): this worker's next records clear them; a database that fails here only logs."""
        try:
            for since in open_feed_alerts(self.engine):
                self.orders_consumer.feed.restore(since)
        except Exception:
            log.exception("the feed_stopped alerts left open could not be read: they stay open until a worker "
                          "starts that reads them")

    def _feed_alert(self, record: dict) -> None:
        """A whole-feed silence alert of the orders consumer: stored (the dashboard shows it; an outage
        is waited out a little, then logged) and posted to the webhook."""
        if self.webhook is not None:
            self.webhook.send(record)
        retry_outage(lambda: store_feed_alert(self.engine, record), attempts=3)

    def _origin(self, events: list[Any]) -> Origin:
        """Where faust read ``events``, as its guarded consumer tells (:meth:`GuardedConsumer.origin
        <fcplan.streams.faust_guard.GuardedConsumer.origin>`)."""
        return self.app.consumer.origin([e.message for e in events])

    async def _orders_task(self) -> None:
        """Run the orders consumer; whatever stops it, start it again after a backoff (what it
        had not committed is read again and absorbed by the idempotent sink)."""
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self.orders_consumer.run()
                return
            except asyncio.CancelledError as exc:
                if _cancelled():
                    raise
                # Not this task cancelled (the worker stopping) but a CancelledError raised inside the
                # consumer (a client's own task cancelled under it: seen once the broker had been gone two
                # minutes). Let through, it ended the orders consumer for good, the worker alive.
                error: BaseException = exc
            except Exception as exc:
                _stop_if_cancelled("orders: the consumer failed while stopping")
                error = exc
            failures = 0 if time.monotonic() - started > ORDERS_RESTART_RESET_S else failures
            delay = backoff_s(failures, 0.5, 30.0)
            failures += 1
            log.error("orders: the consumer stopped; starting it again in %.1f s", delay, exc_info=error)
            await asyncio.sleep(delay)

    async def _dead_letter(self, dlq: faust.TopicT, event: Any, reason: str, detail: str) -> None:
        key, value, headers = dead_letter(event.message, reason, detail)
        # faust's send returns once the record is handed to its producer: wait for the broker to take it
        # (a failed delivery only logged a warning, and the batch was acked and committed without it)
        await (await dlq.send(key=key, value=value, headers=headers))

    async def _promotions_agent(self, stream: faust.StreamT) -> None:
        # noack_take: faust acks nothing by itself, so a batch is committed only after
        # _store_promotions returned (take_events would ack it even when the agent is
        # cancelled in the middle of an outage).
        async for events in stream.noack_take(500, within=0.5):
            await self._store_promotions(events)
            for event in events:
                await stream.ack(event)

    async def _store_promotions(self, events: list[Any]) -> None:
        """Store a batch and dead-letter its rejects; retried until it succeeds, never raises
        (but for cancellation): no event and no outage stops the agent."""
        attempt = 0
        values = [event.value for event in events]
        origin = self._origin(events)  # once: the guard tells a replaced log once, a retry must keep it
        while True:
            try:
                dead = await self.promotion_store.store(values)
                for d in dead:
                    if events[d.index].message not in self.promotions_dead:
                        await self._dead_letter(self.promotions_dlq, events[d.index], d.reason, d.detail)
                        self.promotions_dead.add(events[d.index].message)  # a retry does not send it again
                await self.promotion_store.count(values, dead, origin)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                _stop_if_cancelled("promotions: a batch failed while stopping; it is read again")
                delay = backoff_s(attempt, 0.5, 30.0)
                attempt += 1
                log.exception("could not store a batch of %d promotions; retrying in %.1fs", len(events), delay)
                await asyncio.sleep(delay)


def _cancelled() -> bool:
    """Whether the current task is being cancelled (not merely handed a CancelledError from inside)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _stop_if_cancelled(what: str) -> None:
    """Inside ``except Exception``: re-raise as cancellation when the current task is being
    cancelled (the worker is stopping). A failure caused by the cancellation (a client
    that raises its own error when interrupted) must end the task, not start a retry
    that keeps the worker from stopping."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        log.warning("%s; not retrying", what, exc_info=True)
        raise asyncio.CancelledError from None


class _StoppingWorker(faust.Worker):
    """faust's Worker with a deadline on the graceful stop (:mod:`fcplan.streams.stop_deadline`)."""

    def __init__(self, *args: Any, deadline: StopDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def _on_sigterm(self) -> None:
        self.deadline.arm()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.deadline.arm()
        super()._on_sigint()


#: Seconds a stopping worker waits for its webhook to post the alerts still queued (at most the stop timeout).
WEBHOOK_CLOSE_S = 5.0

#: How the worker waits for a database that is down when it starts: 0.5 s doubling to 30 s.
OPEN_BACKOFF = Backoff(0.5, 2.0, 30.0)


def open_database(url: str, backoff: Backoff = OPEN_BACKOFF, **wait: Any) -> Engine:
    """The worker's engine (schema migrated), waiting out a database that is down at
    start, each retry logged (``wait``: :func:`~fcplan.storage.outage.call_through_outages`'s
    ``keep_going`` and ``sleep``, for tests). Other errors (a bad URL) propagate."""
    return call_through_outages(lambda: make_engine(url), "worker: opening the database", backoff, **wait)


def run_worker(settings: Settings, loglevel: str = "warn", closed: ClosedHour | None = None) -> None:
    """Run the worker until SIGINT/SIGTERM (blocks); ``closed``: the hours each center is closed
    (the centers file's closed days), when the feed watch expects none of its orders."""
    from fcplan.streams.topics import ensure_topics

    ensure_topics(settings.kafka.servers, settings.kafka.partitions)
    worker = Worker(settings, open_database(settings.database.url), closed)
    deadline = StopDeadline(settings.streams.stop_timeout_s)
    try:
        _StoppingWorker(worker.app, loglevel=loglevel, quiet=True, deadline=deadline).execute_from_commandline()
    finally:
        worker.close_webhook(min(WEBHOOK_CLOSE_S, settings.streams.stop_timeout_s))
