"""The one sink that writes stream results to the database.

Each batch is one transaction: already-stored orders are duplicates, late ones
are returned for the dead-letter topic, new ones are inserted (primary key on
``order_id``) and every touched hour is *recounted* from the ``orders`` table.
Replaying a batch after a crash therefore changes nothing: the agent commits
Kafka offsets only after this returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, func, literal, or_, select
from sqlalchemy.engine import Connection

from fcplan.storage import insert_select_upsert, upsert, utcnow
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


def _recount(conn: Connection, touched: dict[str, set[datetime]]) -> list[CenterDemand]:
    """Recount the touched hours from ``orders`` into ``center_hourly``."""
    cond = or_(*(and_(orders.c.center_id == c, orders.c.hour.in_(sorted(h))) for c, h in touched.items()))
    now = utcnow()
    counted = (
        select(
            orders.c.center_id,
            orders.c.hour,
            func.count().label("orders"),
            func.sum(orders.c.lines).label("lines"),
            func.sum(orders.c.units).label("units"),
            literal(now).label("updated_at"),
        )
        .where(cond)
        .group_by(orders.c.center_id, orders.c.hour)
    )
    insert_select_upsert(conn, center_hourly, counted, ["center_id", "hour"])
    rows = conn.execute(
        select(
            center_hourly.c.center_id,
            center_hourly.c.hour,
            center_hourly.c.orders,
            center_hourly.c.lines,
            center_hourly.c.units,
        ).where(
            or_(
                *(
                    and_(center_hourly.c.center_id == c, center_hourly.c.hour.in_(sorted(h)))
                    for c, h in touched.items()
                )
            )
        )
    )
    return [
        CenterDemand(center_id=c, hour=hour.replace(tzinfo=UTC), orders=n, lines=li, units=u)
        for c, hour, n, li, u in rows
    ]


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
                or_(
                    *(
                        and_(stream_metrics.c.name == k["name"], stream_metrics.c.reason == k["reason"])
                        for k in keys
                    )
                )
            )
        )
    }
    rows = [
        {"name": n, "reason": r, "value": existing.get((n, r), 0) + v, "updated_at": now}
        for (n, r), v in counts.items()
    ]
    upsert(conn, stream_metrics, rows, ["name", "reason"])


def write_orders(engine: Engine, batch: Sequence[Order], grace: timedelta) -> OrderBatchResult:
    """Store a batch of valid orders exactly once; see the module docstring."""
    result = OrderBatchResult()
    if not batch:
        return result
    unique, in_batch_dups = dedupe(batch)
    with engine.begin() as conn:
        stored = _existing_ids(conn, [o.order_id for o in unique])
        fresh = [o for o in unique if o.order_id not in stored]
        split = split_late(fresh, _watermarks(conn, {o.center_id for o in fresh}), grace)
        rows = [order_row(o) for o in split.accepted]
        if rows:
            upsert(conn, orders, rows, ["order_id"], update=[])
            touched: dict[str, set[datetime]] = {}
            for row in rows:
                touched.setdefault(row["center_id"], set()).add(row["hour"])
            result.hourly = _recount(conn, touched)
        if split.watermarks:
            upsert(
                conn,
                center_watermarks,
                [{"center_id": c, "watermark": w} for c, w in split.watermarks.items()],
                ["center_id"],
                where=lambda t, ex: ex.watermark > t.c.watermark,
            )
        result.accepted = len(rows)
        result.duplicates = in_batch_dups + len(stored)
        result.late = split.late
        counts = Counter(
            {("orders", "accepted"): result.accepted, ("orders", "duplicate"): result.duplicates}
        )
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
