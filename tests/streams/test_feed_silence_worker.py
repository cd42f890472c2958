"""The worker tells a feed that stopped (no order read for N minutes while the broker answers): a
``feed_stopped`` alert in the table and on ``forecast-alerts``, cleared by the next order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from fcplan.core.contracts import FORECAST_ALERTS, ORDERS
from fcplan.storage.schema import forecast_alerts
from fcplan.streams.feed_watch import CLEARED, FEED_STOPPED, OPEN

pytestmark = pytest.mark.integration


def order(order_id: str) -> bytes:
    ts = datetime.now(UTC).isoformat()
    return json.dumps({"order_id": order_id, "center_id": "FC-A", "ts": ts, "lines": 1, "units": 1}).encode()


def test_a_feed_that_stops_while_the_broker_answers_is_told_then_cleared_by_the_next_order(stack) -> None:
    def alerts() -> list[tuple[str, str]]:
        with stack.engine.connect() as conn:
            rows = conn.execute(select(forecast_alerts.c.kind, forecast_alerts.c.status)).all()
        return [tuple(r) for r in rows]

    stack.start_worker(FCPLAN_STREAMS_FEED_SILENCE_MINUTES="0.05")  # 3 s
    stack.produce(ORDERS, [("FC-A", order("o1"))])
    stack.wait_for_orders(1)
    stack.wait_for("the feed alert opened", alerts, [(FEED_STOPPED, OPEN)], timeout_s=60)
    stack.produce(ORDERS, [("FC-A", order("o2"))])
    stack.wait_for("the feed alert cleared", alerts, [(FEED_STOPPED, CLEARED)], timeout_s=60)
    records = [json.loads(r["value"]) for r in stack.read_topic(FORECAST_ALERTS, expected=2)]
    assert [(r["kind"], r["status"]) for r in records] == [(FEED_STOPPED, OPEN), (FEED_STOPPED, CLEARED)]
