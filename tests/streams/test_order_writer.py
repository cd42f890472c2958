"""The orders writer process and the shared-memory slots that carry fetches to it."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from fcplan.core import contracts
from fcplan.storage import make_engine
from fcplan.storage.outage import Backoff, GaveUp
from fcplan.storage.schema import center_hourly, orders, stream_metrics
from fcplan.streams import batch_decode, order_writer
from fcplan.streams.batch_decode import Fetch
from fcplan.streams.counted import Origin, Span
from fcplan.streams.fetch_slots import FetchSlots, InSlot, SlotReader
from fcplan.streams.order_writer import OrderWriter, WriterError, WrittenBatch, process_fetch
from fcplan.streams.validation import CONFLICT, INVALID, LATE, MALFORMED, UNWRITABLE, Limits

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
    batches.append([order(0, center="FC-B"), b"{not json"])  # a duplicate of the first order and a bad record

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


# `fcplan worker` began with nine alembic INFO lines from the writer process
# ("setup plugin alembic.autogenerate.schemas", ...) in a terminal and in var/logs/worker.log.
def test_when_the_writer_opens_a_new_database_then_its_log_has_no_alembic_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async def one() -> None:
        async with OrderWriter(f"sqlite:///{tmp_path / 'writer.db'}", Limits()) as writer:
            assert (await writer.submit([order(1)])).accepted == 1

    asyncio.run(one())
    err = capfd.readouterr().err
    assert "alembic" not in err, err


def test_when_the_writer_fails_to_start_then_its_child_process_does_not_outlive_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(**kwargs: object) -> None:
        raise ConnectionRefusedError("the socket pair is gone")

    monkeypatch.setattr(order_writer.asyncio, "open_unix_connection", refused)
    writer = OrderWriter(f"sqlite:///{tmp_path / 'writer.db'}", Limits())
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(writer.__aenter__())
    writer._process.join(30)
    assert not writer._process.is_alive(), "a writer whose start failed left its child process running"


# --------------------------------------------------------------------------- poison and outages
def stored(url: str) -> tuple[int, int, Counter]:
    """Rows in ``orders``, their sum in ``center_hourly`` and ``stream_metrics``."""
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        hours = conn.execute(select(func.sum(center_hourly.c.orders))).scalar_one() or 0
        metrics = Counter({(m, r): v for m, r, v in conn.execute(
            select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value))})
    engine.dispose()
    return n, hours, metrics


def refuse_poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's database refuses any batch with an order id starting ``poison``."""
    real = order_writer.write_order_columns

    def refusing(engine, rows, grace, counters=None, **kw):
        if any(oid.startswith("poison") for oid in rows.order_id):
            raise IntegrityError("INSERT INTO orders ...", {}, Exception("CHECK constraint failed: poison"))
        return real(engine, rows, grace, counters, **kw)

    monkeypatch.setattr(order_writer, "write_order_columns", refusing)


def test_when_the_database_refuses_some_records_then_they_alone_are_dead_letters_and_the_rest_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'poison.db'}"
    refuse_poison(monkeypatch)
    values = [order(i) for i in range(200)]
    poison_at = [0, 77, 78, 199]
    for i in poison_at:
        values[i] = values[i].replace(b'"o-', b'"poison-')
    values.append(b"{not json")
    engine = make_engine(url)
    result = process_fetch(Fetch.of(values), engine, Limits())
    engine.dispose()

    assert [(i, reason) for i, reason, _ in result.dead] == [*((i, UNWRITABLE) for i in poison_at), (200, MALFORMED)]
    assert all("CHECK constraint failed: poison" in detail for _, reason, detail in result.dead if reason == UNWRITABLE)
    assert result.accepted == 200 - len(poison_at)
    n, hours, metrics = stored(url)
    assert n == hours == 196
    assert metrics[("orders", "accepted")] == 196
    assert metrics[("orders_dead_letters", UNWRITABLE)] == 4 and metrics[("orders_dead_letters", MALFORMED)] == 1
    assert n + len(result.dead) == len(values)  # stored + dead-lettered = sent


def test_an_order_no_hour_column_can_hold_is_a_dead_letter_first_or_late(tmp_path: Path) -> None:
    # Year 0 in UTC was valid and only refused by the database (unwritable); an order stamped
    # before 1970 is now refused by validation (an order stamped 1600 was storable and then broke
    # every read of the hours), whether or not its center has a stream time yet.
    url = f"sqlite:///{tmp_path / 'year0.db'}"
    year_zero = json.dumps({"order_id": "y0", "center_id": "FC-A", "ts": "0001-01-01T00:00:00+05:00",
                            "lines": 1, "units": 1}).encode()  # 0000-12-31 in UTC
    engine = make_engine(url)
    first = process_fetch(Fetch.of([year_zero, order(1)]), engine, Limits())  # no stream time yet
    then = process_fetch(Fetch.of([order(2), year_zero.replace(b"y0", b"y1")]), engine, Limits())
    engine.dispose()
    assert [(i, r) for i, r, _ in first.dead] == [(0, INVALID)] and first.accepted == 1
    assert [(i, r) for i, r, _ in then.dead] == [(1, INVALID)] and then.accepted == 1
    assert "before 1970-01-01" in then.dead[0][2]
    assert stored(url)[:2] == (2, 2)


def test_a_repeat_of_an_order_id_with_another_payload_is_a_conflicting_duplicate_dead_letter(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'conflict.db'}")
    first = process_fetch(Fetch.of([order(1), order(2)]), engine, Limits())
    changed = order(1).replace(b'"units": 2', b'"units": 7')
    then = process_fetch(Fetch.of([order(2), changed, order(3), order(3).replace(b"FC-A", b"FC-B")]), engine, Limits())
    engine.dispose()
    assert first.dead == [] and (then.accepted, then.duplicates) == (1, 1)
    assert [(i, r) for i, r, _ in then.dead] == [(1, CONFLICT), (3, CONFLICT)]
    assert "units 2" in then.dead[0][2] and "units 7" in then.dead[0][2] and "'FC-B'" in then.dead[1][2]


@pytest.mark.integration
@pytest.mark.postgres
def test_on_postgresql_an_order_id_with_a_nul_character_is_unwritable_and_the_batch_goes_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validation now refuses control characters in ids (``invalid``); the writer's own guard for a
    # row the database refuses is tested with that check switched off (a row an older validator passed).
    never = re.compile(r"(?!)")
    monkeypatch.setattr(contracts, "CONTROL", never)
    monkeypatch.setattr(batch_decode, "CONTROL", never)
    values = [order(i) for i in range(50)]
    values[20] = values[20].replace(b'"o-20"', b'"o-\\u0000-20"')  # valid JSON; PostgreSQL text refuses NUL
    engine = make_engine(pg_url)
    result = process_fetch(Fetch.of(values), engine, Limits())
    engine.dispose()
    assert [(i, r) for i, r, _ in result.dead] == [(20, UNWRITABLE)]
    assert "NUL" in result.dead[0][2]
    assert stored(pg_url)[:2] == (49, 49)


def test_when_the_database_is_locked_then_the_batch_waits_with_backoff_and_is_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_ms=20)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.0, holder.execute, ["ROLLBACK"])
    release.start()
    result = process_fetch(Fetch.of([order(i) for i in range(100)]), engine, Limits(), backoff=Backoff(0.02, 2, 0.2))
    release.join()
    holder.close()
    engine.dispose()
    assert result.accepted == 100 and result.retries >= 3 and result.outage_s > 0
    n, hours, metrics = stored(f"sqlite:///{path}")
    assert n == hours == 100
    assert metrics[("orders_writer", "database_retries")] == result.retries


def test_when_told_to_stop_while_the_database_is_locked_then_nothing_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_ms=20)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    tries = iter([True, True, False])
    with pytest.raises(GaveUp):
        process_fetch(Fetch.of([order(1)]), engine, Limits(), lambda: next(tries), Backoff(0.01, 2, 0.02))
    holder.execute("ROLLBACK")
    holder.close()
    engine.dispose()
    assert stored(f"sqlite:///{path}")[0] == 0


def test_the_writer_process_answers_for_a_batch_with_a_year_zero_record_instead_of_failing(tmp_path: Path) -> None:
    year_zero = json.dumps({"order_id": "y0", "center_id": "FC-A", "ts": "0001-01-01T00:00:00+05:00",
                            "lines": 1, "units": 1}).encode()
    results = asyncio.run(write_all(f"sqlite:///{tmp_path / 'w.db'}", [[year_zero, order(1), order(2)]], 1, 2**20))
    assert [(i, r) for i, r, _ in results[0].dead] == [(0, INVALID)] and results[0].accepted == 2


def test_the_writer_sees_the_consumer_close_even_with_frames_still_unread() -> None:
    ours, theirs = socket.socketpair()
    assert not order_writer._closed(theirs)
    ours.sendall(b"a frame the writer has not read")
    assert not order_writer._closed(theirs)
    ours.close()
    assert order_writer._closed(theirs)  # else the writer would retry an outage until it is killed
    theirs.close()


def test_when_a_locked_batch_then_needs_bisecting_its_retries_are_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.db"
    real = order_writer.write_order_columns

    def refusing(engine, rows, grace, counters=None, **kw):
        if "o-5" in rows.order_id:
            raise IntegrityError("INSERT INTO orders ...", {}, Exception("refused"))
        return real(engine, rows, grace, counters, **kw)

    engine = make_engine(f"sqlite:///{path}", sqlite_busy_ms=20)
    monkeypatch.setattr(order_writer, "write_order_columns", refusing)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, holder.execute, ["ROLLBACK"])
    release.start()

    def locked_first(engine, rows, grace, counters=None, **kw):  # the lock is met before the refusal
        with engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return refusing(engine, rows, grace, counters, **kw)

    monkeypatch.setattr(order_writer, "write_order_columns", locked_first)
    result = process_fetch(Fetch.of([order(i) for i in range(20)]), engine, Limits(), backoff=Backoff(0.02, 2, 0.1))
    release.join()
    holder.close()
    engine.dispose()
    assert result.retries >= 2 and [(i, r) for i, r, _ in result.dead] == [(5, UNWRITABLE)]
    n, _, metrics = stored(f"sqlite:///{path}")
    assert n == 19 and metrics[("orders_writer", "database_retries")] == result.retries


# A SQLite file that turned read-only (chmod, a disk remounted read-only): every order of every
# batch was dead-lettered as unwritable, out of the database for good; it is an outage to wait out.
def test_when_the_sqlite_file_is_read_only_then_the_batch_waits_and_nothing_is_dead_lettered(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    make_engine(f"sqlite:///{path}").dispose()  # the schema
    waits_out_then_writes(make_engine(f"sqlite:///file:{path}?mode=ro&uri=true", create=False), path)


def waits_out_then_writes(engine: Engine, path: Path, restore: Callable[[], None] = lambda: None) -> None:
    """The batch retries on ``engine`` until told to give up (no dead letter), and is written
    whole once the file at ``path`` is usable again (after ``restore``)."""
    tries = iter([True, True, False])
    with pytest.raises(GaveUp):
        process_fetch(Fetch.of([order(i) for i in range(5)]), engine, Limits(), lambda: next(tries),
                      Backoff(0.01, 2, 0.02))
    engine.dispose()
    restore()
    result = process_fetch(Fetch.of([order(i) for i in range(5)]), make_engine(f"sqlite:///{path}"), Limits())
    assert result.accepted == 5 and not result.dead


# A SQLite file overwritten by something else ("file is not a database"): the same, every order
# was dead-lettered as unwritable, then the counters' write failed the batch anyway.
def test_when_the_sqlite_file_is_not_a_database_then_the_batch_waits_and_nothing_is_dead_lettered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "overwritten.db"
    path.write_bytes(b"not a database at all " * 200)
    waits_out_then_writes(make_engine(f"sqlite:///{path}", create=False), path, path.unlink)  # restored: a fresh file


# --------------------------------------------------------------------------- records read again
def read_from_log(values: list[bytes], first_offset: int, log: str = "orders/0", **origin: Any) -> Fetch:
    """``values`` as read from ``log`` at consecutive offsets from ``first_offset``."""
    offsets = range(first_offset, first_offset + len(values))
    return Fetch.of(values, Origin((Span(log, range(len(values)), offsets),), **origin))


def late(i: int) -> bytes:
    """An order older than the stream time minus the grace (48 hours)."""
    ts = (NOW - timedelta(days=4, seconds=i)).isoformat()
    return json.dumps({"order_id": f"late-{i}", "center_id": "FC-A", "ts": ts, "lines": 1, "units": 2}).encode()


def mixed_fetch() -> list[bytes]:
    """Every kind of record: new, repeated (stored and within the fetch), conflicting, late, refused."""
    return [order(3), b"{not json", order(4).replace(b'"lines": 1', b'"lines": 0'), late(5),
            order(1).replace(b'"units": 2', b'"units": 9'), order(3), order(2)]


@pytest.mark.integration
def test_records_read_again_after_a_crash_are_not_counted_again(db_url: str) -> None:
    # The consumer commits offsets after the write: a crash (or a rebalance, a broker restart)
    # between the two hands the same records to the writer again. The counters (dead letters
    # by reason, duplicates) counted them again; the dashboard's totals then exceeded what was read.
    engine = make_engine(db_url)
    process_fetch(read_from_log([order(1), order(2)], 10), engine, Limits())
    once = process_fetch(read_from_log(mixed_fetch(), 12), engine, Limits())
    counted = stored(db_url)[2]
    again = process_fetch(read_from_log(mixed_fetch(), 12), engine, Limits())  # the same records again
    assert [(i, r) for i, r, _ in again.dead] == [(i, r) for i, r, _ in once.dead]  # still dead-lettered
    assert stored(db_url)[2] == counted == Counter({
        ("orders", "accepted"): 3, ("orders", "duplicate"): 2, ("orders_dead_letters", MALFORMED): 1,
        ("orders_dead_letters", INVALID): 1, ("orders_dead_letters", LATE): 1,
        ("orders_dead_letters", CONFLICT): 1,
    })
    assert counted.total() == 2 + len(mixed_fetch())  # every record read, once
    # A fetch reaching past them counts only its records past the counted offset.
    process_fetch(read_from_log([late(5), order(2), order(6), late(7)], 17), engine, Limits())
    engine.dispose()
    assert stored(db_url)[2] - counted == Counter({("orders", "accepted"): 1, ("orders_dead_letters", LATE): 1})


def test_records_read_again_after_some_were_refused_are_not_counted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'refused.db'}"
    refuse_poison(monkeypatch)
    values = [order(i) for i in range(40)]
    for i in (0, 17, 39):
        values[i] = values[i].replace(b'"o-', b'"poison-')
    values[20] = b"{not json"
    engine = make_engine(url)
    for _ in range(2):  # read again: the parts are stored, the counters unchanged
        process_fetch(read_from_log(values, 0), engine, Limits())
        assert stored(url)[2] == Counter({("orders", "accepted"): 36, ("orders_dead_letters", UNWRITABLE): 3,
                                          ("orders_dead_letters", MALFORMED): 1})
    engine.dispose()


def test_a_log_written_again_from_its_start_is_counted_as_new_records(tmp_path: Path) -> None:
    # An empty broker starts its logs at offset 0 again: their records are not the counted ones.
    url = f"sqlite:///{tmp_path / 'new-log.db'}"
    engine = make_engine(url)
    process_fetch(read_from_log([order(1), b"{x", order(2)], 0), engine, Limits())
    assert stored(url)[2][("orders_dead_letters", MALFORMED)] == 1
    # another record at the counted offset (2): the log was replaced
    process_fetch(read_from_log([b"{y", order(3), b"{z"], 0), engine, Limits())
    assert stored(url)[2][("orders_dead_letters", MALFORMED)] == 3
    # below the counted offset, a fetch of a log the consumer found replaced
    process_fetch(read_from_log([b"{w", order(4)], 0, restarted=frozenset({"orders/0"})), engine, Limits())
    engine.dispose()
    assert stored(url)[2] == Counter({("orders", "accepted"): 4, ("orders_dead_letters", MALFORMED): 4})
