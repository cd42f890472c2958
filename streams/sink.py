"""The one sink that writes stream results to the database.

Each batch is one transaction: orders older than their center's stream time
minus the grace are returned for the dead-letter topic (unless already stored:
then they are replays), the rest are inserted with ``ON CONFLICT (order_id) DO
NOTHING RETURNING order_id``, and exactly the rows this transaction inserted
are added to their hours. Replaying a batch after a crash therefore changes
nothing: the consumer commits Kafka offsets only after this returns.
``recount_hours`` rebuilds hours from the stored orders, for repairs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, func, literal, or_, select
from sqlalchemy.engine import Connection

from fcplan.storage import dialect_insert, insert_select_upsert, upsert, utcnow
from fcplan.storage.schema import center_hourly, center_watermarks, orders, promotions, stream_metrics
from streams.aggregate import dedupe, order_row, split_late, to_naive_utc
from streams.contracts import CenterDemand, Order, Promotion

_CHUNK = 500


@dataclass
class OrderBatchResult:
    accepted: int = 0
    duplicates: int = 0
    late: list[Order] = field(default_factory=list)
    hourly: list[CenterDemand] = field(default_factory=list)


def _existing_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        found.update(conn.execute(select(orders.c.order_id).where(orders.c.order_id.in_(chunk))).scalars())
    return found


def _watermarks(conn: Connection, centers: Iterable[str]) -> dict[str, datetime]:
    rows = conn.execute(
        select(center_watermarks.c.center_id, center_watermarks.c.watermark).where(
            center_watermarks.c.center_id.in_(list(centers))
        )
    )
    return {center: mark for center, mark in rows}


def _add_to_hours(conn: Connection, new_rows: Sequence[dict]) -> list[CenterDemand]:
    """Add newly inserted orders to their hours (``orders = orders + n``) and return
    the touched hours' totals. Exact because only rows this transaction inserted
    are added, in the same transaction."""
    sums: dict[tuple[str, datetime], list[int]] = {}
    for row in new_rows:
        acc = sums.setdefault((row["center_id"], row["hour"]), [0, 0, 0])
        acc[0] += 1
        acc[1] += row["lines"]
        acc[2] += row["units"]
    now = utcnow()
    stmt = dialect_insert(conn, center_hourly)
    stmt = stmt.on_conflict_do_update(
        index_elements=["center_id", "hour"],
        set_={
            "orders": center_hourly.c.orders + stmt.excluded.orders,
            "lines": center_hourly.c.lines + stmt.excluded.lines,
            "units": center_hourly.c.units + stmt.excluded.units,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    conn.execute(
        stmt,
        [
            {"center_id": c, "hour": h, "orders": n, "lines": li, "units": u, "updated_at": now}
            for (c, h), (n, li, u) in sums.items()
        ],
    )
    touched: dict[str, set[datetime]] = {}
    for c, h in sums:
        touched.setdefault(c, set()).add(h)
    rows = conn.execute(
        select(
            center_hourly.c.center_id,
            center_hourly.c.hour,
            center_hourly.c.orders,
            center_hourly.c.lines,
            center_hourly.c.units,
        ).where(
            or_(
                *(and_(center_hourly.c.center_id == c, center_hourly.c.hour.in_(sorted(h))) for c, h in touched.items())
            )
        )
    )
    return [
        CenterDemand(center_id=c, hour=hour.replace(tzinfo=UTC), orders=n, lines=li, units=u)
        for c, hour, n, li, u in rows
    ]


def recount_hours(conn: Connection, touched: dict[str, set[datetime]]) -> None:
    """Rebuild ``center_hourly`` for the given hours from the stored orders (repair)."""
    cond = or_(*(and_(orders.c.center_id == c, orders.c.hour.in_(sorted(h))) for c, h in touched.items()))
    counted = (
        select(
            orders.c.center_id,
            orders.c.hour,
            func.count().label("orders"),
            func.sum(orders.c.lines).label("lines"),
            func.sum(orders.c.units).label("units"),
            literal(utcnow()).label("updated_at"),
        )
        .where(cond)
        .group_by(orders.c.center_id, orders.c.hour)
    )
    insert_select_upsert(conn, center_hourly, counted, ["center_id", "hour"])


def bump_metrics(conn: Connection, counts: Counter[tuple[str, str]]) -> None:
    """Add to the worker's counters, e.g. ``{("dead_letters", "late"): 3}``."""
    if not counts:
        return
    now = utcnow()
    keys = [{"name": n, "reason": r} for n, r in counts]
    existing = {
        (n, r): v
        for n, r, v in conn.execute(
            select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value).where(
                or_(*(and_(stream_metrics.c.name == k["name"], stream_metrics.c.reason == k["reason"]) for k in keys))
            )
        )
    }
    rows = [
        {"name": n, "reason": r, "value": existing.get((n, r), 0) + v, "updated_at": now}
        for (n, r), v in counts.items()
    ]
    upsert(conn, stream_metrics, rows, ["name", "reason"])


_ROWS_PER_STATEMENT = 500


def _insert_orders(conn: Connection, rows: Sequence[dict]) -> set[str]:
    """Insert order rows, skipping stored ids; returns the ids that went in.

    The hot path, at the driver level (SQLAlchemy's per-row parameter processing
    costs more than the insert itself): PostgreSQL takes the batch as six arrays
    (``INSERT ... SELECT FROM unnest(...)``), SQLite as multi-row ``VALUES`` with
    datetimes in SQLAlchemy's stored form; both ``ON CONFLICT DO NOTHING
    RETURNING order_id``.
    """
    columns = "order_id, center_id, ts, hour, lines, units"
    tail = "ON CONFLICT (order_id) DO NOTHING RETURNING order_id"
    if conn.dialect.name == "postgresql":
        sql = (
            f"INSERT INTO {orders.name} ({columns}) SELECT {columns} FROM json_to_recordset(%s::json) AS "
            "x(order_id text, center_id text, ts timestamp, hour timestamp, lines int, units int) " + tail
        )
        payload = json.dumps([{**r, "ts": r["ts"].isoformat(), "hour": r["hour"].isoformat()} for r in rows])
        return {oid for (oid,) in conn.exec_driver_sql(sql, (payload,))}
    one = "(?, ?, ?, ?, ?, ?)"
    inserted: set[str] = set()
    for i in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[i : i + _ROWS_PER_STATEMENT]
        sql = f"INSERT INTO {orders.name} ({columns}) VALUES {', '.join([one] * len(chunk))} {tail}"
        params = tuple(
            v
            for r in chunk
            for v in (
                r["order_id"],
                r["center_id"],
                r["ts"].isoformat(sep=" ", timespec="microseconds"),  # SQLAlchemy's SQLite DATETIME form
                r["hour"].isoformat(sep=" ", timespec="microseconds"),
                r["lines"],
                r["units"],
            )
        )
        inserted.update(oid for (oid,) in conn.exec_driver_sql(sql, params))
    return inserted


def write_orders(engine: Engine, batch: Sequence[Order], grace: timedelta) -> OrderBatchResult:
    """Store a batch of valid orders exactly once; see the module docstring.

    Lateness is judged first, against the stored stream time; a late-looking
    order that is already stored is a replay (a duplicate), not a dead letter.
    On-time orders are inserted with ``ON CONFLICT DO NOTHING``: the rows that
    did not go in were stored before (duplicates).
    """
    result = OrderBatchResult()
    if not batch:
        return result
    unique, in_batch_dups = dedupe(batch)
    rows = [order_row(o) for o in unique]
    by_id = {r["order_id"]: r for r in rows}
    with engine.begin() as conn:
        marks = _watermarks(conn, {r["center_id"] for r in rows})
        split = split_late(unique, marks, grace, times=[r["ts"] for r in rows])
        replayed = _existing_ids(conn, [o.order_id for o in split.late]) if split.late else set()
        result.late = [o for o in split.late if o.order_id not in replayed]
        on_time = [by_id[o.order_id] for o in split.accepted]
        if on_time:
            inserted = _insert_orders(conn, on_time)
            result.accepted = len(inserted)
            if inserted:
                result.hourly = _add_to_hours(conn, [r for r in on_time if r["order_id"] in inserted])
        if split.watermarks:
            upsert(
                conn,
                center_watermarks,
                [{"center_id": c, "watermark": w} for c, w in split.watermarks.items()],
                ["center_id"],
                where=lambda t, ex: ex.watermark > t.c.watermark,
            )
        result.duplicates = in_batch_dups + len(replayed) + len(on_time) - result.accepted
        counts = Counter({("orders", "accepted"): result.accepted, ("orders", "duplicate"): result.duplicates})
        bump_metrics(conn, +counts)  # unary + drops zero counts
    return result


def promotion_row(promo: Promotion) -> dict:
    return {
        "promo_id": promo.promo_id,
        "center_ids": promo.center_ids,
        "start": to_naive_utc(promo.start),
        "end": to_naive_utc(promo.end),
        "kind": promo.kind,
        "discount_pct": promo.discount_pct,
        "status": promo.status,
        "updated_at": to_naive_utc(promo.updated_at or promo.start),
    }


def write_promotions(engine: Engine, batch: Sequence[Promotion]) -> int:
    """Upsert promotions; an older version never overwrites a newer one."""
    newest: dict[str, dict] = {}
    for promo in batch:
        row = promotion_row(promo)
        kept = newest.get(row["promo_id"])
        if kept is None or row["updated_at"] >= kept["updated_at"]:
            newest[row["promo_id"]] = row
    with engine.begin() as conn:
        upsert(
            conn,
            promotions,
            list(newest.values()),
            ["promo_id"],
            where=lambda t, ex: ex.updated_at >= t.c.updated_at,
        )
        bump_metrics(conn, Counter({("promotions", "accepted"): len(batch)}))
    return len(newest)
