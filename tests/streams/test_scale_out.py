"""Scale-out: two workers in one consumer group split the four ``orders``
partitions, each processes its own, totals stay exact; when one stops (SIGTERM)
mid-stream the other takes over its partitions and totals are still exact."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fcplan.core.contracts import ORDERS, ORDERS_DLQ

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL = {0, 1, 2, 3}


def test_when_workers_start_together_on_a_fresh_database_then_none_of_them_crashes(db_url):
    """Every worker calls ``make_engine`` (which creates the schema) as it starts; two
    replicas starting at once on a fresh database must both come up."""
    from fcplan.storage import make_engine

    def trial(url: str) -> list[str]:
        barrier = threading.Barrier(4)

        def start() -> str:
            barrier.wait()
            try:
                make_engine(url).dispose()
                return ""
            except Exception as exc:
                return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

        with ThreadPoolExecutor(4) as pool:
            return [e for e in pool.map(lambda _: start(), range(4)) if e]

    errors = trial(db_url)
    if db_url.startswith("sqlite:///"):  # more fresh files: the race is probabilistic
        for k in range(4):
            errors += trial(db_url.replace(".db", f"-{k}.db"))
    assert errors == [], f"concurrent schema creation failed: {errors[:3]}"


def dead_letters_logged(worker) -> int:
    """Dead letters this worker process itself reported (its ``orders: N dead letters`` lines)."""
    return sum(int(n) for n in re.findall(r"orders: (\d+) dead letters", worker.log()))


def test_when_two_workers_share_a_group_then_they_split_partitions_and_one_takes_over_when_the_other_stops(
    stack, order_stream
):
    first, second = stack.start_worker(), stack.start_worker()

    def split() -> bool:
        a, b = (w.orders_partitions()[-1] if w.orders_partitions() else set() for w in (first, second))
        return bool(a) and bool(b) and not (a & b) and (a | b) == ALL

    stack.wait_for("the two workers' orders partitions to split the four", split, True, timeout_s=90)
    own = {w.name: w.orders_partitions()[-1] for w in (first, second)}

    # One malformed event per partition: each worker reports exactly those of its own partitions.
    for p in sorted(ALL):
        stack.produce(ORDERS, [("probe", f"not json, partition {p}".encode())], partition=p)
    stack.wait_for(
        "dead letters reported by each worker",
        lambda: {w.name: dead_letters_logged(w) for w in (first, second)},
        {w.name: len(own[w.name]) for w in (first, second)},
    )
    dlq = stack.read_topic(ORDERS_DLQ, expected=4)
    assert sorted(int(r["headers"]["dlq.partition"]) for r in dlq) == [0, 1, 2, 3]

    # Phase 1: both workers consume; totals are exact.
    frame, messages = order_stream(60_000, seed=21, span_hours=24)
    half = len(messages) // 2
    phase_1 = frame[frame["order_id"].isin({json.loads(value)["order_id"] for _, value in messages[:half]})]
    stack.produce(ORDERS, messages[:half])
    stack.wait_for_orders(len(phase_1))
    stack.assert_hourly(stack.hourly_truth(phase_1))
    assert [w.orders_partitions()[-1] for w in (first, second)] == [own[first.name], own[second.name]], (
        "no rebalance was expected while both workers ran"
    )

    # Phase 2: stop the first worker mid-stream; the second takes over every partition.
    sender = threading.Thread(target=stack.produce, args=(ORDERS, messages[half:]), daemon=True)
    sender.start()
    stack.wait_for("orders stored before the stop", lambda: stack.order_count() >= len(phase_1) + 5_000, True)
    assert first.terminate() == 0, f"the first worker did not stop cleanly:\n{first.tail()}"
    stack.wait_for_assignment(second, ALL)
    sender.join(120)
    stack.wait_for_orders(len(frame), timeout_s=120)

    stack.assert_hourly(stack.hourly_truth(frame))
    ids = stack.order_ids()
    assert len(ids) == len(frame) and set(ids) == set(frame["order_id"])
    assert stack.metrics()[("orders", "accepted")] == len(frame)
    assert second.alive()
    stack.read_topic(ORDERS_DLQ, expected=4)  # no new dead letters, none repeated
