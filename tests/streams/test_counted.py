"""Where a fetch's records come from, as the writer is told (:mod:`fcplan.streams.counted`)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from aiokafka.structs import TopicPartition

from fcplan.storage import make_engine
from fcplan.storage.schema import counted_offsets
from fcplan.streams.counted import Origin, Span, fresh
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


def _lock_waits(admin: sa.Engine) -> int:
    with admin.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()


@pytest.mark.integration
@pytest.mark.postgres
def test_on_postgresql_when_two_workers_count_a_logs_first_batch_at_once_then_it_is_counted_once(pg_url: str) -> None:
    # A rebalance hands the partition over while the old member still writes: both count the same
    # first batch of a log no one counted before. FOR UPDATE alone locked nothing (no row yet).
    engine = make_engine(pg_url)
    origin = Origin.of_records([("promotions/0", 0), ("promotions/0", 1), ("promotions/1", 7)])
    value = [b"a", b"b", b"c"].__getitem__
    second: dict[str, object] = {}

    def other_worker() -> None:
        try:
            with engine.begin() as conn:
                second["new"] = fresh(conn, origin, 0, 3, value)
        except Exception as exc:  # (shown by the assert below)
            second["error"] = exc

    with engine.connect() as first:
        with first.begin():
            assert fresh(first, origin, 0, 3, value).all()
            thread = threading.Thread(target=other_worker)
            thread.start()
            for _ in range(600):  # until the other transaction waits on this one's lock (a minute at most)
                if _lock_waits(engine) or not thread.is_alive():
                    break
                time.sleep(0.1)
        thread.join(60)
    engine.dispose()
    assert "error" not in second, second.get("error")
    assert second["new"].tolist() == [False, False, False]  # the first transaction's mark, read after its commit


@pytest.mark.integration
@pytest.mark.postgres
def test_on_postgresql_a_logs_first_batch_is_counted_and_a_rolled_back_one_leaves_no_mark(pg_url: str) -> None:
    engine = make_engine(pg_url)
    origin = Origin.of_records([("orders/0", 3), ("orders/0", 4)])
    value = [b"a", b"b"].__getitem__
    with engine.connect() as conn:
        with conn.begin() as tx:
            assert fresh(conn, origin, 0, 2, value).all()
            tx.rollback()
        with conn.begin():
            assert fresh(conn, origin, 0, 2, value).all()
        with conn.begin():
            assert not fresh(conn, origin, 0, 2, value).any()
            marks = conn.execute(sa.select(counted_offsets.c.log, counted_offsets.c.counted_to)).all()
    engine.dispose()
    assert marks == [("orders/0", 4)]


def counted_of(conn: sa.Connection, log: str, generation: str, offsets: range) -> list[bool]:
    """``fresh`` on one fetch of ``log``'s records at ``offsets`` (values of the ``generation``'s log)."""
    origin = Origin.of_records([(log, o) for o in offsets])
    return fresh(conn, origin, 0, len(offsets), lambda i: b"%s-%d" % (generation.encode(), offsets[i])).tolist()


@pytest.mark.integration
def test_when_the_log_is_new_and_no_guard_told_then_its_records_below_the_old_count_are_counted(db_url: str) -> None:
    # The broker came back empty and the worker restarted too: no guard finding, and the new log's first
    # fetches stay below the old counted offset. They were taken for counted ones until a fetch reached it.
    engine = make_engine(db_url)
    with engine.begin() as conn:
        assert all(counted_of(conn, "orders/0", "old", range(0, 10)))
        assert all(counted_of(conn, "orders/0", "old", range(10, 100)))
        assert not any(counted_of(conn, "orders/0", "old", range(0, 10)))  # the old log read again
    with engine.begin() as conn:
        assert all(counted_of(conn, "orders/0", "new", range(0, 5)))  # another record at the first one counted
    with engine.begin() as conn:
        assert all(counted_of(conn, "orders/0", "new", range(5, 8)))
        assert not any(counted_of(conn, "orders/0", "new", range(0, 8)))  # the new log read again
        assert counted_of(conn, "orders/0", "new", range(3, 12)) == [False] * 5 + [True] * 4
    engine.dispose()
