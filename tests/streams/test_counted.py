"""Where a fetch's records come from, as the writer is told (:mod:`fcplan.streams.counted`)."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.structs import TopicPartition

from fcplan.streams.counted import Origin, Span
from fcplan.streams.log_guard import LogGuard


def records(*offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(offset=o) for o in offsets]


def test_a_fetch_names_each_partitions_positions_and_offsets_in_its_order() -> None:
    p0, p3 = TopicPartition("orders", 0), TopicPartition("orders", 3)
    origin = Origin.of_fetch(
        {p3: records(5, 6, 7), p0: [], TopicPartition("orders", 1): records(9, 12)}, restarted={p0}
    )
    assert origin.spans == (Span("orders/3", range(0, 3), range(5, 8)), Span("orders/1", range(3, 5), [9, 12]))
    assert origin.restarted == frozenset({"orders/0"})


def test_records_of_interleaved_partitions_are_grouped_by_log_in_offset_order() -> None:
    origin = Origin.of_records([("promotions/1", 4), ("promotions/0", 9), ("promotions/1", 3)])
    assert origin.spans == (Span("promotions/1", [2, 0], [3, 4]), Span("promotions/0", [1], [9]))


def test_a_partition_found_on_a_new_log_is_told_with_its_next_records_once() -> None:
    guard = LogGuard(None, {})
    tp = TopicPartition("orders", 2)
    guard.restarted.add(tp)
    assert guard.take_restarted({tp: []}) == set()  # no records of it yet
    assert guard.take_restarted({tp: records(0)}) == {tp}
    assert guard.take_restarted({tp: records(1)}) == set()
