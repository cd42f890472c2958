"""The worker end to end on a real broker and database: exact hourly counts,
duplicates, late events and bad input, each accounted for."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fcplan.core.contracts import ORDERS, ORDERS_DLQ

pytestmark = pytest.mark.integration

BASE = datetime(2024, 5, 10, tzinfo=UTC)
ZONES = ["+09:00", "Z", "-05:00", "+05:30"]  # +05:30: an hour bucket is not a local hour


def iso(instant: datetime, zone: str) -> str:
    """``instant`` written as local time in a fixed offset (``Z`` for UTC)."""
    if zone == "Z":
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    local = instant.astimezone(UTC) + sign * timedelta(hours=hours, minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + zone


def order_bytes(order: dict) -> bytes:
    return json.dumps(order, separators=(",", ":")).encode()


def make_orders(
    n: int,
    seed: int,
    centers: tuple[str, ...] = ("FC-A", "FC-B", "FC-C"),
    span_hours: float = 30.0,
    prefix: str = "o",
) -> list[dict]:
    """``n`` distinct orders over ``span_hours`` from BASE, in random (not time) order,
    written in rotating time zones."""
    rng = np.random.default_rng(seed)
    offsets_ms = rng.integers(0, int(span_hours * 3_600_000), n)
    lines = rng.integers(1, 6, n)
    extra = rng.integers(0, 10, n)
    out = []
    for i in range(n):
        instant = BASE + timedelta(milliseconds=int(offsets_ms[i]))
        out.append(
            {
                "order_id": f"{prefix}{seed}-{i:06d}",
                "center_id": centers[int(rng.integers(len(centers)))],
                "ts": iso(instant, ZONES[i % len(ZONES)]),
                "lines": int(lines[i]),
                "units": int(lines[i] + extra[i]),
            }
        )
    return out


def keyed(orders: list[dict]) -> list[tuple[str, bytes]]:
    return [(o["center_id"], order_bytes(o)) for o in orders]


@pytest.mark.slow
def test_when_orders_arrive_out_of_order_in_several_zones_then_hourly_counts_equal_the_ground_truth(
    stack_factory, db_url
):
    stack = stack_factory(db_url)
    orders = make_orders(3000, seed=1)
    # Hand-written edges: the hour is the UTC hour of the event's own timestamp.
    edges = [
        {
            "order_id": "edge-1",
            "center_id": "FC-Z",
            "ts": "2024-05-11T00:30:00+09:00",
            "lines": 1,
            "units": 1,
        },
        {
            "order_id": "edge-2",
            "center_id": "FC-Z",
            "ts": "2024-05-10T11:00:00.000-05:00",
            "lines": 2,
            "units": 3,
        },
        {"order_id": "edge-3", "center_id": "FC-Z", "ts": "2024-05-10T15:00:00Z", "lines": 3, "units": 4},
        {
            "order_id": "edge-4",
            "center_id": "FC-Z",
            "ts": "2024-05-10T21:29:59.999+05:30",
            "lines": 1,
            "units": 9,
        },
    ]
    sent = orders[:1500] + edges + orders[1500:]
    stack.start_worker()
    stack.produce(ORDERS, keyed(sent))

    stack.wait_for_orders(len(sent))
    stack.assert_hourly(stack.hourly_truth(pd.DataFrame(sent)))
    z = stack.hourly().query("center_id == 'FC-Z'")
    assert z[["hour", "orders", "lines", "units"]].to_dict("records") == [
        {"hour": pd.Timestamp("2024-05-10 15:00"), "orders": 3, "lines": 5, "units": 14},
        {"hour": pd.Timestamp("2024-05-10 16:00"), "orders": 1, "lines": 2, "units": 3},
    ]
    assert stack.metrics() == Counter({("orders", "accepted"): len(sent)})


@pytest.mark.slow
def test_when_an_order_is_resent_in_the_same_batch_or_much_later_then_it_is_counted_once(stack):
    first = make_orders(1000, seed=2)
    repeats_now = first[::10]  # 100 re-sent right behind the originals
    stack.start_worker()
    stack.produce(ORDERS, keyed(first + repeats_now))
    stack.wait_for_orders(len(first))
    stack.wait_for("duplicates counted", lambda: stack.metrics()[("orders", "duplicate")], len(repeats_now))

    later_new = make_orders(200, seed=3)
    repeats_later = first[5::7]  # re-sent after the originals were stored
    stack.produce(ORDERS, keyed(repeats_later + later_new + repeats_later[:10]))
    expected_dups = len(repeats_now) + len(repeats_later) + 10
    stack.wait_for(
        "orders and duplicates counted",
        lambda: (stack.order_count(), stack.metrics()[("orders", "duplicate")]),
        (len(first) + len(later_new), expected_dups),
    )

    stack.assert_hourly(stack.hourly_truth(pd.DataFrame(first + later_new)))
    assert stack.metrics() == Counter(
        {("orders", "accepted"): len(first) + len(later_new), ("orders", "duplicate"): expected_dups}
    )
    assert stack.read_topic(ORDERS_DLQ, expected=0) == []


@pytest.mark.slow
def test_when_events_are_older_than_stream_time_minus_grace_then_they_go_to_the_dlq_as_late(stack):
    def order(oid: str, center: str, hours: float, zone: str = "Z") -> dict:
        return {
            "order_id": oid,
            "center_id": center,
            "ts": iso(BASE + timedelta(hours=hours), zone),
            "lines": 1,
            "units": 2,
        }

    # Per center, in partition (= arrival) order; grace is 2 hours of that center's stream time.
    batch_1 = [
        order("a1", "FC-A", 10),
        order("a2", "FC-A", 9, "+09:00"),  # within grace
        order("a3", "FC-A", 7.5),  # 2.5 h behind a1: late
        order("b1", "FC-B", 1),
        order("b2", "FC-B", 5),
        order("b3", "FC-B", 2.9, "-05:00"),  # 2.1 h behind b2: late
        order("b4", "FC-B", 3.1),  # 1.9 h behind: accepted
        order("c1", "FC-C", 0),  # another center's stream time is not FC-A's
    ]
    stack.start_worker(FCPLAN_STREAMS_LATE_GRACE_HOURS="2")
    stack.produce(ORDERS, keyed(batch_1))
    stack.wait_for_orders(6)
    # Stream time is stored: an event far behind it is late in a later batch too,
    # and is late again (not silently dropped) when re-sent.
    batch_2 = [
        order("a4", "FC-A", 1),
        order("a3", "FC-A", 7.5),
        order("c2", "FC-C", 1.5),
        order("a1", "FC-A", 10),
    ]
    stack.produce(ORDERS, keyed(batch_2))
    late_ids = ["a3", "b3", "a4", "a3"]
    produced = len(batch_1) + len(batch_2)

    def accounted() -> int:
        m = stack.metrics()
        return (
            m[("orders", "accepted")] + m[("orders", "duplicate")] + sum(stack.dead_letter_metrics().values())
        )

    stack.wait_for("every produced event accounted for", accounted, produced)
    dlq = stack.read_topic(ORDERS_DLQ, expected=len(late_ids))

    sent = {o["order_id"]: order_bytes(o) for o in batch_1 + batch_2}
    assert sorted(json.loads(r["value"])["order_id"] for r in dlq) == sorted(late_ids)
    for rec in dlq:
        oid = json.loads(rec["value"])["order_id"]
        assert rec["value"] == sent[oid], "a dead letter keeps the original bytes"
        assert rec["key"] == (b"FC-A" if oid.startswith("a") else b"FC-B")
        assert rec["headers"]["dlq.reason"] == "late"
        assert rec["headers"]["dlq.topic"] == ORDERS
        assert {"dlq.detail", "dlq.partition", "dlq.offset"} <= set(rec["headers"])
    assert stack.metrics() == Counter(
        {
            ("orders", "accepted"): 7,
            ("orders", "duplicate"): 1,
            ("orders_dead_letters", "late"): 4,
        }
    )
    assert sorted(stack.order_ids()) == ["a1", "a2", "b1", "b2", "b4", "c1", "c2"]


def bad_orders(now: datetime) -> list[tuple[str, bytes | None, str]]:
    """``(key, raw value, expected dlq.reason)`` for each kind of bad input."""

    def raw(**fields: object) -> bytes:
        base = {"order_id": "bad", "center_id": "FC-A", "ts": "2024-05-10T10:00:00Z", "lines": 1, "units": 1}
        base.update(fields)
        return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()

    future = (now + timedelta(days=30)).isoformat()
    return [
        ("FC-A", b'{"order_id": "x1", "center_id": "FC-A", "ts": ', "malformed"),  # truncated JSON
        ("FC-A", b"\xff\xfe\x00not utf-8", "malformed"),
        ("FC-A", b"[1, 2, 3]", "malformed"),  # JSON, not an object
        ("FC-A", None, "malformed"),  # a tombstone
        ("FC-A", raw(order_id="m1", units=...), "invalid"),  # missing field
        ("FC-A", raw(order_id="m2", lines="many"), "invalid"),  # mistyped field
        ("FC-A", raw(order_id="m3", lines=-2, units=3), "invalid"),  # negative quantity
        ("FC-A", raw(order_id="m4", lines=3, units=2), "invalid"),  # fewer units than lines
        ("FC-A", raw(order_id="m5", ts="2024-05-10T10:00:00"), "invalid"),  # no zone
        ("FC-A", raw(order_id="m6", ts="yesterday"), "invalid"),
        ("FC-A", raw(order_id="m7", units=10**9), "absurd_quantity"),
        ("FC-A", raw(order_id="m8", lines=50_000, units=50_000), "absurd_quantity"),
        ("FC-A", raw(order_id="m9", ts=future), "future"),
        ("FC-X", raw(order_id="m10", center_id="FC-X"), "unknown_center"),
        ("FC-A", raw(order_id="m11", note="x" * 2000), "oversize"),  # valid JSON, > 1024 bytes
    ]


@pytest.mark.slow
def test_when_orders_are_bad_then_each_goes_to_the_dlq_with_its_bytes_and_reason_and_the_worker_goes_on(
    stack,
):
    bad = bad_orders(datetime.now(UTC))
    good_before = make_orders(50, seed=4, centers=("FC-A", "FC-B"), prefix="before")
    good_after = make_orders(50, seed=5, centers=("FC-A", "FC-B"), prefix="after")
    worker = stack.start_worker(FCPLAN_CENTERS="FC-A,FC-B", FCPLAN_STREAMS_MAX_MESSAGE_BYTES="1024")
    stack.produce(ORDERS, keyed(good_before) + [(k, v) for k, v, _ in bad] + keyed(good_after))

    expected = Counter(reason for *_, reason in bad)
    stack.wait_for("dead letters by reason", stack.dead_letter_metrics, expected)
    stack.wait_for_orders(len(good_before) + len(good_after))
    dlq = stack.read_topic(ORDERS_DLQ, expected=len(bad))

    by_value: dict[bytes | None, str] = {v: r for _, v, r in bad}
    found = Counter()
    for rec in dlq:
        assert rec["value"] in by_value, (
            f"dead letter {rec['value']!r} is not a byte-exact copy of a bad input"
        )
        assert rec["headers"]["dlq.reason"] == by_value[rec["value"]], (
            f"{rec['value'][:60]!r}: expected reason {by_value[rec['value']]!r}, found {rec['headers']}"
        )
        assert rec["headers"]["dlq.topic"] == ORDERS
        found[rec["value"]] += 1
    assert all(n == 1 for n in found.values()) and len(found) == len(bad)

    stack.assert_hourly(stack.hourly_truth(pd.DataFrame(good_before + good_after)))
    m = stack.metrics()
    assert m[("orders", "accepted")] + m[("orders", "duplicate")] + sum(expected.values()) == (
        len(good_before) + len(bad) + len(good_after)
    )
    assert worker.alive(), f"the worker died on bad input:\n{worker.tail()}"
