"""The promotions agent waits out a database outage: nothing lost, nothing counted
twice, the worker alive throughout."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from fcplan.core.contracts import PROMOTIONS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def promo(promo_id: str) -> tuple[str, bytes]:
    record = {
        "promo_id": promo_id, "center_ids": ["FC-A"], "start": "2024-06-01T00:00:00+09:00",
        "end": "2024-06-03T00:00:00+09:00", "kind": "discount", "discount_pct": 10.0, "status": "active",
        "updated_at": "2024-05-01T00:00:00Z",
    }
    return promo_id, json.dumps(record).encode()


def test_when_the_sqlite_file_is_locked_past_its_busy_timeout_then_promotions_are_stored_once_it_is_free(
    stack,
) -> None:
    worker = stack.start_worker(sqlite_busy_ms=3_000)  # not make_engine's 30 s: the test waits it out
    accepted = lambda: stack.metrics()[("promotions", "accepted")]  # noqa: E731
    stack.produce(PROMOTIONS, [promo("P0")])
    stack.wait_for("the first promotion", accepted, 1, timeout_s=120)

    # The write lock (WAL: readers go on, every writer waits, then gets "database is locked").
    holder = sqlite3.connect(stack.db_url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        stack.produce(PROMOTIONS, [promo(f"P{i}") for i in range(1, 6)])
        # SQLite's busy timeout (3 s here) runs out, the agent reports the outage and retries.
        deadline = time.monotonic() + 120
        while "promotions paused" not in worker.log() and time.monotonic() < deadline and worker.alive():
            time.sleep(0.5)
        assert "promotions paused" in worker.log(), worker.tail()
        assert "database is locked" in worker.log()
        assert worker.alive(), worker.tail()
    finally:
        holder.close()
    stack.wait_for("promotions accepted after the lock", accepted, 6, timeout_s=120)
    assert sorted(stack.promotions()) == [f"P{i}" for i in range(6)]
    assert worker.alive(), worker.tail()
