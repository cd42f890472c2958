"""Each record read counted once: which records of a fetch the worker's counters lack.

The consumers commit offsets only after the write (commit-after-write), so a crash, a
rebalance or a broker restart hands records to the writer again. What is stored stays exact
(an order id is stored once, a promotion's newest version wins), but the counters of what was
read (``stream_metrics``: dead letters by reason, duplicates, promotions) would be added
again. So the transaction that counts a run of a fetch's records also records, for each log
(``<topic>/<partition>``), the highest offset it counted (``counted_offsets``), and counts only
the records past it: readers of the counters see each record once, whatever was replayed.

A log lost and written again from offset 0 (an empty broker) must not have its records taken
for ones already counted. Three things tell: the log guard's finding that a partition's log was
replaced (:mod:`fcplan.streams.log_guard`; the fetch names those partitions in
:attr:`Origin.restarted`); a fingerprint of the counted record's value, compared whenever a
fetch holds that offset again; and the same of the log's *base*, the first record counted since
the log was first seen or found replaced, compared whenever a fetch holds the base's offset
again. A worker restarted with the broker has no guard finding, and reads the new log from its
start: where the old log was counted from its start too (the base at its first offset, as for
topics made empty), the new log's first fetch holds the base and is counted. Left: where the base
is past the new log's first fetches (a row made mid-log, or before revision 0009: no base), those
records below it are taken for counted ones until a fetch reaches the base or the mark.

Two workers count the same records when a rebalance hands a partition over while the old member
still writes: the log's row is locked for the transaction (made first where missing, see
:func:`_marks`), so the second one counts after the first and only what it lacks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import counted_offsets

#: A fetch's value by position (``None``: a record without one).
Values = Callable[[int], bytes | None]


def log_name(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


def fingerprint(value: bytes | None) -> int:
    """A signed 64-bit digest of a record's value, the same in every process."""
    return int.from_bytes(hashlib.blake2b(value or b"", digest_size=8).digest(), "little", signed=True)


def _array(seq: Sequence[int]) -> np.ndarray:
    if isinstance(seq, range):
        return np.arange(seq.start, seq.stop, seq.step, dtype=np.int64)
    return np.asarray(seq, dtype=np.int64)


@dataclass(frozen=True)
class Span:
    """One log's records in a fetch: their positions in the fetch and their offsets, both ascending
    (a ``range`` where they are consecutive: it travels to the writer in a few bytes)."""

    log: str
    positions: Sequence[int]
    offsets: Sequence[int]


@dataclass(frozen=True)
class Origin:
    """Where a fetch's records come from; ``restarted``: the logs the consumer found replaced
    since it last read them (their marks are not this log's)."""

    spans: tuple[Span, ...]
    restarted: frozenset[str] = frozenset()

    @classmethod
    def of_fetch(cls, fetched: Mapping[Any, Sequence[Any]], restarted: Iterable[Any] = ()) -> Origin:
        """From ``getmany``'s answer (partition -> records), concatenated in its order into the fetch."""
        spans, pos = [], 0
        for tp, batch in fetched.items():
            n = len(batch)
            if n:
                first, last = batch[0].offset, batch[-1].offset
                offsets = range(first, last + 1) if last - first + 1 == n else [r.offset for r in batch]
                spans.append(Span(log_name(tp.topic, tp.partition), range(pos, pos + n), offsets))
                pos += n
        return cls(tuple(spans), frozenset(log_name(tp.topic, tp.partition) for tp in restarted))

    @classmethod
    def of_records(cls, places: Sequence[tuple[str, int] | None], restarted: Iterable[str] = ()) -> Origin:
        """From each record's ``(log, offset)``, in fetch order (records of several logs interleaved;
        ``None``: a record of no log's count, counted as new); ``restarted``: the names of the logs
        found replaced."""
        by_log: dict[str, list[tuple[int, int]]] = {}
        for i, place in enumerate(places):
            if place is not None:
                by_log.setdefault(place[0], []).append((place[1], i))
        spans = []
        for log, rows in by_log.items():
            rows.sort()
            spans.append(Span(log, [i for _, i in rows], [o for o, _ in rows]))
        return cls(tuple(spans), frozenset(restarted))


_MARKS = (
    select(
        counted_offsets.c.log,
        counted_offsets.c.counted_to,
        counted_offsets.c.fingerprint,
        counted_offsets.c.base_offset,
        counted_offsets.c.base_fingerprint,
    )
    .where(counted_offsets.c.log.in_(bindparam("logs", expanding=True)))
    .order_by(counted_offsets.c.log)
    .with_for_update()  # PostgreSQL: a concurrent batch of the same log waits (SQLite: BEGIN IMMEDIATE)
)
#: ``counted_to`` of a log's row made before anything of it was counted (offsets start at 0)
NOTHING_COUNTED = -1


class _Mark(NamedTuple):
    """A log's row: the highest offset counted and its record's fingerprint; the first record
    counted since the log was first seen or last found replaced (``None``: a row made before
    revision 0009)."""

    offset: int
    fingerprint: int
    base_offset: int | None
    base_fingerprint: int | None


def _differs(off: np.ndarray, pos: np.ndarray, offset: int, fp: int, value: Values) -> bool:
    """Whether the span holds another record at ``offset`` than the one of fingerprint ``fp``."""
    at = int(np.searchsorted(off, offset))
    return at < len(off) and off[at] == offset and fingerprint(value(int(pos[at]))) != fp


def _marks(conn: Connection, logs: list[str]) -> dict[str, _Mark]:
    """The counted marks of ``logs``, their rows locked until the transaction ends.

    PostgreSQL: ``FOR UPDATE`` locks only rows that exist, and two workers counting a log's first
    batch at once (a rebalance hands the partition over while the old member still writes) would
    both find none and count the batch twice. So every log gets its row first (``INSERT .. ON
    CONFLICT DO NOTHING``, in the same order as the locks: one that another transaction is
    inserting waits for it to end) and the rows are then read locked: the second transaction
    reads the first one's mark. (SQLite: ``BEGIN IMMEDIATE`` already makes the writers take turns.)"""
    logs = sorted(set(logs))
    if conn.dialect.name == "postgresql":
        now = utcnow()
        rows = [{"log": log, "counted_to": NOTHING_COUNTED, "fingerprint": 0, "updated_at": now} for log in logs]
        upsert(conn, counted_offsets, rows, ["log"], update=())
    found = conn.execute(_MARKS, {"logs": logs})
    return {row[0]: _Mark(*row[1:]) for row in found if row[1] > NOTHING_COUNTED}


def fresh(conn: Connection, origin: Origin | None, start: int, stop: int, value: Values) -> np.ndarray:
    """Which of the fetch's records at positions ``[start, stop)`` the counters lack (a boolean
    per position); records them as counted, in ``conn``'s transaction. Without an ``origin``
    (a fetch not from a log) every record is new and nothing is recorded."""
    new = np.ones(max(stop - start, 0), dtype=bool)
    if origin is None or stop <= start:
        return new
    spans = []
    for span in origin.spans:
        pos, off = _array(span.positions), _array(span.offsets)
        inside = (pos >= start) & (pos < stop)
        if inside.any():
            spans.append((span.log, pos, off, inside))
    if not spans:
        return new
    marks = _marks(conn, [s[0] for s in spans])
    moved = []
    for log, pos, off, inside in spans:
        mark = None if log in origin.restarted else marks.get(log)
        if mark is not None and (
            _differs(off, pos, mark.offset, mark.fingerprint, value)  # another record at the counted offset
            or (
                mark.base_offset is not None  # or at the first one counted: a new log
                and _differs(off, pos, mark.base_offset, mark.base_fingerprint, value)
            )
        ):
            mark = None
        if mark is not None:
            new[pos[inside & (off <= mark.offset)] - start] = False
        first, last = (int(i) for i in np.flatnonzero(inside)[[0, -1]])
        if mark is None or off[last] > mark.offset:
            moved.append(
                {
                    "log": log,
                    "counted_to": int(off[last]),
                    "fingerprint": fingerprint(value(int(pos[last]))),
                    "base_offset": int(off[first]) if mark is None else mark.base_offset,
                    "base_fingerprint": fingerprint(value(int(pos[first]))) if mark is None else mark.base_fingerprint,
                    "updated_at": utcnow(),
                }
            )
    upsert(conn, counted_offsets, moved, ["log"])
    return new
