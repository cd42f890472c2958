"""Database outages in the middle of a stream: the orders worker pauses, retries
with backoff, commits no offset for what it has not written, stays in its
consumer group, resumes by itself, and the final counts are exact.

* SQLite: another connection holds the database's write lock (``BEGIN
  EXCLUSIVE``) for 15 s: longer than the consumer's ``max_poll_interval``
  (set to 10 s here; 30 s by default), so a consumer that stopped polling would
  have left its group.
* PostgreSQL: a private throwaway cluster (initdb + pg_ctl as the ``postgres``
  user, on a free port; the shared server is never touched) is stopped for
  15 s and started again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fcplan.core.contracts import ORDERS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The outage outlasts the worker's max_poll_interval (lowered from its 30 s default so
# that the outage, and the test, need not last 35 s) and the writer's 5 s busy timeout.
MAX_POLL_INTERVAL_S = 10.0
OUTAGE_S = 15.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def committed(stack) -> dict[int, int | None]:
    """The orders group's committed offset of each partition (read without joining the group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap, group_id=f"{stack.app_id}-orders",
                             enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(ORDERS, p)) for p in range(4)}
    finally:
        consumer.close()


def distinct_ids(messages: list[tuple[str, bytes]]) -> int:
    return len({json.loads(v)["order_id"] for _, v in messages})


def joins(worker, stack) -> int:
    return worker.log().count(f"Joined group '{stack.app_id}-orders'")


def stream_through_outage(stack, order_stream, begin: Callable[[], None], end: Callable[[], None]) -> dict:
    """A third of a stream, then an outage of ``OUTAGE_S`` during which the second third
    arrives, then the rest; asserts everything the module docstring promises and
    returns the figures."""
    frame, messages = order_stream(30_000, seed=5)
    thirds = [messages[: len(messages) // 3], messages[len(messages) // 3 : 2 * len(messages) // 3],
              messages[2 * len(messages) // 3 :]]
    worker = stack.start_worker(FCPLAN_KAFKA_MAX_POLL_INTERVAL_S=str(MAX_POLL_INTERVAL_S))
    stack.produce(ORDERS, thirds[0])
    stack.wait_for_orders(distinct_ids(thirds[0]), timeout_s=120)
    stack.wait_for("the orders group's membership", lambda: joins(worker, stack), 1)
    before = stack.order_count()
    # The worker commits one past each partition's last record once it has written it (and at
    # once when the stream goes idle): wait for exactly that, before the outage begins.
    # (Tansu's end offsets do not count records, so they cannot tell what this should be.)
    first = stack.read_topic(ORDERS, expected=len(thirds[0]), quiet_s=0.5)
    written = {p: max((r["offset"] + 1 for r in first if r["partition"] == p), default=None) for p in range(4)}
    early = stack.wait_for("the first third's offsets committed", lambda: committed(stack), written,
                           timeout_s=120)

    begin()
    started = time.monotonic()
    stack.produce(ORDERS, thirds[1])
    time.sleep(max(0.0, started + OUTAGE_S - 1.0 - time.monotonic()))
    late = committed(stack)
    assert worker.alive(), f"the worker exited during the outage:\n{worker.tail()}"
    time.sleep(max(0.0, started + OUTAGE_S - time.monotonic()))
    end()
    outage_s = time.monotonic() - started

    stack.produce(ORDERS, thirds[2])
    stack.wait_for_orders(len(frame), timeout_s=180)
    stack.assert_hourly(stack.hourly_truth(frame))
    metrics = stack.metrics()
    log = worker.log()
    paused = [float(s) for s in re.findall(r"fetching resumed after ([\d.]+) s paused", log)]
    figures = {
        "sent": len(messages), "distinct": len(frame), "stored": stack.order_count(),
        "stored_before_outage": before, "outage_s": round(outage_s, 1), "paused_s": paused,
        "retries": metrics[("orders_writer", "database_retries")],
        "backoff_wait_s": metrics[("orders_writer", "database_wait_ms")] / 1000,
        "group_joins": joins(worker, stack),
    }
    print(figures)
    assert early == late, f"offsets were committed while nothing could be written: {early} -> {late}"
    assert metrics[("orders", "accepted")] == len(frame)
    assert sum(stack.dead_letter_metrics().values()) == 0
    assert figures["retries"] > 0 and paused and "database unavailable" in log
    assert figures["group_joins"] == 1, "the consumer left its group during the outage"
    assert worker.alive(), f"the worker exited:\n{worker.tail()}"
    return figures


def test_when_the_sqlite_database_is_locked_past_max_poll_interval_then_the_worker_waits_and_counts_stay_exact(
    stack, order_stream
) -> None:
    holder = sqlite3.connect(stack.db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
    stream_through_outage(
        stack, order_stream, lambda: holder.execute("BEGIN EXCLUSIVE"), lambda: holder.execute("ROLLBACK")
    )
    holder.close()


# --------------------------------------------------------------------------- a private PostgreSQL cluster
@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster of the ``postgres`` user in ``root``."""

    root: Path
    port: int

    def ctl(self, *args: str) -> None:
        run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-w", "-t", "60", *args)

    def start(self) -> None:
        self.ctl("-l", str(self.root / "server.log"), "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


def run_as_postgres(*cmd: str) -> None:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr[-2000:]}"


@pytest.fixture
def private_pg() -> Iterator[Cluster]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("needs root, runuser and PostgreSQL 15's initdb/pg_ctl to run a private cluster")
    from fcplan.app.broker import free_port

    root = Path(tempfile.mkdtemp(prefix="fcplan-pg-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root, free_port())
    try:
        run_as_postgres(str(PG_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
                        "--no-sync")
        for attempt in range(5):  # another process can take the picked port before the server binds it
            try:
                cluster.start()
                break
            except AssertionError:
                said = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
                if attempt == 4 or "could not bind" not in said:
                    raise
                cluster.port = free_port()
        yield cluster
    finally:
        with contextlib.suppress(AssertionError):  # not running
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_when_postgresql_is_stopped_past_max_poll_interval_then_the_worker_waits_and_counts_stay_exact(
    stack_factory, order_stream, private_pg: Cluster
) -> None:
    stack = stack_factory(private_pg.url)
    stream_through_outage(stack, order_stream, private_pg.stop, private_pg.start)


def test_when_the_worker_is_stopped_during_an_outage_then_it_exits_and_a_restart_stores_everything_once(
    stack, order_stream
) -> None:
    frame, messages = order_stream(9_000, seed=6)
    half = len(messages) // 2
    worker = stack.start_worker()
    stack.produce(ORDERS, messages[: half // 2])
    stack.wait_for_orders(distinct_ids(messages[: half // 2]), timeout_s=120)
    holder = sqlite3.connect(stack.db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
    holder.execute("BEGIN EXCLUSIVE")
    stack.produce(ORDERS, messages[half // 2 : half])
    stack.wait_for("the writer retrying", lambda: "database unavailable" in worker.log(), True, timeout_s=60)
    assert worker.terminate(timeout_s=60) == 0, f"the worker did not stop cleanly:\n{worker.tail()}"
    assert "killing it" not in worker.log(), "the writer did not notice the consumer stop"
    holder.execute("ROLLBACK")
    holder.close()

    stack.start_worker()
    stack.produce(ORDERS, messages[half:])
    stack.wait_for_orders(len(frame), timeout_s=180)
    stack.assert_hourly(stack.hourly_truth(frame))
    assert stack.metrics()[("orders", "accepted")] == len(frame)
