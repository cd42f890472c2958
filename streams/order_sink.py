"""The orders half of the sink: a batch of valid orders stored exactly once.

One transaction a batch, in a handful of statements whatever its size:

1. read the centers' stream times (``center_watermarks``) and split the batch
   into on-time and late rows (:func:`fcplan.streams.columns.split_late`, in Python);
   a late-looking order that is already stored is a replay (a duplicate), not a
   dead letter;
2. hand the on-time rows to the database and let it insert those whose
   ``order_id`` is not stored yet and add exactly those to their hours
   (``orders = orders + n``), returning the touched hours' totals: on
   PostgreSQL in one statement; on SQLite an insert in multi-row statements of
   a few power-of-two sizes (prepared once, then found in the driver's cache),
   then the hours' upsert;
3. move the stream times forward and add to the counters: with a :class:`Tally`, only for the
   records read for the first time (:mod:`fcplan.streams.counted`).

A repeat of a stored order id (or of one earlier in the batch) with another center, time,
lines or units is not a duplicate but a conflict: the first stays stored and the repeat is
returned for the dead-letter topic with both payloads, so no record is lost without a
word. Finding them costs a read of the batch's stored payloads, only in a batch where not
every order was new.

Replaying a batch after a crash therefore changes nothing, counters included: the consumer
commits Kafka offsets only after this returns. The per-row work runs inside the
database (SQLite's C code, or the PostgreSQL server).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from fcplan.core.contracts import CenterDemand
from fcplan.core.time import epoch_us, iso_us
from fcplan.storage import metrics as m
from fcplan.storage import orders_sql as sql
from fcplan.storage import utcnow
from fcplan.streams.columns import (
    OrderColumns,
    Payload,
    conflicting_repeats,
    first_occurrences,
    hourly_sums,
    split_late,
)
from fcplan.streams.counted import Origin, Values, fresh
from fcplan.streams.validation import CONFLICT, LATE

#: Clock difference between workers allowed for: a stream time this much past now plus the
#: future limit may still come from an order another worker accepted.
CLOCK_SKEW = timedelta(hours=1)


@dataclass
class OrderBatchResult:
    """``late``: positions (in the written columns) of the orders for the dead-letter topic;
    ``conflicts``: ``(position, detail)`` of the repeats of an order id with another payload."""

    accepted: int = 0
    duplicates: int = 0
    late: list[int] = field(default_factory=list)
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    hourly: list[CenterDemand] = field(default_factory=list)


@dataclass(frozen=True)
class Tally:
    """The records of a fetch that one transaction accounts for: positions ``[start, stop)``,
    the written rows' and those with a dead-letter reason found before the write (``reasons``,
    by position: decoding, unwritable), counted only where the counters lack them
    (:func:`fcplan.streams.counted.fresh`)."""

    start: int
    stop: int
    reasons: Mapping[int, str]
    origin: Origin | None
    value: Values

    def counts(self, conn: Connection, rows: OrderColumns, result: OrderBatchResult) -> Counter[tuple[str, str]]:
        """The counters for the range's new records: each dead letter by reason, ``orders/accepted``
        (every inserted order: an order is inserted once) and ``orders/duplicate`` (the rest)."""
        new = fresh(conn, self.origin, self.start, self.stop, self.value)
        dead = {p: r for p, r in self.reasons.items() if self.start <= p < self.stop}
        dead.update((rows.source[k], LATE) for k in result.late)
        dead.update((rows.source[k], CONFLICT) for k, _ in result.conflicts)
        counts = Counter((m.ORDERS_DEAD_LETTERS, r) for p, r in dead.items() if new[p - self.start])
        written = int(new.sum()) - counts.total()
        counts.update({(m.ORDERS, m.ACCEPTED): result.accepted, (m.ORDERS, m.DUPLICATE): written - result.accepted})
        return counts


def _store(conn: Connection, rows: OrderColumns, now: datetime) -> tuple[int, list[CenterDemand]]:
    """Insert the unseen orders of ``rows`` and add them to their hours; returns how many
    went in and the touched hours (PostgreSQL: one statement; SQLite: the hours are summed
    here)."""
    if conn.dialect.name == "postgresql":
        inserted, touched = sql.store_postgres(conn, rows, now)
    else:
        new = sql.insert_new_sqlite(conn, rows)
        inserted, touched = len(new), sql.add_hours_sqlite(conn, hourly_sums(new), now)
    return inserted, [_demand(*hour) for hour in touched]


def _demand(center: str, hour: datetime, n: int, lines: int, units: int) -> CenterDemand:
    return CenterDemand(center_id=center, hour=hour.replace(tzinfo=UTC), orders=n, lines=lines, units=units)


def write_order_columns(
    engine: Engine, batch: OrderColumns, grace: timedelta, counters: Counter[tuple[str, str]] | None = None,
    max_future: timedelta | None = None, tally: Tally | None = None,
) -> OrderBatchResult:
    """Store a batch of valid orders exactly once; see the module docstring.

    ``counters`` (e.g. the batch's dead letters by reason) are added in the same
    transaction, with ``orders/accepted``, ``orders/duplicate``,
    ``orders_dead_letters/late`` and ``orders_dead_letters/conflicting_duplicate``;
    with a ``tally``, those of its records that were not counted before (:meth:`Tally.counts`).
    ``max_future`` (how far ahead of now validation accepts an order): a stored stream
    time later than now plus that (and an hour of clock skew) no accepted order made;
    it is taken for damage and replaced (:func:`fcplan.storage.orders_sql.watermarks_us`).
    """
    result = OrderBatchResult()
    counts: Counter[tuple[str, str]] = Counter(counters or {})
    if not len(batch) and not counts and (tally is None or tally.start >= tally.stop):
        return result
    first = first_occurrences(batch.order_id)
    unique = batch if len(first) == len(batch) else batch.take(first)
    with engine.begin() as conn:
        sql.lock_for_write(conn)
        ceiling = None if max_future is None else epoch_us(datetime.now(UTC) + max_future + CLOCK_SKEW)
        stored = _store_batch(conn, unique, first, grace, result, ceiling) if len(unique) else {}
        result.conflicts = [(i, conflict_detail(batch.order_id[i], kept, batch.payload(i)))
                            for i, kept in conflicting_repeats(batch, first, stored)]
        result.duplicates += len(batch) - len(unique) - len(result.conflicts)
        if tally is None:
            counts.update({(m.ORDERS, m.ACCEPTED): result.accepted, (m.ORDERS, m.DUPLICATE): result.duplicates,
                           (m.ORDERS_DEAD_LETTERS, LATE): len(result.late),
                           (m.ORDERS_DEAD_LETTERS, CONFLICT): len(result.conflicts)})
        else:
            counts.update(tally.counts(conn, batch, result))
        sql.add_metrics(conn, counts)
    return result


def conflict_detail(order_id: str, kept: Payload, repeat: Payload) -> str:
    """A conflicting repeat's dead-letter detail: both payloads, and which one is kept."""

    def text(p: Payload) -> str:
        return f"center {p[0]!r}, ts {iso_us(p[1])}, lines {p[2]}, units {p[3]}"

    return (f"order id {order_id!r} is already stored as {text(kept)}; this record has {text(repeat)}. "
            "The stored order is kept: send a correction under a new order id, or fix the producer's ids")


def _store_batch(
    conn: Connection, unique: OrderColumns, first: np.ndarray, grace: timedelta, result: OrderBatchResult,
    ceiling_us: int | None = None,
) -> dict[str, Payload]:
    """Store the batch's first occurrences; returns the stored payloads of its ids wherever
    one of them was stored before (empty when every order was new)."""
    marks = sql.watermarks_us(conn, set(unique.center_id), ceiling_us)
    split = split_late(unique.center_id, unique.t_us, marks, grace)
    replayed: dict[str, Payload] = {}
    if len(split.late):
        replayed = sql.stored_payloads(conn, [unique.order_id[i] for i in split.late.tolist()])
        result.late = [int(first[i]) for i in split.late.tolist() if unique.order_id[i] not in replayed]
    on_time = unique if not len(split.late) else unique.take(split.accepted)
    if len(on_time):
        result.accepted, result.hourly = _store(conn, on_time, utcnow())
    if split.watermarks:
        sql.move_watermarks(conn, split.watermarks)
    result.duplicates = len(replayed) + len(on_time) - result.accepted
    if result.accepted < len(on_time):  # a replay, or a reused id
        return {**replayed, **sql.stored_payloads(conn, on_time.order_id)}
    return replayed
