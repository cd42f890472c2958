"""A batch of valid orders in column form, and the pure logic the sink applies to it.

The hot path never builds one Python object per order beyond what the decoder
returns: ids and centers stay lists, times are one ``int64`` array of UTC epoch
microseconds, and in-batch dedupe and lateness are numpy operations over those
columns. Arrival order is the row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta

import numpy as np

from fcplan.core.contracts import Order
from fcplan.core.time import US_PER_HOUR, epoch_us, from_epoch_us, hour_us

#: An order's ``(center, UTC epoch µs, lines, units)``.
Payload = tuple[str, int, int, int]

_NO_MARK = np.iinfo(np.int64).min // 2  # "no watermark yet": nothing is late against it


@dataclass(frozen=True)
class OrderColumns:
    """Valid orders of one batch, one entry per order in arrival order.

    ``t_us``: UTC epoch microseconds (int64); ``source``: each order's position in
    the fetched records, so a dead letter can quote the original record.
    """

    order_id: list[str]
    center_id: list[str]
    t_us: np.ndarray
    lines: list[int]
    units: list[int]
    source: list[int]

    def __len__(self) -> int:
        return len(self.order_id)

    @classmethod
    def from_orders(cls, orders: Sequence[Order], source: Sequence[int] | None = None) -> OrderColumns:
        return cls(
            order_id=[o.order_id for o in orders],
            center_id=[o.center_id for o in orders],
            t_us=np.array([epoch_us(o.ts) for o in orders], dtype=np.int64),
            lines=[o.lines for o in orders],
            units=[o.units for o in orders],
            source=list(range(len(orders))) if source is None else list(source),
        )

    def take(self, index: np.ndarray | Sequence[int]) -> OrderColumns:
        """The rows at ``index`` (positions), in that order."""
        idx = np.asarray(index, dtype=np.int64)
        pick = idx.tolist()
        return OrderColumns(
            order_id=[self.order_id[i] for i in pick],
            center_id=[self.center_id[i] for i in pick],
            t_us=self.t_us[idx] if len(idx) else np.empty(0, dtype=np.int64),
            lines=[self.lines[i] for i in pick],
            units=[self.units[i] for i in pick],
            source=[self.source[i] for i in pick],
        )

    def payload(self, i: int) -> Payload:
        """Row ``i``'s ``(center, t_us, lines, units)``: what two records of one order id must agree on."""
        return self.center_id[i], int(self.t_us[i]), int(self.lines[i]), int(self.units[i])

    def order(self, i: int) -> Order:
        """Row ``i`` as an :class:`Order` (for dead letters and tests; not the hot path)."""
        ts = from_epoch_us(int(self.t_us[i])).replace(tzinfo=UTC)
        return Order(
            order_id=self.order_id[i], center_id=self.center_id[i], ts=ts, lines=self.lines[i], units=self.units[i]
        )


def first_occurrences(order_ids: Sequence[str]) -> np.ndarray:
    """Positions of the first occurrence of each order id, ascending."""
    if len(set(order_ids)) == len(order_ids):
        return np.arange(len(order_ids), dtype=np.int64)
    seen: set[str] = set()
    keep = []
    for i, oid in enumerate(order_ids):
        if oid not in seen:
            seen.add(oid)
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def conflicting_repeats(
    cols: OrderColumns, first: np.ndarray, stored: Mapping[str, Payload]
) -> list[tuple[int, Payload]]:
    """``(position, kept payload)`` of each row of ``cols`` whose order id is kept with another
    payload: the ``stored`` one where its id was stored before, else its first occurrence in
    ``cols`` (``first``: :func:`first_occurrences`). Ascending."""
    if not stored and len(first) == len(cols):
        return []
    firsts = {cols.order_id[i]: i for i in first.tolist()}
    out = []
    for i, oid in enumerate(cols.order_id):
        kept = stored[oid] if oid in stored else cols.payload(firsts[oid])
        if cols.payload(i) != kept:
            out.append((i, kept))
    return out


@dataclass(frozen=True)
class LateSplit:
    """Positions of on-time and late rows, and the watermarks that moved (epoch µs)."""

    accepted: np.ndarray
    late: np.ndarray
    watermarks: dict[str, int]


def split_late(
    center_id: Sequence[str], t_us: np.ndarray, watermarks: Mapping[str, int], grace: timedelta
) -> LateSplit:
    """Accept rows within ``grace`` of their center's stream time (the newest event
    time seen before them: the stored ``watermarks``, then earlier rows of the
    batch, in arrival order); the rest are late. Times are UTC epoch µs."""
    n = len(center_id)
    grace_us = grace // timedelta(microseconds=1)
    late = np.zeros(n, dtype=bool)
    moved: dict[str, int] = {}
    codes, distinct = center_codes(center_id)
    for code, center in enumerate(distinct):
        rows = np.arange(n) if len(distinct) == 1 else np.flatnonzero(codes == code)
        times = t_us[rows]
        mark = watermarks.get(center, _NO_MARK)
        before = np.maximum.accumulate(np.concatenate(([mark], times[:-1])))
        late[rows] = times < before - grace_us
        newest = int(times.max())
        if newest > mark:
            moved[center] = newest
    return LateSplit(np.flatnonzero(~late), np.flatnonzero(late), moved)


def center_codes(center_id: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Small integer codes for the centers of a batch, and the center of each code."""
    names = list(dict.fromkeys(center_id))
    index = {c: i for i, c in enumerate(names)}
    return np.array([index[c] for c in center_id], dtype=np.int64), names


def hourly_sums(cols: OrderColumns) -> list[tuple[str, int, int, int, int]]:
    """``(center, hour start in epoch µs, orders, lines, units)`` per center and UTC hour."""
    if not len(cols):
        return []
    codes, names = center_codes(cols.center_id)
    hours = hour_us(cols.t_us) // US_PER_HOUR
    base = int(hours.min())
    span = int(hours.max()) - base + 1
    uniq, inverse = np.unique(codes * span + (hours - base), return_inverse=True)
    n = np.bincount(inverse)
    lines = np.bincount(inverse, weights=np.asarray(cols.lines, dtype=np.float64))
    units = np.bincount(inverse, weights=np.asarray(cols.units, dtype=np.float64))
    return [
        (names[int(k // span)], (base + int(k % span)) * US_PER_HOUR, int(c), int(li), int(u))
        for k, c, li, u in zip(uniq.tolist(), n.tolist(), lines.tolist(), units.tolist(), strict=True)
    ]
