"""Records larger than a producer may send (about 1 MB): dead-lettered in part, and the worker goes on."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from fcplan.core.contracts import (
    DEAD_LETTER_MAX_BYTES,
    DEAD_LETTER_MAX_KEY_BYTES,
    ORDERS,
    ORDERS_DLQ,
    PROMOTIONS,
    PROMOTIONS_DLQ,
    dead_letter,
)

BIG = 1_500_000  # past aiokafka's and faust's max_request_size (1 MB)


def order(i: int, pad: int = 0) -> bytes:
    body = {"order_id": f"big-{i}", "center_id": "FC-A", "ts": "2024-05-10T01:00:00Z", "lines": 1, "units": 1}
    return json.dumps(body | ({"note": "x" * pad} if pad else {})).encode()


def promotion(i: int, pad: int = 0) -> bytes:
    body = {"promo_id": f"P{i}", "center_ids": ["FC-A"], "start": "2024-05-10T00:00:00Z",
            "end": "2024-05-11T00:00:00Z", "kind": "sale", "discount_pct": 10}
    return json.dumps(body | ({"note": "x" * pad} if pad else {})).encode()


def test_a_dead_letter_keeps_a_records_bytes_up_to_the_limit_and_says_what_it_cut() -> None:
    def source(key: bytes | None, value: bytes | None) -> SimpleNamespace:
        return SimpleNamespace(key=key, value=value, topic="orders", partition=2, offset=7)

    key, value, headers = dead_letter(source(b"FC-A", b"{}"), "malformed", "why")
    assert (key, value) == (b"FC-A", b"{}")
    assert "dlq.truncated" not in dict(headers)
    big = bytes(range(256)) * 6000  # 1,536,000 bytes
    key, value, headers = dead_letter(source(big, big), "oversize", "1536000 bytes, limit 65536")
    assert (key, value) == (big[:DEAD_LETTER_MAX_KEY_BYTES], big[:DEAD_LETTER_MAX_BYTES])
    said = dict(headers)
    cut = (f"key 1536000 bytes, value 1536000 bytes; the first {DEAD_LETTER_MAX_KEY_BYTES} and "
           f"{DEAD_LETTER_MAX_BYTES} kept")
    assert said["dlq.truncated"].decode() == cut
    assert said["dlq.offset"] == b"7" and said["dlq.reason"] == b"oversize"
    assert dead_letter(source(None, None), "malformed", "empty")[:2] == (None, None)


# A key and a value both past the limit were cut to 512 KiB each: 1,048,576 bytes before the headers, over
# the producer's max_request_size (1 MB), so that dead letter was refused as the record itself had been.
def test_a_dead_letter_of_a_big_key_and_a_big_value_fits_what_a_producer_may_send() -> None:
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    big = b"k" * 3_000_000
    record = SimpleNamespace(key=big, value=big, topic="orders", partition=0, offset=1)
    key, value, headers = dead_letter(record, "oversize", "x" * 5000)
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)  # what aiokafka's send checks
    assert size <= 1_048_576, f"{size} bytes: past the producer's max_request_size"


@pytest.mark.integration
@pytest.mark.slow
def test_when_an_order_and_a_promotion_are_bigger_than_a_producer_may_send_then_the_worker_goes_on(stack) -> None:
    """On the old code the dead letter's send raised: the orders consumer stopped and started again
    (every 30 s at last) with that batch never committed, and the promotions agent retried its batch
    for good: no dead letter was sent, and no promotion sent after it was stored."""
    worker = stack.start_worker()
    stack.produce(ORDERS, [("FC-A", order(0))], partition=0)
    stack.produce(PROMOTIONS, [("FC-A", promotion(0))], partition=0)
    stack.wait_for_orders(1, timeout_s=90)
    stack.produce(ORDERS, [("FC-A", order(1, pad=BIG))], partition=0)
    stack.produce(PROMOTIONS, [("FC-A", promotion(1, pad=BIG))], partition=0)
    # once the worker has read them (the orders writer counts its dead letters before sending them):
    stack.wait_for("oversize orders counted", stack.dead_letter_metrics, {"oversize": 1}, timeout_s=90)
    stack.produce(ORDERS, [("FC-A", order(i)) for i in range(2, 52)], partition=0)
    stack.produce(PROMOTIONS, [("FC-A", promotion(2))], partition=0)
    stack.wait_for_orders(51, timeout_s=90)
    stack.wait_for("stored promotions", lambda: sorted(stack.promotions()), ["P0", "P2"], timeout_s=90)
    for topic in (ORDERS_DLQ, PROMOTIONS_DLQ):
        (dead,) = stack.read_topic(topic, 1)
        assert dead["headers"]["dlq.reason"] == "oversize"
        assert dead["headers"]["dlq.offset"] == "1"
        assert len(dead["value"]) == DEAD_LETTER_MAX_BYTES and dead["value"].startswith(b'{"')
        sent = len(order(1, pad=BIG) if topic == ORDERS_DLQ else promotion(1, pad=BIG))
        assert dead["headers"]["dlq.truncated"] == f"value {sent} bytes; the first {DEAD_LETTER_MAX_BYTES} kept"
    assert stack.dead_letter_metrics() == {"oversize": 1}
    assert stack.dead_letter_metrics("promotions_dead_letters") == {"oversize": 1}
    assert worker.alive()
    assert "MessageSizeTooLargeError" not in worker.log()
