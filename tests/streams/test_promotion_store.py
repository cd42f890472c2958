"""The promotions agent's work without a broker: database calls off the event loop,
a database outage waited out, no record able to fail its batch."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from fcplan.storage import make_engine
from fcplan.storage.schema import promotions, stream_metrics
from fcplan.streams import promotion_store as store_mod
from fcplan.streams import sink as sink_mod
from fcplan.streams.counted import Origin
from fcplan.streams.promotion_store import DeadLetter, PromotionStore
from fcplan.streams.validation import Limits

REAL_WRITE = sink_mod.write_promotions


def promo(promo_id: str, discount: float = 10.0) -> bytes:
    return json.dumps({
        "promo_id": promo_id, "center_ids": ["FC-A"], "start": "2024-06-01T00:00:00+09:00",
        "end": "2024-06-03T00:00:00+09:00", "kind": "discount", "discount_pct": discount, "status": "active",
        "updated_at": "2024-05-01T00:00:00Z",
    }).encode()


def outage() -> OperationalError:
    return OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))


@pytest.fixture
def store(tmp_path: Path) -> PromotionStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'promos.db'}")
    made = PromotionStore(engine, Limits(), first_retry_s=0.0)
    yield made
    made.close()
    engine.dispose()


def stored(store: PromotionStore) -> dict[str, float]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(promotions.c.promo_id, promotions.c.discount_pct)).all())


def metrics(store: PromotionStore) -> dict[tuple[str, str], int]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value)).all()
    return {(n, r): v for n, r, v in rows}


def failing_writes(times: int, error: Callable[[], Exception], calls: list[str]) -> Callable:
    """write_promotions that raises ``error()`` on its first ``times`` calls, then writes."""

    def write(engine, batch):
        calls.append(threading.current_thread().name)
        if len(calls) <= times:
            raise error()
        return REAL_WRITE(engine, batch)

    return write


def test_when_the_database_is_down_then_the_batch_is_retried_until_it_is_stored(
    store: PromotionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(sink_mod, "write_promotions", failing_writes(4, outage, calls))
    values = [promo("P1"), promo("P2")]
    dead = asyncio.run(store.store(values))
    assert dead == []
    assert len(calls) == 5 and store.outage_retries == 4
    assert stored(store) == {"P1": 10.0, "P2": 10.0}
    asyncio.run(store.count(values, dead, None))
    assert metrics(store)[("promotions", "accepted")] == 2, "counted once, not once per attempt"


def test_the_database_work_runs_off_the_event_loop(store: PromotionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a write blocks, the loop goes on (here: the ticker that releases the write runs)."""
    released = threading.Event()
    seen: dict[str, object] = {}

    def slow_write(engine, batch):
        seen["thread"] = threading.current_thread()
        seen["released"] = released.wait(timeout=30)  # only the event loop can set it
        return REAL_WRITE(engine, batch)

    async def ticker() -> int:
        ticks = 0
        while not released.is_set():
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 3:
                released.set()
        return ticks

    async def both() -> list:
        return await asyncio.gather(store.store([promo("P1")]), ticker())

    monkeypatch.setattr(sink_mod, "write_promotions", slow_write)
    dead, ticks = asyncio.run(both())
    assert seen["released"] is True, "the write blocked the event loop"
    assert seen["thread"] is not threading.main_thread() and ticks >= 3
    assert dead == [] and stored(store) == {"P1": 10.0}


def test_when_one_record_cannot_be_written_then_only_it_is_dead_lettered(
    store: PromotionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(engine, batch):
        if any(p.promo_id == "BAD" for p in batch):
            raise IntegrityError("INSERT", {}, ValueError("value out of range for BAD"))
        return REAL_WRITE(engine, batch)

    monkeypatch.setattr(sink_mod, "write_promotions", write)
    values = [promo("P1"), promo("BAD"), promo("P3")]
    dead = asyncio.run(store.store(values))
    assert [(d.index, d.reason) for d in dead] == [(1, "unwritable")]
    assert "IntegrityError" in dead[0].detail and "BAD" in dead[0].detail
    assert stored(store) == {"P1": 10.0, "P3": 10.0}
    asyncio.run(store.count(values, dead, None))
    assert metrics(store)[("promotions", "accepted")] == 2
    assert metrics(store)[("promotions_dead_letters", "unwritable")] == 1


def test_when_decoding_raises_then_the_record_is_dead_lettered_as_undecodable(
    store: PromotionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse = store_mod.parse_promotion

    def parse(raw, limits):
        if raw == b"boom":
            raise RecursionError("maximum recursion depth exceeded \udcff")
        return real_parse(raw, limits)

    monkeypatch.setattr(store_mod, "parse_promotion", parse)
    dead = asyncio.run(store.store([b"boom", promo("P2"), b"{not json"]))
    assert [(d.index, d.reason) for d in dead] == [(0, "undecodable"), (2, "malformed")]
    assert dead[0].detail.startswith("RecursionError: maximum recursion depth exceeded")
    dead[0].detail.encode("utf-8")  # a lone surrogate would fail the dead letter's header
    assert stored(store) == {"P2": 10.0}


def test_dead_letters_are_counted_by_reason_through_an_outage(
    store: PromotionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_count = store_mod.count_promotions
    calls: list[int] = []

    def count(*args):
        calls.append(1)
        if len(calls) <= 2:
            raise outage()
        real_count(*args)

    monkeypatch.setattr(store_mod, "count_promotions", count)
    values = [b"{", promo("P1"), promo("P2"), b"[", promo("P4")]
    asyncio.run(store.count(values, [DeadLetter(0, "malformed", ""), DeadLetter(3, "malformed", ""),
                                     DeadLetter(4, "unwritable", "")], None))
    assert len(calls) == 3
    assert metrics(store) == {("promotions_dead_letters", "malformed"): 2,
                              ("promotions_dead_letters", "unwritable"): 1, ("promotions", "accepted"): 2}


def test_a_batch_read_again_is_not_counted_again(store: PromotionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # faust commits a batch's offsets after the agent stored and counted it: a crash or a rebalance
    # before that hands the same records to the agent again, which counted them again.
    def write(engine, batch):
        if any(p.promo_id == "BAD" for p in batch):
            raise IntegrityError("INSERT", {}, ValueError("value out of range for BAD"))
        return REAL_WRITE(engine, batch)

    monkeypatch.setattr(sink_mod, "write_promotions", write)
    values = [promo("P1"), b"{", promo("BAD"), promo("P3")]
    origin = Origin.of_records([("promotions/0", 7), ("promotions/1", 3), ("promotions/0", 8), ("promotions/1", 4)])
    once = {("promotions", "accepted"): 2, ("promotions_dead_letters", "malformed"): 1,
            ("promotions_dead_letters", "unwritable"): 1}
    for _ in range(2):
        dead = asyncio.run(store.store(values))
        asyncio.run(store.count(values, dead, origin))
        assert metrics(store) == once
    # read again with the next records of one partition: only those are new
    more = [promo("P3"), promo("P5")]
    asyncio.run(store.count(more, asyncio.run(store.store(more)), Origin.of_records([("promotions/1", 4),
                                                                                      ("promotions/1", 5)])))
    assert metrics(store)[("promotions", "accepted")] == 3


def test_a_bug_in_the_write_is_not_mistaken_for_an_outage(
    store: PromotionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not retried forever: each record is tried alone once, then dead-lettered."""
    calls: list[str] = []
    monkeypatch.setattr(sink_mod, "write_promotions", failing_writes(100, lambda: TypeError("bug"), calls))
    dead = asyncio.run(store.store([promo("P1"), promo("P2")]))
    assert [(d.index, d.reason) for d in dead] == [(0, "unwritable"), (1, "unwritable")]
    assert len(calls) == 3 and store.outage_retries == 0


def test_a_promotion_naming_one_unknown_center_is_stored_for_the_known_ones_and_dead_lettered_for_it(
    tmp_path: Path,
) -> None:
    """Before, the whole promotion was dead-lettered: the known center ran it without the planner knowing."""
    from fcplan.streams.validation import PARTLY_UNKNOWN_CENTER, UNKNOWN_CENTER

    engine = make_engine(f"sqlite:///{tmp_path / 'promos.db'}")
    made = PromotionStore(engine, Limits(centers=frozenset({"FC-A", "FC-B"})), first_retry_s=0.0)
    both = json.loads(promo("P1"))
    values = [json.dumps({**both, "center_ids": ["FC-A", "FC-NOPE", "FC-B"]}).encode(),
              json.dumps({**both, "promo_id": "P2", "center_ids": ["FC-NOPE"]}).encode()]
    try:
        dead = asyncio.run(made.store(values))
        asyncio.run(made.count(values, dead, None))
        with engine.connect() as conn:
            rows = conn.execute(select(promotions.c.promo_id, promotions.c.center_ids)).all()
    finally:
        made.close()
        engine.dispose()
    assert [tuple(r) for r in rows] == [("P1", ["FC-A", "FC-B"])]
    assert [(d.index, d.reason) for d in dead] == [(0, PARTLY_UNKNOWN_CENTER), (1, UNKNOWN_CENTER)]
    assert "['FC-NOPE']" in dead[0].detail and "stored for ['FC-A', 'FC-B'] only" in dead[0].detail
