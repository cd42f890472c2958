"""The orders SQL: the dialect-specific statements that store a batch of orders
exactly once, and the stream times and counters that go with it.

Used by :mod:`fcplan.streams.order_sink` (the logic: dedupe, lateness, results), which
hands in the batch as columns (anything with ``order_id``, ``center_id``, ``t_us``,
``lines``, ``units`` and ``take``). On PostgreSQL one statement with data-modifying
CTEs inserts the unseen orders and adds exactly those to their hours; on SQLite an
insert in multi-row statements of a few power-of-two sizes (prepared once, then found
in the driver's cache), then the hours' upsert. Times are written as SQLAlchemy writes
them (SQLite: its DATETIME text).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, Protocol, TypeVar

import numpy as np
from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from fcplan.core.time import US_PER_HOUR, epoch_us, from_epoch_us
from fcplan.storage import dialect_insert_for, upsert, utcnow
from fcplan.storage.queries import all_rows
from fcplan.storage.schema import center_hourly, center_watermarks, orders, stream_metrics

log = logging.getLogger(__name__)

#: A touched hour's totals: ``(center, hour start as naive UTC, orders, lines, units)``.
Hour = tuple[str, datetime, int, int, int]


class OrderRows(Protocol):
    """A batch of orders as columns (:class:`fcplan.streams.columns.OrderColumns`)."""

    order_id: list[str]
    center_id: list[str]
    t_us: np.ndarray
    lines: list[int]
    units: list[int]

    def __len__(self) -> int: ...

    def take(self, positions: Any) -> Any: ...


R = TypeVar("R", bound=OrderRows)


def lock_for_write(conn: Connection) -> None:
    """Take the database's write lock at the start of a batch's transaction (SQLite:
    ``BEGIN IMMEDIATE``, one writer at a time and no lock upgrade; PostgreSQL: nothing)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


#: Rows of the largest multi-row statement (SQLite binds at most 32,766 parameters a statement).
_SQLITE_ROWS = 4096
_ID_CHUNK = 500


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


def _insert_sqlite(conn: Connection, rows: OrderRows) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` of every row; returns how many went in."""
    flat: list = [None] * (5 * len(rows))  # row-major parameters, filled one column at a time
    flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5] = (
        rows.order_id, rows.center_id, rows.t_us.tolist(), rows.lines, rows.units
    )
    return sum(cursor.rowcount for cursor in _run_multi_row(conn, _SQLITE_ORDERS, 5, flat))


def insert_new_sqlite(conn: Connection, rows: R) -> R:
    """Insert the orders of ``rows`` whose ``order_id`` is not stored yet (SQLite);
    returns those rows.

    The batch is inserted with ``ON CONFLICT DO NOTHING``; when every row went
    in (the usual case) they are all new. Otherwise the insert is rolled back
    to a savepoint, the stored ids are looked up (inside ``BEGIN IMMEDIATE`` no
    other writer runs, so they are exactly the duplicates) and only the rest
    are inserted.
    """
    sql = conn.exec_driver_sql
    sql("SAVEPOINT fc_orders")
    if _insert_sqlite(conn, rows) != len(rows):
        sql("ROLLBACK TO fc_orders")
        stored = stored_ids(conn, rows.order_id)
        rows = rows.take([i for i, oid in enumerate(rows.order_id) if oid not in stored])
        _insert_sqlite(conn, rows)
    sql("RELEASE fc_orders")
    return rows


def add_hours_sqlite(conn: Connection, sums: Sequence[tuple[str, int, int, int, int]], now: datetime) -> list[Hour]:
    """Add ``(center, hour start in epoch µs, orders, lines, units)`` to their hours
    (SQLite); returns the touched hours' totals."""
    if not sums:
        return []
    stamp = _sqlite_text(now)
    params = tuple(v for c, h, n, li, u in sums for v in (c, _sqlite_text(from_epoch_us(h)), n, li, u, stamp))
    touched = [row for cursor in _run_multi_row(conn, _SQLITE_HOURS, 6, params) for row in cursor.all()]
    return [(c, datetime.fromisoformat(h), n, li, u) for c, h, n, li, u in touched]


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


def store_postgres(conn: Connection, rows: OrderRows, now: datetime) -> tuple[int, list[Hour]]:
    """Insert the unseen orders of ``rows`` and add them to their hours (PostgreSQL, one
    round trip); returns how many went in and the touched hours' totals."""
    params = (rows.order_id, rows.center_id, rows.t_us.tolist(), rows.lines, rows.units, now)
    touched = conn.exec_driver_sql(_PG_STORE, params).all()
    inserted = int(touched[0][5]) if touched else 0
    return inserted, [(c, h, n, li, u) for c, h, n, li, u, _ in touched]


def stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for lo, hi in _chunks(len(ids), _ID_CHUNK):
        found.update(conn.execute(select(orders.c.order_id).where(orders.c.order_id.in_(ids[lo:hi]))).scalars())
    return found


def stored_payloads(conn: Connection, ids: list[str]) -> dict[str, tuple[str, int, int, int]]:
    """``order_id -> (center, t_us, lines, units)`` of the stored orders among ``ids``."""
    cols = (orders.c.order_id, orders.c.center_id, orders.c.ts_us, orders.c.lines, orders.c.units)
    found: dict[str, tuple[str, int, int, int]] = {}
    for lo, hi in _chunks(len(ids), _ID_CHUNK):
        rows = all_rows(conn, select(*cols).where(orders.c.order_id.in_(ids[lo:hi])))  # leaves out damaged rows
        found.update({oid: (c, int(t), int(li), int(u)) for oid, c, t, li, u in rows})
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


def watermarks_us(conn: Connection, centers: set[str], ceiling_us: int | None = None) -> dict[str, int]:
    """The stored stream times of ``centers`` (epoch µs); a center without one has none yet.

    A stored time that cannot be read (text written into the SQLite file by another program),
    or one later than ``ceiling_us`` (later than any accepted order can be: a year typed wrong),
    counts as none and is deleted, with a warning, so the batch's newest time replaces it: left in
    place, an unreadable one would count as none at every batch and, text sorting above every
    time, never be moved forward (:func:`move_watermarks` only moves forward); one far ahead
    would make every order of its center late, for good."""
    rows = all_rows(conn, _WATERMARKS.params(centers=sorted(centers)))  # leaves out a damaged watermark
    marks = {center: epoch_us(mark) for center, mark in rows}
    ahead = {c: us for c, us in marks.items() if ceiling_us is not None and us > ceiling_us}
    if ahead:
        log.warning("center_watermarks: the stream time of center(s) %s is later than any accepted order can be "
                    "(%s); it is replaced by the newest order time of this batch",
                    sorted(ahead), ", ".join(f"{c} {from_epoch_us(us)}" for c, us in sorted(ahead.items())[:3]))
        conn.execute(delete(center_watermarks).where(center_watermarks.c.center_id.in_(sorted(ahead))))
    unread = set(centers) - set(marks)
    if unread:  # new centers, or damaged ones
        _drop_damaged_watermarks(conn, sorted(unread))
    return {c: us for c, us in marks.items() if c not in ahead}


def _drop_damaged_watermarks(conn: Connection, unread: list[str]) -> None:
    key = center_watermarks.c.center_id
    damaged = sorted(conn.execute(select(key).where(key.in_(unread))).scalars())
    if damaged:
        log.warning("center_watermarks: the stream time of center(s) %s is not a time; it is replaced by the "
                    "newest order time of this batch (until then no order of theirs counts as late)", damaged)
        conn.execute(delete(center_watermarks).where(key.in_(damaged)))


def _forward_only(table: Any, excluded: Any) -> Any:
    return excluded.watermark > table.c.watermark


def move_watermarks(conn: Connection, moved: dict[str, int]) -> None:
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
