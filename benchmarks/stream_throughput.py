"""Stream throughput and latency of the fcplan worker, with raw aiokafka as the peer.

Runs on the embedded broker, in one run:
  (a) raw: an aiokafka consumer reads the same N events (no processing); three
      times, the median counts (a single read of 200,000 events lasts a third
      of a second and swings by a quarter between runs);
  (b) worker: ``fcplan worker`` consumes, validates, dedupes, aggregates and
      writes them to the database; throughput from its first to its last write,
      by the times the worker stamped on those writes;
  (c) latency: at a fixed offered load (default 5,000 events/s) the time from
      produce to the order's row being visible in the database (p50/p99).
The last line printed is one JSON object with worker_eps, raw_eps, ratio and
p99_latency_ms.

    python benchmarks/stream_throughput.py [--events 200000] [--rate 5000] [--seconds 20]
        [--order-ids sequential|random] [--database-url URL]

``--order-ids random`` gives every order a random (UUID-like) id instead of
``bench-<n>``: the ``orders`` primary key then takes inserts all over its
B-tree instead of at one end, as with an order system that issues UUIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from fcplan.app.broker import EmbeddedBroker
from fcplan.core.contracts import ORDERS
from fcplan.storage import make_engine
from fcplan.storage.metrics import ORDERS_PROCESSED
from fcplan.storage.schema import orders, stream_metrics
from fcplan.streams.topics import ensure_topics

CENTERS = [f"FC-{i:02d}" for i in range(8)]


def make_events(n: int, prefix: str, start: datetime, random_ids: bool = False) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(1)
    centers = rng.integers(0, len(CENTERS), n)
    lines = rng.integers(1, 6, n)
    if random_ids:
        ids = [f"{prefix}{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, (n, 2), dtype=np.int64).tolist()]
    else:
        ids = [f"{prefix}{i}" for i in range(n)]
    events = []
    for i in range(n):
        ts = (start + timedelta(milliseconds=20 * i)).isoformat()
        c = CENTERS[centers[i]]
        value = json.dumps(
            {
                "order_id": ids[i],
                "center_id": c,
                "ts": ts,
                "lines": int(lines[i]),
                "units": int(lines[i]) * 2,
            }
        )
        events.append((c.encode(), value.encode()))
    return events


def produce(servers: str, events: list[tuple[bytes, bytes]]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=20, batch_size=512 * 1024, acks=1)
    t0 = time.perf_counter()
    for key, value in events:
        producer.send(ORDERS, key=key, value=value)
    producer.flush()
    producer.close()
    return len(events) / (time.perf_counter() - t0)


async def raw_consume(servers: str, n: int, decode: bool = False) -> float:
    """Events/s of a bare aiokafka loop (``decode``: also parse each value into an Order)."""
    from aiokafka import AIOKafkaConsumer

    from fcplan.core.contracts import Order

    consumer = AIOKafkaConsumer(
        ORDERS,
        bootstrap_servers=servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    seen, t0 = 0, None
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if t0 is None:
                    t0 = time.perf_counter()
                seen += len(records)
                if decode:
                    for record in records:
                        Order.model_validate_json(record.value)
    finally:
        await consumer.stop()
    return n / (time.perf_counter() - (t0 or time.perf_counter()))


def start_worker(servers: str, url: str, app_id: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FCPLAN_KAFKA_BOOTSTRAP": servers,
        "FCPLAN_DATABASE_URL": url,
        "FCPLAN_STREAMS_APP_ID": app_id,
        "FCPLAN_STREAMS_MAX_FUTURE_HOURS": "24",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "fcplan", "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def progress(engine: object) -> tuple[int, datetime | None]:
    """Events the worker has accounted for (stored or dead-lettered), and when it
    last wrote: its own clock at that batch's commit (``stream_metrics.updated_at``)."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        done, at = conn.execute(
            select(func.coalesce(func.sum(stream_metrics.c.value), 0), func.max(stream_metrics.c.updated_at)).where(
                stream_metrics.c.name.in_(ORDERS_PROCESSED)
            )
        ).one()
    return int(done), at


def worker_throughput(engine: object, n: int, timeout_s: float = 600) -> float:
    """Events/s from the first batch seen written to the last, timed by the worker's
    own write times (polling every 50 ms would add up to 50 ms to a half-second run)."""
    first: tuple[int, datetime] | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, at = progress(engine)
        if done and first is None:
            first = (done, at)  # type: ignore[assignment]
        if done >= n and first is not None:
            seconds = (at - first[1]).total_seconds()  # type: ignore[operator]
            return (done - first[0]) / seconds if seconds > 0 else float("nan")
        time.sleep(0.05)
    raise SystemExit(f"worker processed {progress(engine)[0]} of {n} events in {timeout_s}s")


def latency_run(servers: str, engine: object, rate: float, seconds: float) -> np.ndarray:
    """Offer ``rate`` events/s for ``seconds``; latency (ms) produce -> row visible."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=5, acks=1)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() or len(seen) < len(sent):
            with engine.connect() as conn:  # type: ignore[attr-defined]
                ids = conn.execute(select(orders.c.order_id).where(orders.c.order_id.like("lat-%"))).scalars()
                t = time.perf_counter()
                for oid in ids:
                    seen.setdefault(oid, t)
            if stop.is_set() and time.perf_counter() > deadline:
                return
            time.sleep(0.02)

    deadline = time.perf_counter() + seconds + 30
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t0 = time.perf_counter()
    i = 0
    while (elapsed := time.perf_counter() - t0) < seconds:
        due = int(elapsed * rate)
        while i < due:
            c = CENTERS[i % len(CENTERS)]
            oid = f"lat-{i}"
            value = json.dumps(
                {"order_id": oid, "center_id": c, "ts": datetime.now(UTC).isoformat(), "lines": 1, "units": 1}
            ).encode()
            producer.send(ORDERS, key=c.encode(), value=value)
            sent[oid] = time.perf_counter()
            i += 1
        time.sleep(0.001)
    producer.flush()
    stop.set()
    poller.join()
    lat = [1000 * (seen[k] - sent[k]) for k in sent if k in seen]
    missing = len(sent) - len(lat)
    if missing:
        print(f"warning: {missing} latency events not visible within 30 s", file=sys.stderr)
    return np.array(lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--order-ids", choices=["sequential", "random"], default="sequential")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fcplan-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=4)
        start = datetime.now(UTC) - timedelta(hours=2)
        events = make_events(args.events, "bench-", start - timedelta(days=1), args.order_ids == "random")
        produce_eps = produce(broker.bootstrap, events)
        raw_runs = [asyncio.run(raw_consume(broker.bootstrap, args.events)) for _ in range(3)]
        raw_eps = float(np.median(raw_runs))
        raw_decode_eps = asyncio.run(raw_consume(broker.bootstrap, args.events, decode=True))
        worker = start_worker(broker.bootstrap, url, "fcplan-bench", tmp / "worker.log")
        try:
            worker_eps = worker_throughput(engine, args.events)
            lat = latency_run(broker.bootstrap, engine, args.rate, args.seconds)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    p50, p99 = (float(np.percentile(lat, p)) for p in (50, 99)) if lat.size else (float("nan"),) * 2
    print(f"events: {args.events}  producer: {produce_eps:,.0f} ev/s (kafka-python)")
    runs = " / ".join(f"{r:,.0f}" for r in raw_runs)
    print(f"raw aiokafka consume: {raw_eps:,.0f} ev/s (median of {runs})")
    print(f"raw aiokafka + JSON -> Order parsing: {raw_decode_eps:,.0f} ev/s")
    print(f"fcplan worker end to end: {worker_eps:,.0f} ev/s  (ratio {worker_eps / raw_eps:.2f})")
    print(
        f"latency at {args.rate:,.0f} ev/s offered: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms ({lat.size} events)"
    )
    print(
        json.dumps(
            {
                "events": args.events,
                "worker_eps": round(worker_eps),
                "raw_eps": round(raw_eps),
                "raw_runs_eps": [round(r) for r in raw_runs],
                "ratio": round(worker_eps / raw_eps, 3),
                "raw_decode_eps": round(raw_decode_eps),
                "ratio_to_raw_decode": round(worker_eps / raw_decode_eps, 3),
                "p50_latency_ms": round(p50, 1),
                "p99_latency_ms": round(p99, 1),
                "offered_eps": args.rate,
                "database": url.split(":")[0],
                "order_ids": args.order_ids,
            }
        )
    )


if __name__ == "__main__":
    main()
