"""The orders hot path: whole fetches from Kafka, one transaction each, commit after.

faust's Stream delivers events one at a time through its conductor, channel and
processors; measured on this project's 2-core machines that tops out at about
6,000-12,000 events/s even with ``take_events`` and no work per event
(``benchmarks/stream_throughput.py`` measures the worker; the numbers are in the
README). The orders topic is therefore read by this batch consumer, a task of
the faust app, as a pipeline over two processes:

* here, on the event loop, ``getmany`` hands over up to ``batch_size``
  records, whose raw values go to the writer process
  (:mod:`fcplan.streams.order_writer`) while the loop fetches the next batch;
* the writer decodes and validates the whole batch in one pass
  (:func:`fcplan.streams.batch_decode.decode_fetch`) and stores it in one
  transaction (:func:`fcplan.streams.order_sink.write_order_columns`), batches in
  fetch order, one at a time.

Only after a batch's transaction has committed and its dead letters are
acknowledged by the broker are its offsets committed (at most every
``commit_every_s``, and whenever the stream goes idle). A crash at any point
replays uncommitted records, which the idempotent sink absorbs. Positions are
checked against the log they point into after a rebalance or a pause, and
offsets fetched before a rebalance or a failed commit are never committed
(:mod:`fcplan.streams.log_guard`): a broker that came back empty is read from
its start.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from asyncio import FIRST_COMPLETED
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fcplan.core.contracts import CENTER_DEMAND, FORECAST_ALERTS, ORDERS, ORDERS_DLQ, ForecastAlert, dead_letter
from fcplan.core.settings import Settings
from fcplan.storage.outage import describe, is_outage, retry_outage
from fcplan.streams.counted import Origin
from fcplan.streams.feed_watch import (
    OPEN,
    RATES_EVERY_S,
    RATES_RETRY_S,
    ClosedHour,
    FeedRates,
    FeedWatch,
    broker_answers,
)
from fcplan.streams.log_guard import LogGuard
from fcplan.streams.order_writer import OrderWriter, WrittenBatch
from fcplan.streams.validation import Limits

log = logging.getLogger(__name__)

#: Batches handed to the writer ahead of their results: one being written, the rest queued.
_IN_FLIGHT = 3
#: Offsets are committed at most this often while the stream is busy.
COMMIT_EVERY_S = 0.2
#: Allocations between two young-generation garbage collections (CPython's default: 700).
_GC_YOUNG = 50_000
#: Bytes asked of each partition per fetch: about 8,000 orders. 4 MB was no
#: faster (once fetches were no longer held open, below) and its replies take
#: longer to arrive.
_PARTITION_FETCH_BYTES = 1024**2
#: How long the broker may hold a fetch open waiting for new data. aiokafka keeps
#: one fetch per broker in flight and leaves partitions with buffered records
#: out of it: with the default 500 ms, a fetch of caught-up partitions held the
#: backlog of the others back for up to half a second.
_FETCH_MAX_WAIT_MS = 50


#: A batch unanswered this long (the writer is waiting out a database outage, or
#: the database is very slow) pauses fetching; see :class:`_Stall`.
_STALL_S = 5.0
#: How long each keep-alive poll of paused partitions waits.
_KEEPALIVE_POLL_MS = 1000
#: Publishing a batch's aggregates or committing its offsets longer than this means the
#: client is stuck (aiokafka's own requests time out after 40 s, but a commit retries
#: retriable errors without end): the consumer is torn down and started again.
STUCK_S = 120.0
#: How often the consumer logs what it has done (``fcplan worker -v``).
HEARTBEAT_S = 30.0


@dataclass
class _InFlight:
    epoch: int  # the log guard's epoch when the fetch returned
    fetched: dict
    records: list[Any]
    written: asyncio.Future[WrittenBatch]
    sent: float  # time.monotonic() when handed to the writer


class _Stall:
    """Keeps the consumer in its group while the writer cannot write.

    When every in-flight batch waits for the writer (a database outage: the
    writer retries with backoff, :mod:`fcplan.storage.outage`), the pump stops
    taking records but must go on calling ``getmany``: aiokafka leaves the
    group once ``max_poll_interval_ms`` passes without one, and the partitions
    would move to another member mid-outage. So after ``_STALL_S`` without an
    answer the assigned partitions are paused (records fetched for them are
    dropped and fetched again after resuming, from the consumed position) and
    ``getmany`` is called every ``_KEEPALIVE_POLL_MS``; when the writer answers,
    the partitions resume. No offset is committed for a batch until it is written.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.since: float | None = None
        self.polls = 0
        self._waited = 0.0
        self._answered = 0.0  # time.monotonic() of the writer's last answer

    def waiting(self, sent: float) -> None:
        """The oldest batch in flight, handed over at ``sent``, is still unanswered:
        the writer has worked on it since then or since its previous answer."""
        self._waited = time.monotonic() - max(sent, self._answered)

    def stalled(self) -> bool:
        """Whether fetching is (now) paused: pauses whatever is assigned, counts the poll."""
        if self._waited < _STALL_S:
            return False
        assigned = self.consumer.assignment()
        if self.since is None:
            self.since = time.monotonic() - self._waited
            log.warning(
                "orders: the writer has not answered for %.0f s (database unavailable?); fetching paused, "
                "the consumer stays in its group, nothing is committed until the batches are written",
                self._waited,
            )
        if assigned:
            self.consumer.pause(*assigned)  # again each time: partitions assigned since come paused too
        self.polls += 1
        return True

    def wrote(self, outcome: WrittenBatch) -> None:
        self._waited, self._answered = 0.0, time.monotonic()
        if outcome.retries:
            log.warning("orders: a batch was written after %d database retries (%.1f s of backoff)",
                        outcome.retries, outcome.outage_s)

    def end(self) -> None:
        """The writer has room again: resume fetching if it was paused."""
        if self.since is None:
            return
        paused = self.consumer.paused()
        if paused:
            self.consumer.resume(*paused)
        log.warning("orders: fetching resumed after %.1f s paused (%d keep-alive polls)",
                    time.monotonic() - self.since, self.polls)
        self.since, self.polls, self._waited = None, 0, 0.0


@dataclass
class _Written:
    epoch: int
    last: dict  # partition -> the batch's last record there
    deliveries: list[asyncio.Future]


class ConsumerStuck(RuntimeError):
    """A publish or commit did not finish within :data:`STUCK_S`; the consumer restarts."""


class OrdersConsumer:
    """Consumes ``orders`` in batches for one worker process (see module docstring)."""

    def __init__(self, settings: Settings, limits: Limits, on_feed: Callable[[dict], None] | None = None,
                 load_rates: Callable[[float], FeedRates] | None = None, closed: ClosedHour | None = None) -> None:
        # ``on_feed``: told each whole-feed silence alert record (open, cleared), off the event loop;
        # ``load_rates``: reads the feed watch's hourly rates (feed_watch.load_feed_rates), off the event loop;
        # ``closed``: the hours each center is closed (the centers file), which expect none of its orders
        self.settings = settings
        self.limits = limits
        self.feed = FeedWatch(settings.streams.feed_silence_minutes * 60.0, closed=closed)
        self.on_feed = on_feed
        self.load_rates = load_rates
        self._rates_due = 0.0  # when the rates are read next (time.time()); survives a restart of run()
        self.batches = 0
        self.records = 0
        self.guard = LogGuard(None, {})

    def _consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        k, s = self.settings.kafka, self.settings.streams
        consumer = AIOKafkaConsumer(
            bootstrap_servers=k.servers,
            group_id=f"{s.app_id}-orders",
            client_id=f"{s.app_id}-orders",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_size,
            max_partition_fetch_bytes=_PARTITION_FETCH_BYTES,
            fetch_max_bytes=16 * 1024**2,
            fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            session_timeout_ms=int(k.session_timeout_s * 1000),
            heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
            max_poll_interval_ms=int(k.max_poll_interval_s * 1000),
        )
        # The marks of commits outlive a consumer started again; what it had seen does not.
        self.guard = LogGuard(consumer, self.guard.marks, self.guard.history)
        consumer.subscribe([ORDERS], listener=self.guard)
        return consumer

    def _producer(self) -> Any:
        from aiokafka import AIOKafkaProducer

        # Not idempotent: the embedded broker rejects InitProducerId; exactness
        # comes from idempotent writes and commit-after-write instead.
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.servers, acks="all", linger_ms=5, enable_idempotence=False
        )

    async def run(self, on_batch: Callable[[WrittenBatch], None] | None = None) -> None:
        consumer, producer = self._consumer(), self._producer()
        # The writer process starts first: it imports and opens the database while the group is joined.
        async with OrderWriter(self.settings.database.url, self.limits, slots=_IN_FLIGHT) as writer:
            try:
                await producer.start()
                await consumer.start()
                _tune_gc()
                heartbeat = asyncio.ensure_future(self._heartbeat())
                rates = asyncio.ensure_future(self._read_rates())
                try:
                    await self._pump(consumer, producer, writer, on_batch)
                finally:
                    heartbeat.cancel()
                    rates.cancel()
            finally:
                await writer.close()  # its batch in progress ends before the partitions are handed over
                await _stop_client(consumer, "the orders consumer")
                await _stop_client(producer, "the orders producer")

    async def _pump(
        self, consumer: Any, producer: Any, writer: OrderWriter, on_batch: Callable[[WrittenBatch], None] | None
    ) -> None:
        """Fetch, hand over, publish and commit, until cancelled (see the module docstring)."""
        s = self.settings.streams
        inflight: deque[_InFlight] = deque()
        written: deque[_Written] = deque()
        fetch: asyncio.Future | None = None
        guard = self.guard
        stall = _Stall(consumer)
        last_commit = time.monotonic()
        try:
            while True:
                if len(inflight) < _IN_FLIGHT:
                    stall.end()
                    if fetch is None:
                        fetch = asyncio.ensure_future(
                            _getmany(consumer, guard, timeout_ms=int(s.batch_within_s * 1000), max_records=s.batch_size)
                        )
                elif fetch is None and stall.stalled():
                    fetch = asyncio.ensure_future(_getmany(consumer, guard, timeout_ms=_KEEPALIVE_POLL_MS))
                head = inflight[0].written if inflight else None
                await asyncio.wait(
                    [f for f in (fetch, head) if f is not None],
                    timeout=None if fetch is not None else _STALL_S,
                    return_when=FIRST_COMPLETED,
                )
                if head is not None and head.done():
                    done = inflight.popleft()
                    outcome = done.written.result()
                    deliveries = await _bounded(self._publish(producer, done.records, outcome), "publishing a batch")
                    written.append(_Written(done.epoch, _last_records(done.fetched), deliveries))
                    self.batches += 1
                    self.records += len(done.records)
                    stall.wrote(outcome)
                    if outcome.hourly:
                        self.feed.read({row.center_id for row in outcome.hourly}, time.time())
                    if on_batch is not None:
                        on_batch(outcome)
                elif head is not None:
                    stall.waiting(inflight[0].sent)
                idle = False
                if fetch is not None and fetch.done():
                    (epoch, fetched), fetch = fetch.result(), None
                    fetched = guard.admit(fetched, epoch)
                    records = [r for batch in fetched.values() for r in batch]
                    if records:  # (also from a keep-alive poll: a partition assigned since it paused)
                        values = [r.value for r in records]
                        origin = Origin.of_fetch(fetched, guard.take_restarted(fetched))
                        inflight.append(
                            _InFlight(epoch, fetched, records, writer.submit(values, origin), time.monotonic())
                        )
                    idle = not records and not inflight
                    told = self.feed.fetched(len(records), time.time())
                    if told is not None:
                        await self._tell_feed(producer, told)
                now = time.time()
                told = self.feed.check(now, broker_answers(consumer, now))
                if told is not None:
                    await self._tell_feed(producer, told)
                if written and (idle or time.monotonic() - last_commit >= COMMIT_EVERY_S):
                    await _bounded(self._commit_delivered(consumer, written, wait=idle), "committing offsets")
                    last_commit = time.monotonic()
        finally:
            if fetch is not None:
                fetch.cancel()

    async def _tell_feed(self, producer: Any, record: dict) -> None:
        """Log a whole-feed silence alert, publish it on ``forecast-alerts`` and hand it to ``on_feed``
        (the table, the webhook); a failing channel is logged, never fatal."""
        (log.error if record["status"] == OPEN else log.warning)("orders: %s", record["message"])
        try:
            value = ForecastAlert.model_validate(record).to_bytes()
            await _bounded(producer.send_and_wait(FORECAST_ALERTS, value=value, key=b"all"), "publishing a feed alert")
        except Exception:
            log.exception("orders: the feed alert could not be published on %s", FORECAST_ALERTS)
        if self.on_feed is not None:
            try:
                await asyncio.to_thread(self.on_feed, record)
            except Exception:
                log.exception("orders: the feed alert could not be stored or posted")

    async def _read_rates(self) -> None:
        """Read the feed watch's rates every :data:`RATES_EVERY_S` (after a failure, :data:`RATES_RETRY_S`),
        off the event loop; an outage (tried three times) or any other failure is logged and the watch
        keeps the rates it had (none: the fixed rule). Never ends the consumer."""
        if self.load_rates is None or not self.feed.silent_after_s:
            return
        while True:
            await asyncio.sleep(max(0.0, self._rates_due - time.time()))
            now = time.time()
            try:
                rates = await asyncio.to_thread(retry_outage, partial(self.load_rates, now), 3)
            except Exception as exc:
                if is_outage(exc):
                    log.warning("orders: the feed watch's rates were not read: %s",
                                describe(self.settings.database.url, exc))
                else:
                    log.exception("orders: the feed watch's rates could not be read")
                self._rates_due = now + RATES_RETRY_S
                continue
            self.feed.set_rates(rates)
            self._rates_due = now + RATES_EVERY_S

    async def _heartbeat(self) -> None:
        """Log progress every :data:`HEARTBEAT_S`: a consumer that has stopped moving shows in the log."""
        batches, records = self.batches, self.records
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            log.info(
                "orders: %d batches (%d records) written in the last %.0f s, %d since start",
                self.batches - batches, self.records - records, HEARTBEAT_S, self.batches,
            )
            batches, records = self.batches, self.records

    async def _publish(self, producer: Any, records: list[Any], outcome: WrittenBatch) -> list[asyncio.Future]:
        """Send the batch's dead letters and touched hours; returns their delivery futures."""
        pending = []
        for i, reason, detail in outcome.dead:
            key, value, headers = dead_letter(records[i], reason, detail)
            pending.append(await producer.send(ORDERS_DLQ, value=value, key=key, headers=headers))
        for row in outcome.hourly:
            pending.append(await producer.send(CENTER_DEMAND, value=row.to_bytes(), key=row.center_id.encode()))
        if outcome.dead:
            log.warning("orders: %d dead letters %s", len(outcome.dead), dict(Counter(r for _, r, _ in outcome.dead)))
        return pending

    async def _commit_delivered(self, consumer: Any, written: deque[_Written], wait: bool) -> None:
        """Commit the offsets of the written batches whose dead letters the broker has
        acknowledged (all of them when ``wait``), oldest first; those fetched before the log
        guard's current epoch are left out (see :mod:`fcplan.streams.log_guard`)."""
        last: dict = {}
        while written:
            head = written[0]
            if wait:
                await asyncio.gather(*head.deliveries)  # a failed delivery raises: nothing more is committed
            elif not all(f.done() for f in head.deliveries):
                break
            for f in head.deliveries:
                f.result()
            done = written.popleft()
            if done.epoch == self.guard.epoch:
                last.update(done.last)
        if last:
            await self._commit(consumer, last)

    async def _commit(self, consumer: Any, last: dict) -> None:
        """Commit one past each partition's record in ``last``; on success these records become
        the guard's marks."""
        from aiokafka.errors import CommitFailedError, IllegalStateError
        from aiokafka.structs import OffsetAndMetadata

        self.guard.committing(last)
        try:
            await consumer.commit({tp: OffsetAndMetadata(r.offset + 1, "") for tp, r in last.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance moved the partitions (the new owner replays from the last commit and the
            # idempotent sink absorbs the overlap), or the broker no longer knows this member (it
            # came back empty): nothing fetched so far is committed, aiokafka rejoins.
            self.guard.commit_failed()
            log.warning("offset commit skipped after a rebalance: %s", exc)
        else:
            # Even where a rebalance came meanwhile: if these offsets reached a broker that came
            # back empty, the next assignment starts from them, and the marks let it notice.
            self.guard.committed(last)


async def _bounded(step: Any, what: str) -> Any:
    """Await ``step`` for at most :data:`STUCK_S`; raise :class:`ConsumerStuck` after that."""
    try:
        return await asyncio.wait_for(step, STUCK_S)
    except TimeoutError:
        raise ConsumerStuck(
            f"orders: {what} took over {STUCK_S:.0f} s (broker unreachable or the client is stuck); "
            "restarting the consumer, uncommitted batches are read again"
        ) from None


#: How long stopping the consumer (leaving its group) or the producer (flushing) may take.
CLIENT_STOP_S = 10.0


async def _stop_client(client: Any, what: str) -> None:
    """``client.stop()``, abandoned after :data:`CLIENT_STOP_S`: a stop that waits on an
    unreachable broker or a group rebalance must not hold the worker's own stop (the
    group notices a member gone by its session timeout)."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0  # 1 while the worker stops: its cancel delivered
    try:
        await asyncio.wait_for(client.stop(), CLIENT_STOP_S)
    except TimeoutError:
        log.warning("orders: stopping %s took over %.0f s; abandoned", what, CLIENT_STOP_S)
    except asyncio.CancelledError:
        if task is None or task.cancelling() > cancels:  # this task cancelled (again) during the stop
            raise
        # aiokafka's Fetcher.close awaits the fetch tasks it has just cancelled: after a commit stuck on
        # a broker gone for STUCK_S, the consumer's stop raised CancelledError, the producer was never
        # stopped and the worker took it for its own stop (the orders task ended for good). The same
        # stop while the worker stops left the producer unstopped, its last sends unflushed.
        log.warning("orders: stopping %s raised CancelledError inside the client; abandoned", what)


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off this process's hot path.

    Every fetch allocates thousands of record objects, which reference counting
    frees once their batch is written. With CPython's default thresholds the
    young collections traversed the records in flight again and again (about a
    fifth of the process's CPU), and every full collection traversed every
    object of the started faust app (about 180,000: 150-210 ms with the event
    loop stalled, about once a second at full speed). So what exists once
    everything is started is frozen (never scanned again), and the young
    generation is collected every ``_GC_YOUNG`` allocations, by when most
    records of a batch are gone.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


async def _getmany(consumer: Any, guard: LogGuard, **kwargs: Any) -> tuple[int, dict]:
    """``consumer.getmany(**kwargs)`` with the guard's epoch when it returned."""
    fetched = await consumer.getmany(**kwargs)
    return guard.epoch, fetched


def _last_records(fetched: dict) -> dict:
    """Each partition's last record in a fetch (one past it is the offset to commit)."""
    return {tp: batch[-1] for tp, batch in fetched.items() if batch}
