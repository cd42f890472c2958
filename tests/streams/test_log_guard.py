"""The orders consumer's log guard, without a broker: after an assignment or a pause a partition's
last committed record is read again, and a log that holds another record there (a broker that came
back empty and was written again) is read from its beginning; offsets fetched before a rebalance
or a failed commit are never committed."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from aiokafka import TopicPartition

from fcplan.core.settings import Settings
from fcplan.streams import log_guard
from fcplan.streams.log_guard import LogGuard
from fcplan.streams.orders_consumer import OrdersConsumer, _Written
from fcplan.streams.validation import Limits

P0, P1 = TopicPartition("orders", 0), TopicPartition("orders", 1)


@dataclass(frozen=True)
class Record:
    offset: int
    value: bytes
    key: bytes = b"FC-01"
    timestamp: int = 1_700_000_000_000


def old_log(offsets: range) -> list[Record]:
    return [Record(o, b'{"order_id":"old-%d"}' % o) for o in offsets]


def new_log(offsets: range) -> list[Record]:
    return [Record(o, b'{"order_id":"new-%d"}' % o, timestamp=1_800_000_000_000) for o in offsets]


class FakeConsumer:
    """What the guard asks of aiokafka's consumer, recorded."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    @property
    def to_beginning(self) -> list[TopicPartition]:
        """Partitions sent to offset 0 (auto_offset_reset="earliest" does the rest)."""
        return [tp for tp, offset in self.seeks if offset == 0]

    async def commit(self, offsets: dict) -> None:
        self.commits.append({tp: om.offset for tp, om in offsets.items()})


def committed_up_to(offsets: dict[TopicPartition, int], assigned: set[TopicPartition] | None = None):
    """A guard whose consumer committed one past ``offsets`` (of the old log), then had the
    partitions assigned again."""
    consumer = FakeConsumer(assigned or set(offsets))
    guard = LogGuard(consumer, {})
    guard.on_partitions_assigned(consumer.assignment())
    last = {tp: old_log(range(o, o + 1))[0] for tp, o in offsets.items()}
    guard.committing(last)
    guard.committed(last)
    return guard, consumer


def admit(guard: LogGuard, fetched: dict, epoch: int | None = None) -> dict:
    return guard.admit(fetched, guard.epoch if epoch is None else epoch)


def rejoined(guard: LogGuard) -> None:
    guard.on_partitions_revoked(guard.consumer.assignment())
    guard.on_partitions_assigned(guard.consumer.assignment())


def test_when_a_partition_is_assigned_one_past_its_mark_then_the_mark_is_read_before_anything_is_written():
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    assert admit(guard, {P0: new_log(range(50, 120))}) == {}
    assert consumer.seeks == [(P0, 49)]


def test_when_the_mark_holds_the_record_we_committed_then_the_partition_goes_on_after_it():
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: old_log(range(50, 60))})
    out = admit(guard, {P0: old_log(range(49, 60))})
    assert [r.offset for r in out[P0]] == list(range(50, 60))
    assert consumer.to_beginning == [] and guard.replaced == 0


def test_when_a_restarted_broker_holds_our_old_offset_over_a_new_log_then_it_is_read_from_its_beginning():
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)  # the broker came back empty; a stale commit put the group one past our mark
    admit(guard, {P0: new_log(range(50, 175))})
    epoch = guard.epoch
    assert admit(guard, {P0: new_log(range(49, 175))}) == {}
    assert consumer.to_beginning == [P0] and guard.replaced == 1
    assert guard.epoch > epoch  # nothing fetched before this is committed
    out = admit(guard, {P0: new_log(range(0, 175))})
    assert [r.offset for r in out[P0]] == list(range(175))
    assert guard.take_restarted(out) == {P0}  # the writer's counted offsets of P0 were the old log's


def test_when_a_pause_comes_before_the_replaced_log_is_read_from_its_start_then_it_is_not_sent_to_the_old_mark():
    # A loaded machine (the promotions agent's consumer seeks from another thread): the new log's
    # first records came over a second after the seek to its start. Checked against the old mark,
    # the log was found replaced again and again, read from its start every few seconds.
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 175))})
    assert admit(guard, {P0: new_log(range(49, 175))}) == {} and consumer.to_beginning == [P0]
    guard._last_records = time.monotonic() - 2 * log_guard.GAP_S
    out = admit(guard, {P0: new_log(range(0, 175))})
    assert [r.offset for r in out[P0]] == list(range(175)) and consumer.to_beginning == [P0]
    assert guard.replaced == 1


def test_when_the_new_log_ends_before_the_mark_then_it_is_read_from_where_it_starts():
    guard, _ = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 60))})
    # aiokafka found offset 49 past the end of the log and reset the position to the earliest
    out = admit(guard, {P0: new_log(range(0, 30))})
    assert [r.offset for r in out[P0]] == list(range(30)) and guard.replaced == 1
    assert guard.take_restarted(out) == {P0}


def test_when_an_assignment_starts_where_another_member_committed_then_that_offset_is_used_unchecked():
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    fetched = {P0: old_log(range(300, 310))}
    assert admit(guard, fetched) == fetched and consumer.seeks == []


def test_when_a_partition_came_back_from_another_member_then_a_later_pause_does_not_send_it_to_our_old_mark():
    # P0 was read and committed to 310 elsewhere, then came back to us: our mark at 49 is
    # another reading's, and going back to it after a pause would re-read 50..309 for nothing
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    assert admit(guard, {P0: old_log(range(310, 320))})
    guard._last_records = time.monotonic() - 2 * log_guard.GAP_S
    admit(guard, {P0: old_log(range(320, 330))})
    assert consumer.seeks == [(P0, 319)]  # the last record it read, not our old mark
    out = admit(guard, {P0: old_log(range(319, 330))})
    assert [r.offset for r in out[P0]] == list(range(320, 330)) and guard.replaced == 0


def test_when_records_come_after_a_pause_then_every_assigned_partition_is_checked_first(monkeypatch):
    # aiokafka kept fetching from its old positions: the coordinator has not said yet that it
    # forgot the member, and the empty broker's new logs have grown past them
    guard, consumer = committed_up_to({P0: 49, P1: 30})
    guard._last_records = time.monotonic() - 2 * log_guard.GAP_S
    assert admit(guard, {P0: new_log(range(50, 175))}) == {}
    assert consumer.seeks == [(P0, 49)]
    assert admit(guard, {P1: new_log(range(31, 90))}) == {}  # after the pause too, although in time
    assert consumer.seeks == [(P0, 49), (P1, 30)]
    assert admit(guard, {P0: new_log(range(49, 175)), P1: new_log(range(30, 90))}) == {}
    assert sorted(tp.partition for tp in consumer.to_beginning) == [0, 1]


def test_when_records_were_fetched_before_the_check_sent_the_partition_back_then_they_are_dropped():
    guard, _ = committed_up_to({P0: 49})
    rejoined(guard)
    before = guard.epoch
    admit(guard, {P0: old_log(range(50, 60))})
    assert admit(guard, {P0: old_log(range(60, 70))}, epoch=before) == {}


def test_when_records_were_fetched_before_a_revocation_then_they_are_dropped():
    guard, _ = committed_up_to({P0: 49})
    before = guard.epoch
    guard.on_partitions_revoked({P0})
    assert admit(guard, {P0: old_log(range(50, 60))}, epoch=before) == {}


def test_when_the_new_assignment_fetches_before_its_callback_ran_then_the_records_are_checked_all_the_same():
    guard, consumer = committed_up_to({P0: 49})
    guard.on_partitions_revoked({P0})  # (aiokafka's callback for the assignment has not run yet)
    assert admit(guard, {P0: new_log(range(50, 175))}) == {}
    assert consumer.seeks == [(P0, 49)]


def test_when_a_replaced_log_was_found_then_the_old_offset_is_still_checked_after_the_next_rebalance():
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 175))})
    admit(guard, {P0: new_log(range(49, 175))})  # replaced: read from the beginning
    rejoined(guard)  # and the broker still holds one past our old mark (our commit, retried)
    assert admit(guard, {P0: new_log(range(50, 175))}) == {}
    assert consumer.seeks[-1] == (P0, 49)


def test_when_the_stream_is_busy_then_fetches_pass_untouched():
    guard, consumer = committed_up_to({P0: 49})
    fetched = {P0: old_log(range(50, 60))}
    assert admit(guard, fetched) is fetched and consumer.seeks == []


def test_when_batches_were_fetched_before_a_failed_commit_then_their_offsets_are_not_committed():
    orders = OrdersConsumer(Settings(), Limits())
    consumer = FakeConsumer({P0})
    orders.guard = LogGuard(consumer, {})
    stale = _Written(orders.guard.epoch, {P0: old_log(range(49, 50))[0]}, [])
    orders.guard.commit_failed()  # the broker forgot the member: a rejoin comes
    fresh = _Written(orders.guard.epoch, {P1: new_log(range(9, 10))[0]}, [])

    async def commit() -> None:
        await orders._commit_delivered(consumer, deque([stale]), wait=True)
        await orders._commit_delivered(consumer, deque([fresh]), wait=True)

    asyncio.run(commit())
    assert consumer.commits == [{P1: 10}]
    assert orders.guard.marks[P1].offset == 9 and P0 not in orders.guard.marks


def test_when_a_pause_follows_records_whose_commit_never_landed_then_the_last_read_record_is_checked():
    # the broker died between the write and the commit, and came back empty: no commit of ours
    # ever landed, and aiokafka goes on fetching from its old positions in the new log
    consumer = FakeConsumer({P0})
    guard = LogGuard(consumer, {})
    guard.on_partitions_assigned({P0})
    admit(guard, {P0: old_log(range(0, 80))})
    guard._last_records = time.monotonic() - 2 * log_guard.GAP_S
    assert admit(guard, {P0: new_log(range(80, 280))}) == {}
    assert consumer.seeks == [(P0, 79)]
    assert admit(guard, {P0: new_log(range(79, 280))}) == {}
    assert consumer.to_beginning == [P0] and guard.replaced == 1


def test_when_an_older_commit_of_ours_lands_after_a_newer_one_then_the_assignment_is_checked_at_it():
    guard, consumer = committed_up_to({P0: 49})
    newer = old_log(range(99, 100))[0]
    guard.committing({P0: newer})  # reported failed, but the broker holds the older one (49)
    rejoined(guard)
    assert admit(guard, {P0: new_log(range(50, 175))}) == {}
    assert consumer.seeks == [(P0, 49)]
    assert admit(guard, {P0: new_log(range(49, 175))}) == {}
    assert consumer.to_beginning == [P0]


def test_when_records_from_the_old_position_come_after_the_seek_then_they_are_not_written():
    # a fetch already under way returns records from past the mark after the seek to it
    guard, consumer = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 175))})  # sent back to 49
    assert admit(guard, {P0: new_log(range(50, 175))}) == {}  # stale: sent back again
    assert consumer.seeks == [(P0, 49), (P0, 49)]
    assert admit(guard, {P0: new_log(range(49, 175))}) == {}
    assert consumer.to_beginning == [P0]


def test_when_the_log_now_starts_past_the_mark_then_it_is_read_from_there_after_a_few_tries():
    guard, _ = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: old_log(range(50, 60))})
    for _ in range(log_guard.SEEK_TRIES):  # retention removed offset 49: the log starts at 55
        assert admit(guard, {P0: old_log(range(55, 60))}) == {}
    out = admit(guard, {P0: old_log(range(55, 60))})
    assert [r.offset for r in out[P0]] == list(range(55, 60))


def test_when_records_were_fetched_between_a_revocation_and_the_assignment_then_a_pause_does_not_go_back_to_them():
    # faust drops such a fetch (the generation changed) and starts the assignment from the committed
    # offsets: the records were never written, going back to the last of them would skip the others
    consumer = FakeConsumer({P1})
    guard = LogGuard(consumer, {})
    guard.on_partitions_revoked(set())
    admit(guard, {P1: old_log(range(0, 10))})
    guard.on_partitions_assigned({P1})
    guard._last_records = time.monotonic() - 2 * log_guard.GAP_S
    fetched = {P1: old_log(range(0, 10))}
    assert admit(guard, fetched) == fetched and consumer.seeks == []


def test_when_a_partition_found_replaced_moves_to_another_member_and_back_then_the_finding_is_not_told():
    # Found replaced, then revoked before any of its records went to the writer: another member read it
    # and counted the new log. Told when it came back, the finding would have its records counted again.
    guard, _ = committed_up_to({P0: 49}, assigned={P0, P1})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 175))})
    admit(guard, {P0: new_log(range(49, 175))})
    assert guard.replaced == 1 and guard.restarted == {P0}
    guard.on_partitions_revoked({P0, P1})
    guard.on_partitions_assigned({P1})  # P0 went to another member
    guard.on_partitions_revoked({P1})
    guard.on_partitions_assigned({P0, P1})  # and came back
    assert guard.take_restarted({P0: new_log(range(175, 180))}) == set()


def test_when_a_partition_found_replaced_stays_through_a_rebalance_then_the_finding_is_told():
    guard, _ = committed_up_to({P0: 49})
    rejoined(guard)
    admit(guard, {P0: new_log(range(50, 175))})
    admit(guard, {P0: new_log(range(49, 175))})
    rejoined(guard)  # assigned to us again at once: no one else read it
    assert guard.take_restarted({P0: new_log(range(0, 5))}) == {P0}
