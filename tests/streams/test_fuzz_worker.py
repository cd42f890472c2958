"""Fuzzing a running worker: thousands of hostile orders (seeded mutations of valid
ones, :mod:`fcplan.simulator.hostile`) on the real broker and database. The
worker never dies and every order ends either stored or on the dead-letter
topic: stored + dead-lettered = sent, with nothing counted as a duplicate."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from fcplan.core.contracts import ORDERS, ORDERS_DLQ
from fcplan.simulator.hostile import mutate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CENTERS = ("ICN1", "PUS1")


def hostile_stream(n: int, seed: int, now: datetime) -> list[tuple[str | None, bytes | None]]:
    """``n`` orders of the last 15 hours, four in five mutated, each with its own id."""
    rng = random.Random(seed)
    out: list[tuple[str | None, bytes | None]] = []
    for i in range(n):
        order = {"order_id": f"fz-{seed}-{i}", "center_id": CENTERS[i % 2],
                 "ts": (now - timedelta(minutes=900 - i * 900 // n)).isoformat(), "lines": 1 + i % 3, "units": 4}
        value = json.dumps(order).encode() if rng.random() < 0.2 else mutate(order, f"u{seed}-{i}", rng)
        key = rng.choice([*CENTERS, None])
        out.append((CENTERS[0] if key is None and value is None else key, value))  # a record needs one of them
    return out


@pytest.mark.parametrize("seed", [21])
def test_when_thousands_of_hostile_orders_arrive_then_each_is_stored_or_dead_lettered_and_the_worker_lives(
    stack, seed: int
) -> None:
    messages = hostile_stream(5000, seed, datetime.now(UTC))
    worker = stack.start_worker(FCPLAN_CENTERS=",".join(CENTERS))
    sent = stack.produce(ORDERS, messages)

    def accounted() -> int:
        return stack.order_count() + sum(stack.dead_letter_metrics().values())

    stack.wait_for("orders stored + dead-lettered", accounted, sent, timeout_s=180)
    metrics = stack.metrics()
    stored, dead = stack.order_count(), stack.dead_letter_metrics()
    print(f"seed {seed}: {sent} sent, {stored} stored, dead letters {dict(dead)}")
    assert worker.alive(), f"the worker died on hostile input:\n{worker.tail()}"
    assert metrics[("orders", "accepted")] == stored and metrics[("orders", "duplicate")] == 0
    assert stored > 500 and dead["malformed"] > 500 and dead["invalid"] > 500
    dlq = stack.read_topic(ORDERS_DLQ, expected=sum(dead.values()), timeout_s=60)
    sent_values = {v for _, v in messages}
    assert all(rec["value"] in sent_values for rec in dlq), "a dead letter is not a byte-exact copy of an input"
    assert {rec["headers"]["dlq.reason"] for rec in dlq} == set(dead)
