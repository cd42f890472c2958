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


class CancelledInside(FlakyConsumer):
    """Ends the first time with a CancelledError of its own (a client's task cancelled under it), as
    the real consumer did once the broker had been gone two minutes; then runs."""

    async def run(self) -> None:
        self.starts += 1
        if self.starts == 1:
            inner = asyncio.ensure_future(asyncio.sleep(3600))
            inner.cancel()
            await inner  # raises CancelledError; the orders task itself was not cancelled
        self.running.set()
        await asyncio.Event().wait()


def test_when_a_cancellation_comes_from_inside_the_consumer_then_the_worker_starts_it_again(monkeypatch):
    """The orders task took it for the worker stopping and ended: the worker lived on, reading
    promotions, and no order was read again until it was restarted by hand."""
    monkeypatch.setattr(worker_app, "backoff_s", lambda attempt, first, cap: 0.0)
    worker = object.__new__(worker_app.Worker)
    worker.orders_consumer = CancelledInside(failures=0)

    async def scenario() -> None:
        task = asyncio.ensure_future(worker._orders_task())
        await asyncio.wait_for(worker.orders_consumer.running.wait(), 10)
        assert not task.done(), "the orders task ended instead of running the consumer"
        await _cancelled_and_ended(task, "the orders task went on after it was cancelled")

    asyncio.run(scenario())
    assert worker.orders_consumer.starts == 2


def test_when_a_step_hangs_then_bounded_raises_consumer_stuck(monkeypatch):
    monkeypatch.setattr(orders_consumer, "STUCK_S", 0.05)

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def returns() -> str:
        return "done"

    with pytest.raises(ConsumerStuck, match="committing offsets took over"):
        asyncio.run(_bounded(hangs(), "committing offsets"))
    assert asyncio.run(_bounded(returns(), "publishing a batch")) == "done"


class FailsWhenCancelled:
    """Runs until cancelled, then fails with an error of its own (as a client may while it
    is interrupted mid-request)."""

    def __init__(self) -> None:
        self.starts = 0
        self.running = asyncio.Event()

    async def run(self) -> None:
        self.starts += 1
        self.running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("connection closed while stopping") from None


async def _cancelled_and_ended(task: asyncio.Future, failure: str) -> None:
    """Cancel ``task``; it must end (cancelled) instead of going on."""
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=10)
    assert done, failure
    with pytest.raises(asyncio.CancelledError):
        task.result()


def test_when_the_consumer_fails_while_the_worker_stops_then_it_is_not_started_again(monkeypatch):
    monkeypatch.setattr(worker_app, "backoff_s", lambda attempt, first, cap: 0.0)
    worker = object.__new__(worker_app.Worker)
    worker.orders_consumer = FailsWhenCancelled()

    async def scenario() -> None:
        task = asyncio.ensure_future(worker._orders_task())
        await asyncio.wait_for(worker.orders_consumer.running.wait(), 10)
        # the stop would wait on this task forever if it started the consumer again
        await _cancelled_and_ended(task, "the orders task went on after it was cancelled")

    asyncio.run(scenario())
    assert worker.orders_consumer.starts == 1


def test_when_a_promotions_batch_fails_while_the_worker_stops_then_it_is_not_retried(monkeypatch):
    monkeypatch.setattr(worker_app, "backoff_s", lambda attempt, first, cap: 0.0)
    worker = object.__new__(worker_app.Worker)
    calls = []

    class Store:
        async def store(self, values: list) -> list:
            calls.append(values)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise RuntimeError("database connection closed while stopping") from None

    worker.promotion_store = Store()
    monkeypatch.setattr(worker_app.Worker, "_origin", lambda self, events: None)  # no faust app here

    async def scenario() -> None:
        task = asyncio.ensure_future(worker._store_promotions([]))
        for _ in range(6000):  # a minute at most: a batch that ends before storing must fail, not hang
            if calls or task.done():
                break
            await asyncio.sleep(0.01)
        assert calls, f"the batch never reached the store: {task.exception() if task.done() else 'still waiting'}"
        await _cancelled_and_ended(task, "the promotions batch was retried after the agent was cancelled")

    asyncio.run(scenario())
    assert len(calls) == 1


def test_when_a_client_stop_hangs_then_the_consumer_abandons_it(monkeypatch, caplog):
    monkeypatch.setattr(orders_consumer, "CLIENT_STOP_S", 0.05)

    class Hangs:
        async def stop(self) -> None:
            await asyncio.Event().wait()

    asyncio.run(orders_consumer._stop_client(Hangs(), "the orders consumer"))
    assert "stopping the orders consumer took over" in caplog.text


def test_when_a_client_stop_raises_cancelled_error_from_inside_then_the_consumer_abandons_it(caplog):
    """aiokafka's consumer ``stop()`` awaits the fetch tasks it cancelled and raised their CancelledError
    (a commit stuck on a broker gone for STUCK_S, then the consumer's restart): the producer was never
    stopped and the orders task took it for the worker's own stop."""

    class RaisesInside:
        async def stop(self) -> None:
            fetching = asyncio.ensure_future(asyncio.sleep(3600))
            fetching.cancel()
            await fetching

    async def scenario() -> None:
        await orders_consumer._stop_client(RaisesInside(), "the orders consumer")
        # the task's own cancellation still ends it
        stopping = asyncio.ensure_future(orders_consumer._stop_client(RaisesInside(), "the orders consumer"))
        await asyncio.sleep(0)
        await _cancelled_and_ended(stopping, "a stop cancelled by the worker went on")

    asyncio.run(scenario())
    assert "stopping the orders consumer raised CancelledError inside the client; abandoned" in caplog.text


def test_when_the_worker_stops_and_a_client_stop_raises_cancelled_error_from_inside_then_the_next_is_stopped(
    caplog,
):
    """The orders consumer's ``finally`` stops the consumer, then the producer, with the worker's cancel
    already delivered: a CancelledError from inside the consumer's ``stop()`` was taken for that cancel
    and the producer was never stopped (its last dead letters and hourly rows left unflushed)."""
    stopped: list[str] = []

    class RaisesInside:
        async def stop(self) -> None:
            fetching = asyncio.ensure_future(asyncio.sleep(3600))
            fetching.cancel()
            await fetching

    class Producer:
        async def stop(self) -> None:
            stopped.append("producer")

    async def run() -> None:
        try:
            await asyncio.Event().wait()  # the pump, until the worker stops
        finally:
            await orders_consumer._stop_client(RaisesInside(), "the orders consumer")
            await orders_consumer._stop_client(Producer(), "the orders producer")

    async def scenario() -> None:
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0)
        await _cancelled_and_ended(task, "the orders consumer went on after the worker's cancel")

    asyncio.run(scenario())
    assert stopped == ["producer"]
    assert "stopping the orders consumer raised CancelledError inside the client; abandoned" in caplog.text


def test_when_the_worker_cancels_again_during_a_stop_then_the_stop_ends(caplog):
    """A second cancel while a client's stop hangs (the worker's stop deadline) still ends it."""

    class Hangs:
        async def stop(self) -> None:
            await asyncio.Event().wait()

    async def run() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await orders_consumer._stop_client(Hangs(), "the orders consumer")

    async def scenario() -> None:
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0)
        task.cancel()  # the worker stops: the client's stop begins, and hangs
        await asyncio.sleep(0.01)
        assert not task.done()
        await _cancelled_and_ended(task, "a stop cancelled twice went on")

    asyncio.run(scenario())
    assert "abandoned" not in caplog.text
