"""The faust-streaming worker: thin agents around pure validation and one sink.

``orders``: batches of raw events -> validate -> dead letters for bad ones ->
one database transaction (dedupe, lateness, insert, hourly recount) ->
hourly aggregates to ``center-demand``. The batch's offsets are acked only
after the transaction commits (``take_events`` acks when the loop asks for the
next batch), so a crash replays at most the uncommitted batches, which the
idempotent sink absorbs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from sqlalchemy import Engine

from fcplan.settings import Settings
from fcplan.storage import make_engine
from streams import contracts
from streams.sink import bump_metrics, write_orders, write_promotions
from streams.validation import LATE, Limits, Rejected, parse_order, parse_promotion

log = logging.getLogger(__name__)


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


def dlq_headers(event: Any, reason: str, detail: str) -> dict[str, bytes]:
    msg = event.message
    return {
        "dlq.reason": reason.encode(),
        "dlq.detail": detail[:1000].encode(),
        "dlq.topic": str(msg.topic).encode(),
        "dlq.partition": str(msg.partition).encode(),
        "dlq.offset": str(msg.offset).encode(),
    }


class Worker:
    """Holds the app, its topics and the database engine (no module globals)."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        k = settings.kafka
        self.settings = settings
        self.limits = limits_from(settings)
        self.engine = engine or make_engine(settings.database.url)
        self.app = faust.App(
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
        self.orders = topic(contracts.ORDERS, key_serializer="raw", value_serializer="raw")
        self.promotions = topic(contracts.PROMOTIONS, key_serializer="raw", value_serializer="raw")
        self.center_demand = topic(contracts.CENTER_DEMAND, key_serializer="raw", value_serializer="raw")
        self.orders_dlq = topic(contracts.ORDERS_DLQ, key_serializer="raw", value_serializer="raw")
        self.promotions_dlq = topic(contracts.PROMOTIONS_DLQ, key_serializer="raw", value_serializer="raw")
        self.app.agent(self.orders, name="fcplan.orders")(self._orders_agent)
        self.app.agent(self.promotions, name="fcplan.promotions")(self._promotions_agent)

    async def _dead_letter(self, dlq: faust.TopicT, event: Any, reason: str, detail: str) -> None:
        await dlq.send(key=event.key, value=event.value, headers=dlq_headers(event, reason, detail))

    async def _orders_agent(self, stream: faust.StreamT) -> None:
        s = self.settings.streams
        async for events in stream.take_events(s.batch_size, within=s.batch_within_s):
            await self.process_orders(events)

    async def process_orders(self, events: Sequence[Any]) -> None:
        now = datetime.now(UTC)
        valid, by_order, rejected = [], {}, Counter()
        for event in events:
            parsed = parse_order(event.value, self.limits, now)
            if isinstance(parsed, Rejected):
                rejected[parsed.reason] += 1
                await self._dead_letter(self.orders_dlq, event, parsed.reason, parsed.detail)
            else:
                valid.append(parsed)
                by_order.setdefault(parsed.order_id, event)
        result = write_orders(self.engine, valid, self.limits.late_grace)
        for order in result.late:
            rejected[LATE] += 1
            detail = f"ts {order.ts.isoformat()} is older than the stream time minus {self.limits.late_grace}"
            await self._dead_letter(self.orders_dlq, by_order[order.order_id], LATE, detail)
        if rejected:
            with self.engine.begin() as conn:
                bump_metrics(conn, Counter({("orders_dead_letters", r): n for r, n in rejected.items()}))
            log.warning("orders: %d dead letters %s", sum(rejected.values()), dict(rejected))
        for row in result.hourly:
            await self.center_demand.send(key=row.center_id.encode(), value=row.to_bytes())

    async def _promotions_agent(self, stream: faust.StreamT) -> None:
        async for events in stream.take_events(500, within=0.5):
            valid, rejected = [], Counter()
            for event in events:
                parsed = parse_promotion(event.value, self.limits)
                if isinstance(parsed, Rejected):
                    rejected[parsed.reason] += 1
                    await self._dead_letter(self.promotions_dlq, event, parsed.reason, parsed.detail)
                else:
                    valid.append(parsed)
            write_promotions(self.engine, valid)
            if rejected:
                with self.engine.begin() as conn:
                    bump_metrics(conn, Counter({("promotions_dead_letters", r): n for r, n in rejected.items()}))


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    """Run the worker until SIGINT/SIGTERM (blocks)."""
    from streams.topics import ensure_topics

    ensure_topics(settings.kafka.servers, settings.kafka.partitions)
    worker = Worker(settings)
    faust.Worker(worker.app, loglevel=loglevel, quiet=True).execute_from_commandline()
