"""The orders hot path: whole fetches from Kafka, one transaction each, commit after.

faust's Stream delivers events one at a time through its conductor, channel and
processors; measured on this project's 2-core machines that tops out at about
6,000-12,000 events/s even with ``take_events`` and no work per event
(``benchmarks/stream_throughput.py`` measures the worker; the numbers are in the
README). The orders topic is therefore read by this batch consumer, a task of
the faust app: ``getmany`` hands over up to ``batch_size`` records at once, they
are validated and written in one database transaction on a worker thread, dead
letters are sent and flushed, and only then are the offsets committed. A crash
at any point replays uncommitted records, which the idempotent sink absorbs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from fcplan.settings import Settings
from streams.contracts import CENTER_DEMAND, ORDERS, ORDERS_DLQ, CenterDemand, Order, dead_letter_headers
from streams.sink import bump_metrics, write_orders
from streams.validation import LATE, Limits, Rejected, parse_order

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What one batch produced: dead letters to send and hourly rows to publish."""

    dead: list[tuple[Any, str, str]] = field(default_factory=list)  # (record, reason, detail)
    hourly: list[CenterDemand] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0


def process_batch(records: Sequence[Any], engine: Engine, limits: Limits) -> BatchOutcome:
    """Validate and store a batch of Kafka records (``.value`` bytes); pure but for
    the one database transaction. Runs on a worker thread."""
    now = datetime.now(UTC)
    outcome = BatchOutcome()
    valid: list[Order] = []
    first_record: dict[str, Any] = {}
    for record in records:
        parsed = parse_order(record.value, limits, now)
        if isinstance(parsed, Rejected):
            outcome.dead.append((record, parsed.reason, parsed.detail))
        else:
            valid.append(parsed)
            first_record.setdefault(parsed.order_id, record)
    result = write_orders(engine, valid, limits.late_grace)
    for order in result.late:
        detail = f"ts {order.ts.isoformat()} is older than the stream time minus {limits.late_grace}"
        outcome.dead.append((first_record[order.order_id], LATE, detail))
    if outcome.dead:
        reasons = Counter(reason for _, reason, _ in outcome.dead)
        with engine.begin() as conn:
            bump_metrics(conn, Counter({("orders_dead_letters", r): n for r, n in reasons.items()}))
    outcome.hourly = result.hourly
    outcome.accepted, outcome.duplicates = result.accepted, result.duplicates
    return outcome


class OrdersConsumer:
    """Consumes ``orders`` in batches for one worker process (see module docstring)."""

    def __init__(self, settings: Settings, engine: Engine, limits: Limits) -> None:
        self.settings = settings
        self.engine = engine
        self.limits = limits
        self.batches = 0

    def _consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        k, s = self.settings.kafka, self.settings.streams
        return AIOKafkaConsumer(
            ORDERS,
            bootstrap_servers=k.servers,
            group_id=f"{s.app_id}-orders",
            client_id=f"{s.app_id}-orders",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_size,
            max_partition_fetch_bytes=4 * 1024**2,
            fetch_max_bytes=16 * 1024**2,
            session_timeout_ms=int(k.session_timeout_s * 1000),
            heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
            max_poll_interval_ms=int(k.max_poll_interval_s * 1000),
        )

    def _producer(self) -> Any:
        from aiokafka import AIOKafkaProducer

        # Not idempotent: the embedded broker rejects InitProducerId; exactness
        # comes from idempotent writes and commit-after-write instead.
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.servers, acks="all", linger_ms=5, enable_idempotence=False
        )

    async def run(self, on_batch: Callable[[BatchOutcome], None] | None = None) -> None:
        consumer, producer = self._consumer(), self._producer()
        await producer.start()
        await consumer.start()
        loop = asyncio.get_running_loop()
        s = self.settings.streams
        try:
            while True:
                fetched = await consumer.getmany(
                    timeout_ms=int(s.batch_within_s * 1000), max_records=s.batch_size
                )
                records = [r for batch in fetched.values() for r in batch]
                if not records:
                    continue
                outcome = await loop.run_in_executor(None, process_batch, records, self.engine, self.limits)
                await self._publish(producer, outcome)
                await self._commit(consumer, fetched)
                self.batches += 1
                if on_batch is not None:
                    on_batch(outcome)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _publish(self, producer: Any, outcome: BatchOutcome) -> None:
        pending = [
            await producer.send(
                ORDERS_DLQ, value=record.value, key=record.key, headers=dead_letter_headers(record, r, d)
            )
            for record, r, d in outcome.dead
        ]
        pending += [
            await producer.send(CENTER_DEMAND, value=row.to_bytes(), key=row.center_id.encode())
            for row in outcome.hourly
        ]
        if pending:
            await asyncio.gather(*pending)  # dead letters are durable before the offsets move
            if outcome.dead:
                log.warning(
                    "orders: %d dead letters %s",
                    len(outcome.dead),
                    dict(Counter(reason for _, reason, _ in outcome.dead)),
                )

    async def _commit(self, consumer: Any, fetched: dict) -> None:
        from aiokafka.errors import CommitFailedError, IllegalStateError
        from aiokafka.structs import OffsetAndMetadata

        offsets = {tp: OffsetAndMetadata(batch[-1].offset + 1, "") for tp, batch in fetched.items() if batch}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance moved the partitions: the new owner replays from the last
            # commit and the idempotent sink absorbs the overlap.
            log.warning("offset commit skipped after a rebalance: %s", exc)
