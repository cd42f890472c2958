"""The promotions agent's work, without Kafka: parse a batch, store it, count the rejects.

Every database call runs on one thread of its own, never on the event loop
that also drives the orders pump, and is retried with capped exponential
backoff while the database is unavailable (:mod:`fcplan.storage.outage`): a
batch is stored before :meth:`PromotionStore.store` returns, however long the
outage lasts. A record that cannot be decoded, or whose write fails for a
reason tied to its content, becomes a :class:`DeadLetter`; nothing raises but
a bug or a cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine

from fcplan.core.contracts import Promotion
from fcplan.storage.outage import backoff_s, describe, is_outage
from fcplan.streams.counted import Origin
from fcplan.streams.sink import count_promotions, store_promotions
from fcplan.streams.validation import (
    UNDECODABLE,
    UNWRITABLE,
    Limits,
    Narrowed,
    Rejected,
    exception_detail,
    parse_promotion,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DeadLetter:
    """Record ``index`` of a batch goes to the dead-letter topic for ``reason``."""

    index: int
    reason: str
    detail: str


class PromotionStore:
    """Stores promotion batches for the agent; use from one event loop."""

    def __init__(self, engine: Engine, limits: Limits, first_retry_s: float = 0.5, max_retry_s: float = 30.0) -> None:
        self.engine = engine
        self.limits = limits
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self.outage_retries = 0
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fcplan-promotions-db")

    def close(self) -> None:
        self._db.shutdown(wait=False, cancel_futures=True)

    async def _until_done(self, work: Callable[[], T]) -> T:
        """``work()`` on the database thread, retried while the database is unavailable."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await loop.run_in_executor(self._db, work)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                delay = backoff_s(attempt, self.first_retry_s, self.max_retry_s)
                attempt += 1
                self.outage_retries += 1
                log.warning(
                    "promotions paused: %s; retrying in %.1fs", describe(str(self.engine.url), exc), delay
                )
                await asyncio.sleep(delay)

    def parse(self, values: Sequence[bytes | None]) -> tuple[list[tuple[int, Promotion]], list[DeadLetter]]:
        valid: list[tuple[int, Promotion]] = []
        dead: list[DeadLetter] = []
        for i, value in enumerate(values):
            try:
                parsed = parse_promotion(value, self.limits)
            except Exception as exc:  # validation promises not to raise; one record never stops the batch
                dead.append(DeadLetter(i, UNDECODABLE, exception_detail(exc)))
                continue
            if isinstance(parsed, Rejected):
                dead.append(DeadLetter(i, parsed.reason, parsed.detail))
            elif isinstance(parsed, Narrowed):  # stored for its known centers, dead-lettered for the others
                valid.append((i, parsed.promotion))
                dead.append(DeadLetter(i, parsed.rejected.reason, parsed.rejected.detail))
            else:
                valid.append((i, parsed))
        return valid, dead

    async def store(self, values: Sequence[bytes | None]) -> list[DeadLetter]:
        """Store every valid promotion of a batch; the records to dead-letter, by index.

        The records the database refuses are isolated by bisection
        (:func:`fcplan.streams.sink.store_promotions`); nothing is counted (:meth:`count`).
        """
        valid, dead = self.parse(values)
        if valid:
            promos = [p for _, p in valid]
            stored = await self._until_done(lambda: store_promotions(self.engine, promos))
            dead.extend(DeadLetter(valid[k][0], UNWRITABLE, detail) for k, detail in stored.unwritable)
        return sorted(dead, key=lambda d: d.index)

    async def count(self, values: Sequence[bytes | None], dead: Sequence[DeadLetter], origin: Origin | None) -> None:
        """Add a stored batch to the worker's counters (``promotions/accepted`` and
        ``promotions_dead_letters`` by reason), its records read again not again
        (:func:`fcplan.streams.sink.count_promotions`)."""
        reasons = {d.index: d.reason for d in dead}
        await self._until_done(lambda: count_promotions(self.engine, values, reasons, origin))
