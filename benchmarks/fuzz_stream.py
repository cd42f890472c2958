"""Fuzz the orders path with a million hostile records; not part of CI (minutes).

Two parts, in one run:
  (a) decoder and writer: ``--records`` mutated orders (:mod:`fcplan.simulator.hostile`,
      seeded; a ``--clean`` share left valid, every one with its own id) in
      fetches of ``--fetch``: the batch decoder (``decode_fetch``) must judge
      each exactly as the per-record validator (``parse_order``) does, then the
      writer (``process_fetch``) stores them in a fresh SQLite database;
  (b) worker: ``--worker-records`` more through a running ``fcplan worker`` on
      the embedded broker.
Counted: crashes (an exception out of the decoder, the validator or the writer,
or the worker exiting; must be 0), mismatches between the batch decoder and the
per-record validator (must be 0), and the accounting: stored + dead-lettered
must equal sent (every mutated order has its own id, so none is a duplicate). The last line printed is one JSON object.

    python benchmarks/fuzz_stream.py [--records 1000000] [--worker-records 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from fcplan.core.time import epoch_us
from fcplan.simulator.hostile import mutate
from fcplan.storage import make_engine
from fcplan.storage.metrics import DUPLICATE, ORDERS_DEAD_LETTERS, ORDERS_PROCESSED
from fcplan.storage.schema import orders, stream_metrics
from fcplan.streams.batch_decode import Fetch, decode_fetch
from fcplan.streams.order_writer import process_fetch
from fcplan.streams.validation import Limits, Rejected, parse_order

CENTERS = ("FC-00", "FC-01", "FC-02", "FC-03")


def hostile(lo: int, hi: int, rng: random.Random, now: datetime, clean: float, prefix: str) -> list[bytes | None]:
    out: list[bytes | None] = []
    for i in range(lo, hi):
        order = {"order_id": f"{prefix}{i}", "center_id": CENTERS[i % len(CENTERS)],
                 "ts": (now - timedelta(seconds=(hi - i) % 36_000)).isoformat(), "lines": 1 + i % 4, "units": 5}
        out.append(json.dumps(order).encode() if rng.random() < clean else mutate(order, f"u{prefix}{i}", rng))
    return out


def mismatches(fetch: Fetch, decoded, limits: Limits, now: datetime) -> int:
    """Records the batch decoder judged unlike the per-record validator."""
    c = decoded.columns
    batch = {
        c.source[k]: (c.order_id[k], c.center_id[k], int(c.t_us[k]), c.lines[k], c.units[k]) for k in range(len(c))
    }
    rejected = {i: (r.reason, r.detail) for i, r in decoded.rejected}
    bad = 0
    for i in range(len(fetch)):
        one = parse_order(fetch.value(i), limits, now)
        if isinstance(one, Rejected):
            bad += rejected.get(i) != (one.reason, one.detail)
        else:
            bad += batch.get(i) != (one.order_id, one.center_id, epoch_us(one.ts), one.lines, one.units)
    return bad


def decoder_part(n: int, fetch_size: int, seed: int, clean: float, workdir: Path) -> dict:
    rng = random.Random(seed)
    limits = Limits(centers=frozenset(CENTERS))
    engine = make_engine(f"sqlite:///{workdir / 'fuzz.db'}")
    crashes, mismatched, accepted, duplicates = 0, 0, 0, 0
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    for lo in range(0, n, fetch_size):
        now = datetime.now(UTC)
        fetch = Fetch.of(hostile(lo, min(n, lo + fetch_size), rng, now, clean, "d"))
        try:
            mismatched += mismatches(fetch, decode_fetch(fetch, limits, now), limits, now)
            result = process_fetch(fetch, engine, limits)
        except Exception:
            crashes += 1
            traceback.print_exc()
            continue
        accepted += result.accepted
        duplicates += result.duplicates
        reasons.update(reason for _, reason, _ in result.dead)
        if (lo // fetch_size) % 40 == 0:
            print(f"  {lo + len(fetch):,} records, {crashes} crashes, {mismatched} mismatches", flush=True)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(orders)).scalar_one()
    engine.dispose()
    dead = sum(reasons.values())
    return {"sent": n, "stored": stored, "dead_lettered": dead, "duplicates": duplicates, "crashes": crashes,
            "mismatches": mismatched, "accounted": stored + dead == n and stored == accepted,
            "reasons": dict(reasons.most_common()), "seconds": round(time.perf_counter() - started, 1)}


def worker_part(n: int, seed: int, clean: float, workdir: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from stream_throughput import start_worker

    from fcplan.app.broker import EmbeddedBroker
    from fcplan.core.contracts import ORDERS
    from fcplan.streams.topics import ensure_topics

    url = f"sqlite:///{workdir / 'worker.db'}"
    engine = make_engine(url)
    rng = random.Random(seed + 1)
    values = hostile(0, n, rng, datetime.now(UTC), clean, "w")
    started = time.perf_counter()
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        ensure_topics(broker.bootstrap, partitions=4)
        os.environ["FCPLAN_CENTERS"] = ",".join(CENTERS)  # start_worker passes this process's environment on
        worker = start_worker(broker.bootstrap, url, "fcplan-fuzz", workdir / "worker.log")
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=512 * 1024,
                                 max_request_size=4 * 1024**2, acks=1)
        for i, value in enumerate(values):
            producer.send(ORDERS, key=CENTERS[i % len(CENTERS)].encode(), value=value)
        producer.flush()
        producer.close()
        deadline, done = time.monotonic() + 600, 0
        while time.monotonic() < deadline and worker.poll() is None:
            with engine.connect() as conn:
                done = int(conn.execute(select(func.coalesce(func.sum(stream_metrics.c.value), 0)).where(
                    stream_metrics.c.name.in_(ORDERS_PROCESSED))).scalar_one())
            if done >= n:
                break
            time.sleep(0.5)
        exited = worker.poll()
        if exited is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        metrics = {(m, r): v for m, r, v in conn.execute(
            select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value))}
    engine.dispose()
    dead = sum(v for (m, _), v in metrics.items() if m == ORDERS_DEAD_LETTERS)
    duplicates = metrics.get((ORDERS, DUPLICATE), 0)
    return {"sent": n, "stored": stored, "dead_lettered": dead, "duplicates": duplicates,
            "crashes": int(exited is not None), "accounted": stored + dead == n,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--worker-records", type=int, default=100_000, help="0: skip the worker part")
    parser.add_argument("--fetch", type=int, default=5000)
    parser.add_argument("--clean", type=float, default=0.2, help="share of records left valid")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fcplan-fuzz-"))

    print(f"(a) decoder + writer: {args.records:,} records in fetches of {args.fetch:,}", flush=True)
    decoder = decoder_part(args.records, args.fetch, args.seed, args.clean, workdir)
    print(f"    {decoder}")
    worker = None
    if args.worker_records:
        print(f"(b) running worker: {args.worker_records:,} records", flush=True)
        worker = worker_part(args.worker_records, args.seed, args.clean, workdir)
        print(f"    {worker}")
    parts = [p for p in (decoder, worker) if p]
    print(json.dumps({
        "records": sum(p["sent"] for p in parts),
        "crashes": sum(p["crashes"] for p in parts),
        "mismatches": decoder["mismatches"],
        "accounted": all(p["accounted"] for p in parts),
        "decoder": {k: v for k, v in decoder.items() if k != "reasons"},
        "dead_letter_reasons": decoder["reasons"],
        "worker": worker,
        "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
