"""The orders consumer never stops the worker for good: a stuck publish or commit
raises after ``STUCK_S``, and the worker starts the consumer again after a backoff."""

from __future__ import annotations

import asyncio

import pytest

from fcplan.streams import app as worker_app
from fcplan.streams import orders_consumer
from fcplan.streams.orders_consumer import ConsumerStuck, _bounded


class FlakyConsumer:
    """Fails ``failures`` times, then runs until cancelled (as the real one does)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.running = asyncio.Event()

    async def run(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise ConsumerStuck("orders: committing offsets took over 120 s")
        self.running.set()
        await asyncio.Event().wait()


def test_when_the_consumer_fails_then_the_worker_starts_it_again(monkeypatch, caplog):
    monkeypatch.setattr(worker_app, "backoff_s", lambda attempt, first, cap: 0.0)
    worker = object.__new__(worker_app.Worker)  # only the orders task is exercised
    worker.orders_consumer = FlakyConsumer(failures=3)

    async def scenario() -> None:
        task = asyncio.ensure_future(worker._orders_task())
        await asyncio.wait_for(worker.orders_consumer.running.wait(), 10)
        assert not task.done(), "the orders task ended instead of running the consumer"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert worker.orders_consumer.starts == 4
    assert sum("starting it again" in r.getMessage() for r in caplog.records) == 3


def test_when_a_step_hangs_then_bounded_raises_consumer_stuck(monkeypatch):
    monkeypatch.setattr(orders_consumer, "STUCK_S", 0.05)

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def returns() -> str:
        return "done"

    with pytest.raises(ConsumerStuck, match="committing offsets took over"):
        asyncio.run(_bounded(hangs(), "committing offsets"))
    assert asyncio.run(_bounded(returns(), "publishing a batch")) == "done"
