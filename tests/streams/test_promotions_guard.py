"""The promotions agent after a broker that came back empty, without a broker: faust's consumer
checks its positions with the orders consumer's log guard, forgets its own positions of a log found
replaced, never commits what it fetched before a check, and a bad promotion read again is not
dead-lettered again."""

from __future__ import annotations

import asyncio
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from fcplan.core.contracts import PROMOTIONS
from fcplan.core.settings import Settings
from fcplan.storage import make_engine
from fcplan.streams.app import Worker
from fcplan.streams.counted import Span

P0 = TopicPartition(PROMOTIONS, 0)


def record(offset: int, generation: str) -> ConsumerRecord:
    value = b'{"promo_id": "%s-%d"}' % (generation.encode(), offset)
    return ConsumerRecord(
        PROMOTIONS,
        0,
        offset,
        1_700_000_000_000 if generation == "old" else 1_800_000_000_000,
        0,
        b"P",
        value,
        None,
        1,
        len(value),
        (),
    )


def log_of(generation: str, offsets: range) -> list[ConsumerRecord]:
    return [record(o, generation) for o in offsets]


class FakeThread:
    """faust's consumer thread as the guarded consumer uses it: fetches queued, seeks and commits recorded."""

    def __init__(self) -> None:
        self.fetches: deque[dict] = deque()
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict] = []
        self.meanwhile: Any = None  # a coroutine function run while the next fetch is under way

    async def getmany(self, active_partitions: Any, timeout: float) -> dict:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return self.fetches.popleft()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TopicPartition]:
        return {P0}

    async def commit(self, offsets: dict) -> bool:
        self.commits.append(dict(offsets))
        return True


async def _nothing(*_: Any) -> None:
    return None


@pytest.fixture
def worker(tmp_path) -> Worker:
    return Worker(Settings(), make_engine(f"sqlite:///{tmp_path / 'fcplan.db'}"))


@pytest.fixture
def consumer(worker: Worker, monkeypatch) -> Any:
    consumer = worker.app.consumer
    monkeypatch.setattr(worker.app.topics, "acks_enabled_for", lambda topic: True)  # once the agent started
    consumer._thread = FakeThread()
    consumer._on_partitions_revoked = consumer._on_partitions_assigned = _nothing  # the app's: not started
    return consumer


def fetch(consumer: Any, records: list[ConsumerRecord]) -> list[int]:
    consumer._thread.fetches.append({P0: records} if records else {})
    admitted = asyncio.run(consumer._getmany({P0}, 1.0))
    return [r.offset for r in admitted.get(P0, [])]


def rejoin_at(consumer: Any, committed: int) -> None:
    """A rebalance, after which faust seeks to the committed offset the broker reports."""
    asyncio.run(consumer.on_partitions_revoked({P0}))
    asyncio.run(consumer.on_partitions_assigned({P0}))
    consumer._read_offset[P0] = consumer._committed_offset[P0] = committed  # faust's perform_seek


def test_when_the_broker_came_back_empty_with_our_old_offsets_then_faust_reads_the_new_log_from_its_start(consumer):
    assert fetch(consumer, log_of("old", range(10))) == list(range(10))
    assert asyncio.run(consumer._commit({P0: 10}))
    rejoin_at(consumer, 10)  # the restarted broker holds our old offset, over a new log

    assert fetch(consumer, log_of("new", range(10, 30))) == []  # the mark is read again first
    assert consumer._thread.seeks == [(P0, 9)]
    assert fetch(consumer, log_of("new", range(9, 30))) == []  # another record there: replaced
    assert consumer._thread.seeks[-1] == (P0, 0)
    # faust's own positions of the old log are gone: it delivers and commits the new log from offset 0
    assert consumer._read_offset[P0] is None and consumer._committed_offset[P0] is None
    assert fetch(consumer, log_of("new", range(30))) == list(range(30))
    message = consumer._to_message(P0, record(0, "new"))
    assert consumer.ack(message) and consumer._acked[P0] == [0]


def test_when_the_mark_holds_the_record_we_committed_then_faust_goes_on_after_it(consumer):
    fetch(consumer, log_of("old", range(10)))
    asyncio.run(consumer._commit({P0: 10}))
    rejoin_at(consumer, 10)
    fetch(consumer, log_of("old", range(10, 20)))
    assert fetch(consumer, log_of("old", range(9, 20))) == list(range(10, 20))
    assert consumer._committed_offset[P0] == 10 and consumer.guard.replaced == 0


def replaced_with_one_in_flight(consumer) -> Any:
    """The old log's message 9 delivered to the agent (not acked), then the log found replaced:
    that message."""
    fetch(consumer, log_of("old", range(10)))
    in_flight = consumer._to_message(P0, record(9, "old"))
    consumer.track_message(in_flight)  # delivered to the agent, not acked yet
    asyncio.run(consumer._commit({P0: 9}))
    rejoin_at(consumer, 9)
    fetch(consumer, log_of("new", range(9, 30)))
    fetch(consumer, log_of("new", range(8, 30)))
    assert consumer.guard.replaced == 1
    return in_flight


def test_when_a_log_is_found_replaced_then_acks_of_messages_read_from_the_old_one_are_refused(consumer):
    in_flight = replaced_with_one_in_flight(consumer)
    assert not consumer.ack(in_flight)  # it would commit offset 10 of the new log, not yet read
    assert in_flight.acked and consumer._acked[P0] == []


def test_when_a_fetch_spans_the_rebalance_after_the_restart_then_its_records_are_checked_not_lost(consumer):
    # The fetch began before the revocation and returned records from the assignment's (stale) positions:
    # dropped as "fetched before the rebalance", nothing would ever fetch them again.
    fetch(consumer, log_of("old", range(10)))
    asyncio.run(consumer._commit({P0: 10}))

    async def rebalance() -> None:
        await consumer.on_partitions_revoked({P0})
        await consumer.on_partitions_assigned({P0})
        consumer._read_offset[P0] = consumer._committed_offset[P0] = 10

    consumer._thread.meanwhile = rebalance
    assert fetch(consumer, log_of("new", range(10, 30))) == []
    assert consumer._thread.seeks == [(P0, 9)]  # the mark is read again: the log is found replaced next
    assert fetch(consumer, log_of("new", range(9, 30))) == [] and consumer.guard.replaced == 1
    assert fetch(consumer, log_of("new", range(30))) == list(range(30))


def test_when_records_were_fetched_before_a_rebalance_then_their_offsets_are_not_committed(consumer):
    fetch(consumer, log_of("old", range(10)))
    asyncio.run(consumer.on_partitions_revoked({P0}))
    asyncio.run(consumer.on_partitions_assigned({P0}))
    assert not asyncio.run(consumer._commit({P0: 10}))
    assert consumer._thread.commits == []
    fetch(consumer, log_of("old", range(10, 20)))
    assert asyncio.run(consumer._commit({P0: 20}))
    assert consumer._thread.commits == [{P0: 20}] and consumer.guard.marks[P0].offset == 19


def event(offset: int, value: bytes) -> Any:
    message = SimpleNamespace(topic=PROMOTIONS, partition=0, offset=offset, timestamp=1.7e9, key=b"P", value=value)
    return SimpleNamespace(key=b"P", value=value, message=message)


def dead_letters_counted(worker: Worker) -> int:
    with worker.engine.connect() as conn:
        counted = conn.execute(sa.text("SELECT SUM(value) FROM stream_metrics WHERE name = 'promotions_dead_letters'"))
        return counted.scalar()


def test_when_bad_promotions_are_read_again_then_they_are_dead_lettered_and_counted_once(worker, monkeypatch):
    sent: list[tuple[int, str]] = []

    async def dead_letter(dlq: Any, e: Any, reason: str, detail: str) -> None:
        sent.append((e.message.offset, reason))

    monkeypatch.setattr(worker, "_dead_letter", dead_letter)
    batch = [event(0, b"not json"), event(1, b'"just a string"')]
    for _ in range(3):  # read again after a rebalance, a check, a log read again from its start
        asyncio.run(worker._store_promotions(batch))
    assert sent == [(0, "malformed"), (1, "malformed")]
    assert dead_letters_counted(worker) == 2
    # another record at the same offset (a replaced log) is another dead letter
    asyncio.run(worker._store_promotions([event(0, b"not json either")]))
    assert sent[-1] == (0, "malformed") and len(sent) == 3


def test_when_the_guard_found_the_log_replaced_then_its_records_below_the_old_count_are_counted(worker, monkeypatch):
    monkeypatch.setattr(worker, "_dead_letter", _nothing)
    asyncio.run(worker._store_promotions([event(5, b"not json"), event(6, b"not json")]))
    worker.app.consumer.guard.restarted.add(P0)  # the broker came back empty: a new log from offset 0
    asyncio.run(worker._store_promotions([event(0, b"[1]"), event(1, b"[2]")]))  # short of the old offset 6
    assert dead_letters_counted(worker) == 4
    assert not worker.app.consumer.guard.restarted  # told once


def counted(worker: Worker) -> int:
    with worker.engine.connect() as conn:
        sums = conn.execute(sa.text("SELECT SUM(value) FROM stream_metrics WHERE name LIKE 'promotions%'"))
        return sums.scalar()


def test_when_the_agent_stores_old_log_records_after_the_guard_found_it_replaced_then_the_new_log_is_counted(
    worker, consumer, monkeypatch
):
    # The agent's batches lag faust's fetches: records of the old log, delivered before the guard found it
    # replaced, reach the counters after that finding. They must not take it (the new log's records below
    # their offsets would be taken for counted ones).
    monkeypatch.setattr(worker, "_dead_letter", _nothing)

    def events(records: list[ConsumerRecord], track: bool = False) -> list[Any]:
        messages = [consumer._to_message(P0, r) for r in records]
        for message in messages if track else ():
            consumer.track_message(message)  # delivered to the agent, not acked yet
        return [SimpleNamespace(key=m.key, value=m.value, message=m) for m in messages]

    fetch(consumer, log_of("old", range(10)))
    asyncio.run(worker._store_promotions(events(log_of("old", range(5)))))
    in_flight = events(log_of("old", range(5, 10)), track=True)
    asyncio.run(consumer._commit({P0: 5}))
    rejoin_at(consumer, 5)
    fetch(consumer, log_of("new", range(5, 30)))
    fetch(consumer, log_of("new", range(4, 30)))
    assert consumer.guard.replaced == 1
    assert fetch(consumer, log_of("new", range(4))) == [0, 1, 2, 3]

    asyncio.run(worker._store_promotions(in_flight))
    asyncio.run(worker._store_promotions(events(log_of("new", range(4)))))
    assert counted(worker) == 5 + 5 + 4


def test_when_counting_fails_once_then_the_retry_keeps_the_replaced_log_and_sends_no_dead_letter_again(
    worker, monkeypatch
):
    sent: list[int] = []

    async def dead_letter(dlq: Any, e: Any, reason: str, detail: str) -> None:
        sent.append(e.message.offset)

    monkeypatch.setattr(worker, "_dead_letter", dead_letter)
    monkeypatch.setattr("fcplan.streams.app.backoff_s", lambda *_: 0.0)
    asyncio.run(worker._store_promotions([event(5, b"not json"), event(6, b"not json")]))
    worker.app.consumer.guard.restarted.add(P0)  # the broker came back empty: a new log from offset 0
    count, failed = worker.promotion_store.count, []

    async def count_once_failing(*args: Any) -> None:
        if not failed:
            failed.append(True)
            raise RuntimeError("an unexpected error while counting")
        await count(*args)

    monkeypatch.setattr(worker.promotion_store, "count", count_once_failing)
    asyncio.run(worker._store_promotions([event(0, b"[1]"), event(1, b"[2]")]))
    assert sent == [5, 6, 0, 1]  # each sent once, the retry included
    assert dead_letters_counted(worker) == 4


def test_a_batchs_origin_leaves_out_old_log_messages_and_tells_the_replaced_log_once(consumer):
    in_flight = replaced_with_one_in_flight(consumer)
    new = [consumer._to_message(P0, r) for r in log_of("new", range(2))]

    origin = consumer.origin([in_flight, *new])
    assert origin.spans == (Span("promotions/0", [1, 2], [0, 1]),)  # the old log's message: counted as new
    assert origin.restarted == frozenset({"promotions/0"})
    assert consumer.origin(new).restarted == frozenset()  # told once
    assert consumer.origin([in_flight]).restarted == frozenset()


def test_when_the_worker_restarted_with_the_broker_then_the_new_logs_records_below_the_old_count_are_counted(
    worker, monkeypatch
):
    # No guard finding (the guard of a restarted worker knows no marks): the new log is told from the old one
    # by its first counted record.
    monkeypatch.setattr(worker, "_dead_letter", _nothing)
    asyncio.run(worker._store_promotions([event(o, b"not json %d" % o) for o in range(8)]))
    assert not worker.app.consumer.guard.restarted
    asyncio.run(worker._store_promotions([event(0, b"[1]"), event(1, b"[2]")]))  # short of the old offset 7
    assert dead_letters_counted(worker) == 10


def test_a_dead_letter_the_broker_did_not_take_is_sent_again_before_the_batch_is_done(worker, monkeypatch):
    """faust's ``Topic.send`` returns once the record is handed to its producer; a delivery that then
    failed (a topic gone, a broker refusing the record) only logged a warning, the batch was acked and
    committed, and the dead letter was lost with ``promotions_dead_letters`` counting it."""
    deliveries: list[bytes] = []

    class Dlq:
        async def send(self, key: bytes, value: bytes, headers: Any) -> asyncio.Future:
            delivered = asyncio.get_running_loop().create_future()
            if deliveries:
                delivered.set_result(SimpleNamespace(offset=0))
            else:
                delivered.set_exception(RuntimeError("the broker refused the record"))
            deliveries.append(value)
            return delivered

    monkeypatch.setattr(worker, "promotions_dlq", Dlq())
    monkeypatch.setattr("fcplan.streams.app.backoff_s", lambda *_: 0.0)
    asyncio.run(worker._store_promotions([event(0, b"not json")]))
    assert deliveries == [b"not json", b"not json"]  # refused, then sent again and delivered
    assert dead_letters_counted(worker) == 1
