"""Pure aggregation logic: hour buckets, in-batch dedupe and lateness.

Times leave this module as naive UTC, the database's convention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streams.contracts import Order


def to_naive_utc(ts: datetime) -> datetime:
    """A tz-aware time as naive UTC (naive input is taken to be UTC already)."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def hour_start(ts: datetime) -> datetime:
    """The UTC hour an event belongs to, by its own timestamp (not its arrival)."""
    return to_naive_utc(ts).replace(minute=0, second=0, microsecond=0)


def order_row(order: Order) -> dict:
    """The ``orders`` table row of an accepted order."""
    ts = to_naive_utc(order.ts)
    return {
        "order_id": order.order_id,
        "center_id": order.center_id,
        "ts": ts,
        "hour": ts.replace(minute=0, second=0, microsecond=0),
        "lines": order.lines,
        "units": order.units,
    }


def dedupe(orders: Iterable[Order]) -> tuple[list[Order], int]:
    """First occurrence of each ``order_id``, and how many repeats were dropped."""
    seen: set[str] = set()
    unique: list[Order] = []
    total = 0
    for order in orders:
        total += 1
        if order.order_id not in seen:
            seen.add(order.order_id)
            unique.append(order)
    return unique, total - len(unique)


@dataclass(frozen=True)
class LateSplit:
    accepted: list[Order]
    late: list[Order]
    watermarks: dict[str, datetime]  # naive UTC, only centers that moved


def split_late(
    orders: Sequence[Order],
    watermarks: Mapping[str, datetime],
    grace: timedelta,
    times: Sequence[datetime] | None = None,
) -> LateSplit:
    """Accept orders within ``grace`` of their center's stream time (the newest
    event time seen), in arrival order; the rest are late.

    ``watermarks`` maps center id to naive-UTC stream time before this batch;
    ``times`` are the orders' naive-UTC timestamps when already computed.
    """
    current = dict(watermarks)
    accepted: list[Order] = []
    late: list[Order] = []
    moved: dict[str, datetime] = {}
    stamps = times if times is not None else [to_naive_utc(o.ts) for o in orders]
    for order, ts in zip(orders, stamps, strict=True):
        mark = current.get(order.center_id)
        if mark is not None and ts < mark - grace:
            late.append(order)
            continue
        accepted.append(order)
        if mark is None or ts > mark:
            current[order.center_id] = moved[order.center_id] = ts
    return LateSplit(accepted, late, moved)
