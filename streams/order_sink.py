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
3. move the stream times forward and add to the counters.

Replaying a batch after a crash therefore changes nothing: the consumer commits
Kafka offsets only after this returns. The per-row work runs inside the
database (SQLite's C code, or the PostgreSQL server).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.engine import Connection

from fcplan.core.contracts import CenterDemand
from fcplan.storage import dialect_insert_for, upsert, utcnow
from fcplan.storage import metrics as m
from fcplan.storage.schema import center_hourly, center_watermarks, orders, stream_metrics
from fcplan.streams.columns import (
    US_PER_HOUR,
    OrderColumns,
    epoch_us,
    first_occurrences,
    from_epoch_us,
    hourly_sums,
    split_late,
)
from fcplan.streams.validation import LATE

#: Rows of the largest multi-row statement (SQLite binds at most 32,766 parameters a statement).
_SQLITE_ROWS = 4096
_ID_CHUNK = 500


@dataclass
class OrderBatchResult:
    """``late``: positions (in the written columns) of the orders for the dead-letter topic."""

    accepted: int = 0
    duplicates: int = 0
    late: list[int] = field(default_factory=list)
    hourly: list[CenterDemand] = field(default_factory=list)


def _floor_hour(expr: str, mod: str = "%") -> str:
    """SQL for the start of the UTC hour of epoch microseconds ``expr`` (floor, also
    before 1970); ``mod`` is the modulo operator as the driver wants it written."""
    return f"(({expr}) - ((({expr}) {mod} {US_PER_HOUR}) + {US_PER_HOUR}) {mod} {US_PER_HOUR})"


_SQLITE_ORDERS = (
    f"INSERT INTO {orders.name} (order_id, center_id, ts_us, lines, units) VALUES {{rows}} "
    "ON CONFLICT (order_id) DO NOTHING"
)
_SQLITE_HOURS = (
    f"INSERT INTO {center_hourly.name} (center_id, hour, orders, lines, units, updated_at) VALUES {{rows}} "
    "ON CONFLICT (center_id, hour) DO UPDATE SET orders = orders + excluded.orders, "
    "lines = lines + excluded.lines, units = units + excluded.units, updated_at = excluded.updated_at "
    "RETURNING center_id, hour, orders, lines, units"
)


def _sqlite_text(t: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text."""
    return t.isoformat(sep=" ", timespec="microseconds")


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def _pow2_chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` runs of ``size`` rows, then of descending powers of two: a
    few statement shapes serve every batch size."""
    runs, lo = [], 0
    while lo < n:
        hi = lo + min(size, 1 << ((n - lo).bit_length() - 1))
        runs.append((lo, hi))
        lo = hi
    return runs


@lru_cache(maxsize=64)
def _multi_row(template: str, rows: int, width: int) -> str:
    """``template`` with ``rows`` placeholder rows of ``width`` values: a statement
    the driver prepares once and then finds in its cache (preparing one of
    thousands of rows costs more than running it)."""
    return template.format(rows=", ".join(["(" + ", ".join("?" * width) + ")"] * rows))


def _run_multi_row(conn: Connection, template: str, width: int, flat: Sequence) -> list:
    """Run ``template`` over ``flat`` (rows of ``width`` values, concatenated) in
    power-of-two chunks; returns the cursors."""
    return [
        conn.exec_driver_sql(_multi_row(template, hi - lo, width), tuple(flat[width * lo : width * hi]))
        for lo, hi in _pow2_chunks(len(flat) // width, _SQLITE_ROWS)
    ]


def _insert_sqlite(conn: Connection, rows: OrderColumns) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` of every row; returns how many went in."""
    flat: list = [None] * (5 * len(rows))  # row-major parameters, filled one column at a time
    flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5] = (
        rows.order_id, rows.center_id, rows.t_us.tolist(), rows.lines, rows.units
    )
    return sum(cursor.rowcount for cursor in _run_multi_row(conn, _SQLITE_ORDERS, 5, flat))


def _store_sqlite(conn: Connection, rows: OrderColumns, now: datetime) -> tuple[int, list[CenterDemand]]:
    """Insert the unseen orders of ``rows`` and add them to their hours (SQLite).

    The batch is inserted with ``ON CONFLICT DO NOTHING``; when every row went
    in (the usual case) they are all new. Otherwise the insert is rolled back
    to a savepoint, the stored ids are looked up (inside ``BEGIN IMMEDIATE`` no
    other writer runs, so they are exactly the duplicates) and only the rest
    are inserted. The new rows are summed per hour here.
    """
    sql = conn.exec_driver_sql
    sql("SAVEPOINT fc_orders")
    if _insert_sqlite(conn, rows) != len(rows):
        sql("ROLLBACK TO fc_orders")
        stored = _stored_ids(conn, rows.order_id)
        rows = rows.take([i for i, oid in enumerate(rows.order_id) if oid not in stored])
        _insert_sqlite(conn, rows)
    sql("RELEASE fc_orders")
    if not len(rows):
        return 0, []
    sums = hourly_sums(rows)
    stamp = _sqlite_text(now)
    params = tuple(v for c, h, n, li, u in sums for v in (c, _sqlite_text(from_epoch_us(h)), n, li, u, stamp))
    touched = [row for cursor in _run_multi_row(conn, _SQLITE_HOURS, 6, params) for row in cursor.all()]
    return len(rows), [_demand(c, datetime.fromisoformat(h), n, li, u) for c, h, n, li, u in touched]


_PG_HOUR = "timestamp '1970-01-01' + h * interval '1 microsecond'"
_PG_STORE = f"""
WITH b AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::int[], %s::int[])
        AS b(order_id, center_id, ts_us, lines, units)
), ins AS (
    INSERT INTO {orders.name} (order_id, center_id, ts_us, lines, units)
    SELECT order_id, center_id, ts_us, lines, units FROM b
    ON CONFLICT (order_id) DO NOTHING
    RETURNING center_id, {_floor_hour('ts_us', '%%')} AS h, lines, units
), up AS (
    INSERT INTO {center_hourly.name} (center_id, hour, orders, lines, units, updated_at)
    SELECT center_id, {_PG_HOUR}, count(*), sum(lines), sum(units), %s FROM ins GROUP BY center_id, h
    ON CONFLICT (center_id, hour) DO UPDATE SET
        orders = {center_hourly.name}.orders + excluded.orders,
        lines = {center_hourly.name}.lines + excluded.lines,
        units = {center_hourly.name}.units + excluded.units,
        updated_at = excluded.updated_at
    RETURNING center_id, hour, orders, lines, units
)
SELECT center_id, hour, orders, lines, units, (SELECT count(*) FROM ins) FROM up
"""


def _store_postgres(conn: Connection, rows: OrderColumns, now: datetime) -> tuple[int, list[CenterDemand]]:
    """Insert the unseen orders of ``rows`` and add them to their hours (PostgreSQL, one round trip)."""
    params = (rows.order_id, rows.center_id, rows.t_us.tolist(), rows.lines, rows.units, now)
    touched = conn.exec_driver_sql(_PG_STORE, params).all()
    inserted = int(touched[0][5]) if touched else 0
    return inserted, [_demand(c, h, n, li, u) for c, h, n, li, u, _ in touched]


def _demand(center: str, hour: datetime, n: int, lines: int, units: int) -> CenterDemand:
    return CenterDemand(center_id=center, hour=hour.replace(tzinfo=UTC), orders=n, lines=lines, units=units)


def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for lo, hi in _chunks(len(ids), _ID_CHUNK):
        found.update(conn.execute(select(orders.c.order_id).where(orders.c.order_id.in_(ids[lo:hi]))).scalars())
    return found


_WATERMARKS = select(center_watermarks.c.center_id, center_watermarks.c.watermark).where(
    center_watermarks.c.center_id.in_(bindparam("centers", expanding=True))
)


@cache
def _counters_upsert(dialect: str) -> Any:
    """The counters' ``value = value + n`` upsert, built once: building a statement
    for every batch cost more than running it."""
    stmt = dialect_insert_for(dialect, stream_metrics)
    return stmt.on_conflict_do_update(
        index_elements=["name", "reason"],
        set_={"value": stream_metrics.c.value + stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )


def _watermarks_us(conn: Connection, centers: set[str]) -> dict[str, int]:
    rows = conn.execute(_WATERMARKS, {"centers": sorted(centers)})
    return {center: epoch_us(mark) for center, mark in rows}


def _forward_only(table: Any, excluded: Any) -> Any:
    return excluded.watermark > table.c.watermark


def _move_watermarks(conn: Connection, moved: dict[str, int]) -> None:
    """Stream times only move forward (another worker may have moved them further)."""
    rows = [{"center_id": c, "watermark": from_epoch_us(us)} for c, us in moved.items()]
    upsert(conn, center_watermarks, rows, ["center_id"], where=_forward_only)


def add_metrics(conn: Connection, counts: Counter[tuple[str, str]]) -> None:
    """Add to the worker's counters in one statement, e.g. ``{("orders", "accepted"): 3}``."""
    counts = +counts  # drop zero counts
    if not counts:
        return
    now = utcnow()
    conn.execute(
        _counters_upsert(conn.dialect.name),
        [{"name": n, "reason": r, "value": int(v), "updated_at": now} for (n, r), v in sorted(counts.items())],
    )


def write_order_columns(
    engine: Engine, batch: OrderColumns, grace: timedelta, counters: Counter[tuple[str, str]] | None = None
) -> OrderBatchResult:
    """Store a batch of valid orders exactly once; see the module docstring.

    ``counters`` (e.g. the batch's dead letters by reason) are added in the same
    transaction, with ``orders/accepted``, ``orders/duplicate`` and
    ``orders_dead_letters/late``.
    """
    result = OrderBatchResult()
    counts: Counter[tuple[str, str]] = Counter(counters or {})
    if not len(batch) and not counts:
        return result
    first = first_occurrences(batch.order_id)
    unique = batch if len(first) == len(batch) else batch.take(first)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, no lock upgrade
        if len(unique):
            _store_batch(conn, unique, first, grace, result)
        result.duplicates += len(batch) - len(unique)
        counts.update({(m.ORDERS, m.ACCEPTED): result.accepted, (m.ORDERS, m.DUPLICATE): result.duplicates,
                       (m.ORDERS_DEAD_LETTERS, LATE): len(result.late)})
        add_metrics(conn, counts)
    return result


def _store_batch(
    conn: Connection, unique: OrderColumns, first: np.ndarray, grace: timedelta, result: OrderBatchResult
) -> None:
    marks = _watermarks_us(conn, set(unique.center_id))
    split = split_late(unique.center_id, unique.t_us, marks, grace)
    replayed: set[str] = set()
    if len(split.late):
        replayed = _stored_ids(conn, [unique.order_id[i] for i in split.late.tolist()])
        result.late = [int(first[i]) for i in split.late.tolist() if unique.order_id[i] not in replayed]
    on_time = unique if not len(split.late) else unique.take(split.accepted)
    if len(on_time):
        store = _store_postgres if conn.dialect.name == "postgresql" else _store_sqlite
        result.accepted, result.hourly = store(conn, on_time, utcnow())
    if split.watermarks:
        _move_watermarks(conn, split.watermarks)
    result.duplicates = len(replayed) + len(on_time) - result.accepted
