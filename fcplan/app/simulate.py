"""``fcplan simulate``: send simulated orders and promotions to Kafka.

Backfill ``days`` of history as fast as the broker takes it, then go live: the
simulated clock runs at ``speed`` simulated seconds per real second from now.
The true expected demand is written to the database (``demand_truth``) so that
oracle forecasts can be computed later. With a centers file
(``FCPLAN_PLANNER_CENTERS_FILE``) each center's orders follow its own zone and
holiday country; without one, every center is in ``FCPLAN_TIMEZONE``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine

from fcplan.core.contracts import CANCELLED, ORDERS, PROMOTIONS
from fcplan.core.locales import Locales
from fcplan.simulator import (
    CenterProfile,
    SimulatedPromotion,
    expected_hourly,
    generate_order_frame,
    generate_orders,
    make_centers,
    make_promotions,
)
from fcplan.simulator.shifts import Shift
from fcplan.storage import upsert
from fcplan.storage.schema import demand_truth
from fcplan.streams.producer import JsonProducer
from fcplan.streams.replay import order_records

log = logging.getLogger(__name__)

#: How far past "now" the true demand and the promotion calendar are laid out.
LOOKAHEAD = pd.Timedelta(days=60)


@dataclass(frozen=True)
class SimulationConfig:
    centers: int = 5
    days: int = 120
    speed: float = 1.0
    seed: int = 7
    scale: float = 1.0
    tz: str = "Asia/Seoul"
    shifts: tuple[Shift, ...] = ()  # injected demand changes (``--shift``)
    locales: Locales | None = None  # each center's zone and holidays; None: all in ``tz``


def promotion_events(promos: Sequence[SimulatedPromotion]) -> list[tuple[datetime, str, dict]]:
    """Every version a promotion goes through, as ``(event time, key, record)``:
    the announcement, and for cancelled ones the cancellation."""
    events = []
    for promo in promos:
        record = promo.to_event()
        record.pop("cancelled_at", None)
        key = "all" if promo.center_ids is None else promo.center_ids[0]
        announced = {**record, "status": "active", "updated_at": promo.announced_at.isoformat()}
        events.append((promo.announced_at, key, announced))
        if promo.status == CANCELLED and promo.cancelled_at is not None:
            cancelled = {**record, "status": CANCELLED, "updated_at": promo.cancelled_at.isoformat()}
            events.append((promo.cancelled_at, key, cancelled))
    return sorted(events, key=lambda e: e[0])


def store_truth(
    engine: Engine,
    centers: Sequence[CenterProfile],
    promos: Sequence[SimulatedPromotion],
    start: pd.Timestamp,
    end: pd.Timestamp,
    tz: str,
    locales: Locales | None = None,
) -> int:
    truth = expected_hourly(centers, promos, start, end, tz=tz, locales=locales)
    rows = [
        {"center_id": c, "hour": ts.to_pydatetime().replace(tzinfo=None), "expected_orders": float(m)}
        for c, ts, m in zip(truth["unique_id"], truth["ds"].dt.tz_convert("UTC"), truth["mean"], strict=True)
    ]
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            upsert(conn, demand_truth, rows[i : i + 5000], ["center_id", "hour"])
    return len(rows)


class Simulator:
    """Backfill then live; ``stop`` ends the live phase."""

    def __init__(self, cfg: SimulationConfig, servers: str, engine: Engine | None = None) -> None:
        self.cfg = cfg
        self.servers = servers
        self.engine = engine
        self.stop_event = threading.Event()
        self.now = pd.Timestamp(datetime.now(UTC)).tz_convert(cfg.tz)
        self._t_now = time.monotonic()  # the simulated clock starts at self.now, at this moment
        self.start = self.now.normalize() - pd.Timedelta(days=cfg.days)
        self.centers = make_centers(cfg.centers, seed=cfg.seed, scale=cfg.scale)
        self.promotions = make_promotions(
            self.centers, self.start, self.now + LOOKAHEAD, seed=cfg.seed, tz=cfg.tz, locales=cfg.locales
        )
        self.sent_orders = 0
        self.sent_promotions = 0

    def backfill(self, producer: JsonProducer) -> int:
        """Promotions announced so far, then every order from ``start`` to now."""
        if self.engine is not None:
            store_truth(
                self.engine, self.centers, self.promotions, self.start, self.now + LOOKAHEAD, self.cfg.tz,
                self.cfg.locales,
            )
        self._pending = promotion_events(self.promotions)
        self._send_promotions_until(producer, self.now)
        frame = generate_order_frame(
            self.centers,
            self.promotions,
            self.start,
            self.now,
            seed=self.cfg.seed,
            tz=self.cfg.tz,
            shifts=self.cfg.shifts,
            locales=self.cfg.locales,
        )
        self.sent_orders += producer.send_many(ORDERS, order_records(frame))
        producer.flush()
        return len(frame)

    def _send_promotions_until(self, producer: JsonProducer, moment: pd.Timestamp) -> None:
        while self._pending and self._pending[0][0] <= moment:
            _, key, record = self._pending.pop(0)
            producer.send(PROMOTIONS, key, record)
            self.sent_promotions += 1

    def live(self, producer: JsonProducer, tick_s: float = 0.5) -> None:
        """Send orders as the simulated clock passes their timestamps, until stopped."""
        orders: Iterator[dict] = generate_orders(
            self.centers,
            self.promotions,
            self.now,
            self.now + pd.Timedelta(days=3650),
            seed=self.cfg.seed,
            tz=self.cfg.tz,
            shifts=self.cfg.shifts,
            locales=self.cfg.locales,
        )
        upcoming = next(orders, None)
        while not self.stop_event.is_set():
            clock = self.now + pd.Timedelta(seconds=(time.monotonic() - self._t_now) * self.cfg.speed)
            self._send_promotions_until(producer, clock)
            while upcoming is not None and pd.Timestamp(upcoming["ts"]) <= clock:
                producer.send(ORDERS, upcoming["center_id"], upcoming)
                self.sent_orders += 1
                upcoming = next(orders, None)
            producer.flush()
            self.stop_event.wait(tick_s)
