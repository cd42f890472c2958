"""The orders writer process and the shared-memory slots that carry fetches to it."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fcplan.storage import make_engine
from fcplan.storage.schema import center_hourly, orders
from fcplan.streams.fetch_slots import FetchSlots, InSlot, SlotReader
from fcplan.streams.order_writer import OrderWriter, WriterError, WrittenBatch
from fcplan.streams.validation import MALFORMED, Limits

NOW = datetime.now(UTC).replace(microsecond=0)


def order(i: int, center: str = "FC-A") -> bytes:
    ts = (NOW - timedelta(hours=1, seconds=i)).isoformat()
    return json.dumps({"order_id": f"o-{i}", "center_id": center, "ts": ts, "lines": 1, "units": 2}).encode()


# --------------------------------------------------------------------------- slots, no writer process
@contextmanager
def connected(slots: FetchSlots) -> Iterator[SlotReader]:
    """``slots`` handed over a socket pair to a reader; everything closed afterwards."""
    ours, theirs = socket.socketpair()
    try:
        slots.send_to(ours)
        reader = SlotReader(theirs)
        yield reader
        reader.close()
    finally:
        slots.close()
        ours.close()
        theirs.close()


def test_when_a_payload_is_put_in_a_slot_then_the_reader_gets_the_same_bytes() -> None:
    slots = FetchSlots(2, slot_bytes=1024)
    with connected(slots) as reader:
        first, second = slots.put(b"a" * 1000), slots.put(b"second payload")
        assert isinstance(first, InSlot) and isinstance(second, InSlot) and first.slot != second.slot
        assert reader.read(first) == b"a" * 1000
        assert reader.read(second) == b"second payload"


def test_when_every_slot_is_taken_then_put_says_none_until_one_is_released() -> None:
    slots = FetchSlots(2, slot_bytes=64)
    with connected(slots) as reader:
        taken = [slots.put(b"x"), slots.put(b"y")]
        assert slots.put(b"z") is None
        slots.release(taken[0].slot)  # type: ignore[union-attr]
        again = slots.put(b"z")
        assert again is not None and again.slot == taken[0].slot  # type: ignore[union-attr]
        assert reader.read(again) == b"z"


def test_when_a_payload_is_larger_than_a_slot_then_put_says_none() -> None:
    slots = FetchSlots(2, slot_bytes=64)
    assert slots.put(b"x" * 65) is None
    assert slots.put(b"x" * 64) is not None
    slots.close()


def test_when_no_slots_are_asked_for_then_every_put_says_none() -> None:
    slots = FetchSlots(0)
    with connected(slots):
        assert slots.put(b"x") is None


def test_when_the_consumer_closes_before_sending_its_slots_then_the_reader_says_so() -> None:
    ours, theirs = socket.socketpair()
    ours.close()
    with pytest.raises(ConnectionError, match="before sending its slots"):
        SlotReader(theirs)
    theirs.close()


# --------------------------------------------------------------------------- the writer process
async def write_all(url: str, batches: list[list[bytes]], slots: int, slot_bytes: int) -> list[WrittenBatch]:
    async with OrderWriter(url, Limits(), slots=slots, slot_bytes=slot_bytes) as writer:
        futures = [writer.submit(values) for values in batches]  # all in flight at once
        return list(await asyncio.gather(*futures))


SIZES = [3, 200, 1, 50, 120]  # orders per batch: a pickled order is about 130 bytes


@pytest.mark.parametrize(
    ("slots", "slot_bytes", "in_slot"),
    [
        # all six batches are in flight at once: two slots, then inline
        (2, 16 * 1024**2, [True, True, False, False, False, False]),
        (0, 16 * 1024**2, [False] * 6),
        # 4 KB slots: the batches of 3, 1 and 2 orders fit, the others go inline
        (3, 4096, [True, False, True, False, False, True]),
    ],
    ids=["fewer-slots-than-batches", "no-slots", "some-batches-too-large-for-a-slot"],
)
def test_when_batches_travel_in_slots_or_inline_then_each_is_written_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slots: int, slot_bytes: int, in_slot: list[bool]
) -> None:
    url = f"sqlite:///{tmp_path / 'writer.db'}"
    put = FetchSlots.put
    placed: list[bool] = []

    def spy(self: FetchSlots, payload: bytes) -> InSlot | None:
        where = put(self, payload)
        placed.append(where is not None)
        return where

    monkeypatch.setattr(FetchSlots, "put", spy)
    batches, start = [], 0
    for n in SIZES:
        batches.append([order(i, center="FC-A" if i % 2 else "FC-B") for i in range(start, start + n)])
        start += n
    batches.append([order(0), b"{not json"])  # a duplicate of the first order and a bad record

    results = asyncio.run(write_all(url, batches, slots, slot_bytes))

    assert placed == in_slot
    assert [r.accepted for r in results] == [*SIZES, 0]
    assert results[-1].duplicates == 1
    assert [(i, reason) for i, reason, _ in results[-1].dead] == [(1, MALFORMED)]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == sum(SIZES)
        assert conn.execute(select(func.sum(center_hourly.c.orders))).scalar_one() == sum(SIZES)


def test_when_the_writer_is_closed_then_a_batch_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    async def submit_after_close() -> None:
        async with OrderWriter(f"sqlite:///{tmp_path / 'writer.db'}", Limits()) as writer:
            first = await writer.submit([order(1)])
            await writer.close()
            assert first.accepted == 1
            writer.submit([order(2)])

    with pytest.raises(WriterError, match="not running"):
        asyncio.run(submit_after_close())
