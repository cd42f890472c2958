"""The orders writer: decode, validate and store fetched batches in a child process.

The consumer's process spends most of its time in aiokafka's own Python code
(building one record object per event). Decoding and writing in the same
process would share one GIL with it, so the writer runs in a child process
with its own interpreter: the consumer puts each fetch's raw values, joined
into one buffer (:class:`fcplan.streams.batch_decode.Fetch`), into a shared-memory
slot (:mod:`fcplan.streams.fetch_slots`) and sends its place down a socket pair, and
gets back what the batch produced (dead letters by position, the touched
hours, counts). Batches are handled strictly in the order they were sent. The
child stops when the socket closes (its parent stopped or died); a batch it
was writing then either committed or rolled back, and its offsets were never
committed, so a restart replays it harmlessly.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import select
import signal
import socket
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from fcplan.core.contracts import CenterDemand
from fcplan.core.time import iso_us
from fcplan.storage.outage import DEFAULT_BACKOFF, Backoff, GaveUp, OutageStats, call_through_outages, is_outage
from fcplan.streams.batch_decode import Fetch, decode_fetch
from fcplan.streams.columns import OrderColumns
from fcplan.streams.counted import Origin
from fcplan.streams.fetch_slots import SLOT_BYTES, FetchSlots, InSlot, SlotReader
from fcplan.streams.order_sink import OrderBatchResult, Tally, write_order_columns
from fcplan.streams.poison import bisect_writes
from fcplan.streams.validation import CONFLICT, LATE, UNWRITABLE, Limits, exception_detail

log = logging.getLogger(__name__)

#: The writer's SQLite page cache. Orders with random ids (UUIDs) land all over
#: the primary key's B-tree; with SQLite's default 2 MiB most inserts missed the
#: cache (``benchmarks/stream_throughput.py --order-ids random``: about a quarter
#: faster with 64 MiB). Pages are only taken as the table grows.
WRITER_CACHE_MIB = 64
#: How long the writer's SQLite statements wait for another process's write lock
#: before ``database is locked``; past that the writer retries with backoff and
#: says so in the log (:func:`fcplan.storage.outage.call_through_outages`).
WRITER_BUSY_MS = 5_000
#: Seconds :meth:`OrderWriter.close` lets the writer finish its batch before killing
#: it (a killed batch rolls back; its offsets were never committed). A batch takes well
#: under a second on an idle machine; this bounds a stop, which has a deadline of its own.
CLOSE_TIMEOUT_S = 10.0
#: The writer processes' name (:func:`kill_writers` finds them by it).
WRITER_NAME = "fcplan-orders-writer"


@dataclass(frozen=True)
class WrittenBatch:
    """What one stored batch produced. ``dead``: ``(position in the fetch, reason,
    detail)`` of each record for the dead-letter topic, in fetch order;
    ``retries`` and ``outage_s``: database outages it waited out (retries, seconds)."""

    dead: list[tuple[int, str, str]] = field(default_factory=list)
    hourly: list[CenterDemand] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    outage_s: float = 0.0


def _always() -> bool:
    return True


def process_fetch(
    fetch: Fetch, engine: Engine, limits: Limits, keep_going: Callable[[], bool] = _always,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> WrittenBatch:
    """Validate one fetch of raw ``orders`` values and store it in one transaction.

    No record can fail the batch: the decoder turns any record it cannot judge
    into a dead letter (:func:`fcplan.streams.batch_decode.decode_fetch`), and when the
    write fails because of what is written, the records at fault are isolated
    by bisection and dead-lettered as ``unwritable`` while the rest is stored
    (:mod:`fcplan.streams.poison`). A database outage is waited out with ``backoff``
    (:func:`fcplan.storage.outage.call_through_outages`) until ``keep_going()``
    is false, which raises :class:`~fcplan.storage.outage.GaveUp` with nothing
    committed for the records not yet written.
    """
    decoded = decode_fetch(fetch, limits, datetime.now(UTC))
    cols = decoded.columns
    dead = [(i, r.reason, r.detail) for i, r in decoded.rejected]
    reasons = {i: r.reason for i, r in decoded.rejected}  # and the unwritable ones, once isolated
    stats = OutageStats()

    def write(rows: OrderColumns, start: int, stop: int, last: bool = True) -> OrderBatchResult:
        """Write ``rows`` and count the fetch's records ``[start, stop)``; the outage counters go with
        the batch's last transaction (a failed one rolled them back)."""
        tally = Tally(start, stop, reasons, fetch.origin, fetch.value)
        return call_through_outages(
            lambda: write_order_columns(engine, rows, limits.late_grace, _outage_counters(stats) if last else None,
                                        max_future=limits.max_future, tally=tally),
            "orders writer", backoff, stats, keep_going,
        )

    try:
        result = write(cols, 0, len(fetch))
    except Exception as exc:
        if isinstance(exc, GaveUp) or is_outage(exc):
            raise
        log.warning("orders writer: a batch of %d orders failed to write (%s); isolating the records at fault",
                    len(cols), exception_detail(exc))
        counted, done = 0, 0  # the fetch's records counted so far; the rows resolved so far

        def part(lo: int, hi: int) -> OrderBatchResult:
            # Each part counts the records from the last part written to its own last row: the rows
            # between (poison, since bisection goes in order) and the dead letters among them.
            nonlocal counted, done
            reasons.update((cols.source[k], UNWRITABLE) for k in range(done, lo))
            stop = cols.source[hi - 1] + 1
            written = write(cols.take(range(lo, hi)), counted, stop, last=False)
            counted, done = stop, hi
            return written

        parts = bisect_writes(len(cols), part, passthrough=lambda e: isinstance(e, GaveUp) or is_outage(e))
        for k, error in parts.poison:
            dead.append((cols.source[k], UNWRITABLE, exception_detail(error)))
            reasons[cols.source[k]] = UNWRITABLE
        log.warning("orders writer: %d unwritable orders sent to the dead-letter topic: %s",
                    len(parts.poison), "; ".join(exception_detail(e) for _, e in parts.poison[:3]))
        result = _merged(parts.written)
        write(cols.take([]), counted, len(fetch))  # the records after the last part written
    for k in result.late:
        dead.append((cols.source[k], LATE, f"ts {iso_us(int(cols.t_us[k]))} is older than the stream time minus "
                                           f"{limits.late_grace}"))
    dead += [(cols.source[k], CONFLICT, detail) for k, detail in result.conflicts]
    dead.sort()
    return WrittenBatch(
        dead, result.hourly, result.accepted, result.duplicates, stats.retries, round(stats.waited_s, 3)
    )


def _outage_counters(stats: OutageStats) -> Counter[tuple[str, str]]:
    return Counter({("orders_writer", "database_retries"): stats.retries,
                    ("orders_writer", "database_wait_ms"): int(stats.waited_s * 1000)})


def _merged(parts: list[tuple[int, OrderBatchResult]]) -> OrderBatchResult:
    """One result for parts written one after another; ``lo``: each part's first row."""
    out = OrderBatchResult()
    hours: dict[tuple[str, datetime], CenterDemand] = {}
    for lo, part in parts:
        out.accepted += part.accepted
        out.duplicates += part.duplicates
        out.late += [lo + k for k in part.late]
        out.conflicts += [(lo + k, detail) for k, detail in part.conflicts]
        hours.update({(row.center_id, row.hour): row for row in part.hourly})  # a later total is newer
    out.hourly = list(hours.values())
    return out


def _read_frame(stream: Any) -> bytes | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    return stream.read(int.from_bytes(head, "little"))


def _frame(obj: object) -> bytes:
    return _framed(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(8, "little") + payload


def setup_logging() -> None:
    """The writer process's log, in the worker's format. Alembic's INFO lines (nine of them,
    "setup plugin alembic.autogenerate.schemas" ..., at every `fcplan worker` start as the
    writer opens the database) are left out: the writer's own messages are warnings."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _serve(sock: socket.socket, database_url: str, limits: Limits) -> None:
    """The child's main loop: one reply per batch, until the socket closes."""
    from fcplan.storage import make_engine

    # The consumer decides when this process stops (it closes the socket); a
    # SIGKILL of the consumer's process group still ends it at once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging()
    parent = os.getppid()

    def keep_going() -> bool:
        """While waiting out an outage: stop if the consumer died or closed the socket."""
        return os.getppid() == parent and not _closed(sock)

    try:
        slots = SlotReader(sock)
    except ConnectionError:
        return
    stream = sock.makefile("rwb")
    engine: Engine | None = None
    try:
        engine = call_through_outages(
            lambda: make_engine(database_url, sqlite_cache_mib=WRITER_CACHE_MIB, sqlite_busy_ms=WRITER_BUSY_MS),
            "orders writer: opening the database", keep_going=keep_going,
        )
        while (frame := _read_frame(stream)) is not None:
            if os.getppid() != parent:  # orphaned: the consumer died; its batches will be replayed
                return
            try:
                fetch = pickle.loads(frame)
                if isinstance(fetch, InSlot):
                    fetch = pickle.loads(slots.read(fetch))
                reply = _frame(("ok", process_fetch(fetch, engine, limits, keep_going)))
            except GaveUp:  # the consumer is gone or stopping: nothing of this batch is committed
                return
            except Exception as exc:  # reported to the consumer, which stops without committing
                reply = _frame(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            stream.write(reply)
            stream.flush()
    except (BrokenPipeError, ConnectionResetError, GaveUp):
        return
    finally:
        slots.close()
        if engine is not None:
            engine.dispose()


def _closed(sock: socket.socket) -> bool:
    """Whether the consumer closed its end of ``sock``, even with frames still unread
    (Linux reports the hang-up at once: ``POLLHUP``/``POLLRDHUP``)."""
    hangup = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)
    poller = select.poll()
    poller.register(sock, select.POLLIN | hangup)
    if any(events & hangup for _, events in poller.poll(0)):
        return True
    try:  # elsewhere: closed once nothing is left to read
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class WriterError(RuntimeError):
    pass


class OrderWriter:
    """A child process that runs :func:`process_fetch`; use as an async context manager.

    Frames (8-byte length + pickle) travel over a socket pair that the event
    loop reads and writes without blocking, so no thread of this process
    competes with the loop for the GIL. A fetch itself goes into one of
    ``slots`` shared-memory slots and the frame only says which; when every
    slot is taken (more batches in flight than slots) or a fetch is larger than
    ``slot_bytes``, it travels inline in its frame.
    """

    def __init__(self, database_url: str, limits: Limits, slots: int = 4, slot_bytes: int = SLOT_BYTES) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads and a running loop
        self._sock, child = socket.socketpair()
        self._child_sock = child
        self._process = ctx.Process(
            target=_serve, args=(child, database_url, limits), name=WRITER_NAME, daemon=True
        )
        self._slots = FetchSlots(slots, slot_bytes)
        self._pending: deque[tuple[asyncio.Future[WrittenBatch], InSlot | None]] = deque()
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None

    async def __aenter__(self) -> OrderWriter:
        self._process.start()
        try:
            self._child_sock.close()
            self._slots.send_to(self._sock)
            reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
        except BaseException:  # (cancelled while starting, too): no child outlives an OrderWriter
            self._process.kill()
            self._sock.close()
            self._slots.close()
            raise
        self._reading = asyncio.ensure_future(self._read_replies(reader))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the child once the batch it is writing has committed or rolled back;
        replies still to come are dropped (their offsets are never committed)."""
        if self._writer is not None:
            self._writer.close()  # the child sees the socket close and stops after its batch
            self._writer = None
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None
        await asyncio.get_running_loop().run_in_executor(None, self._process.join, CLOSE_TIMEOUT_S)
        if self._process.is_alive():  # stuck waiting out an outage with more batches queued
            log.warning("orders writer: still busy %.0f s after close; killing it (its batch rolls back)",
                        CLOSE_TIMEOUT_S)
            self._process.kill()
            await asyncio.get_running_loop().run_in_executor(None, self._process.join, 10)
        self._slots.close()

    def submit(self, values: list[bytes | None], origin: Origin | None = None) -> asyncio.Future[WrittenBatch]:
        """Queue a fetch's values (sent joined into one buffer, :class:`Fetch`) and where they were
        read (:mod:`fcplan.streams.counted`); the future resolves once its transaction committed."""
        if self._writer is None:
            raise WriterError("the orders writer is not running: submit batches inside `async with OrderWriter(...)`")
        future: asyncio.Future[WrittenBatch] = asyncio.get_running_loop().create_future()
        if self._reading is not None and self._reading.done():
            future.set_exception(WriterError(f"the orders writer process stopped (exit code {self._process.exitcode})"))
            return future
        payload = pickle.dumps(Fetch.of(values, origin), protocol=pickle.HIGHEST_PROTOCOL)
        where = self._slots.put(payload)
        self._pending.append((future, where))
        self._writer.write(_framed(payload) if where is None else _frame(where))  # buffered by the transport
        return future

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(8), "little")
                status, payload = pickle.loads(await reader.readexactly(size))
                future, where = self._pending.popleft()
                if where is not None:
                    self._slots.release(where.slot)
                if status == "ok":
                    future.set_result(payload)
                else:
                    future.set_exception(
                        WriterError(f"the orders writer failed on a batch; nothing was committed: {payload}")
                    )
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            error = WriterError(f"the orders writer process stopped (exit code {self._process.exitcode}): {exc!r}")
            while self._pending:
                self._pending.popleft()[0].set_exception(error)


def kill_writers() -> int:
    """SIGKILL this process's live orders writers; returns how many. Their batches in
    progress roll back, and none of their offsets were committed."""
    writers = [p for p in multiprocessing.active_children() if p.name == WRITER_NAME]
    for p in writers:
        p.kill()
    for p in writers:
        p.join(5)
    return len(writers)

