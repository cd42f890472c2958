"""The one sink that writes stream results to the database.

Orders: :mod:`fcplan.streams.order_sink` (exactly once, in a few statements a batch);
Promotions: newest version wins; :func:`store_promotions` isolates the records
the database refuses; :func:`count_promotions` counts a batch's records once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, or_

from fcplan.core.contracts import CANCELLED, Promotion
from fcplan.storage import metrics as m
from fcplan.storage import upsert
from fcplan.storage.orders_sql import add_metrics, lock_for_write
from fcplan.storage.outage import is_outage
from fcplan.storage.schema import promotions
from fcplan.streams.counted import Origin, fresh
from fcplan.streams.hours import to_naive_utc
from fcplan.streams.order_sink import OrderBatchResult
from fcplan.streams.poison import bisect_writes
from fcplan.streams.validation import exception_detail

__all__ = ["OrderBatchResult", "StoredPromotions", "count_promotions", "store_promotions", "write_promotions"]


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


def _not_older(table: Any, excluded: Any) -> Any:
    """The stored version is replaced by one as new or newer, but at a tie an active version never
    replaces a cancelled one (see :func:`_replaces`)."""
    return or_(
        excluded.updated_at > table.c.updated_at,
        and_(excluded.updated_at == table.c.updated_at,
             or_(excluded.status == CANCELLED, table.c.status != CANCELLED)),
    )



def _replaces(row: dict, kept: dict) -> bool:
    """Whether version ``row`` replaces ``kept`` of the same promotion: a newer one does; at the same
    ``updated_at`` (two versions sent without it are both stamped with ``start``) the later one does,
    unless it is active and ``kept`` cancelled. Without that, the announcement read again after its
    cancellation (a crash, a rebalance, ``fcplan replay``) made the promotion active again."""
    if row["updated_at"] != kept["updated_at"]:
        return row["updated_at"] > kept["updated_at"]
    return row["status"] == CANCELLED or kept["status"] != CANCELLED


@dataclass(frozen=True)
class StoredPromotions:
    """``stored``: promotions of the batch written (versions included); ``unwritable``: ``(position in the batch,
    detail)`` of those the database refused, for the dead-letter topic (reason
    ``unwritable``)."""

    stored: int
    unwritable: list[tuple[int, str]]


def store_promotions(engine: Engine, batch: Sequence[Promotion]) -> StoredPromotions:
    """:func:`write_promotions`, with the records the database refuses isolated
    (:mod:`fcplan.streams.poison`) instead of failing the batch (count them as
    ``promotions_dead_letters/unwritable`` with :func:`count_promotions`). A database outage
    propagates (:func:`fcplan.storage.outage.is_outage`): retry the whole batch later."""
    parts = bisect_writes(len(batch), lambda lo, hi: write_promotions(engine, batch[lo:hi]), is_outage)
    return StoredPromotions(len(batch) - len(parts.poison), [(k, exception_detail(e)) for k, e in parts.poison])


def write_promotions(engine: Engine, batch: Sequence[Promotion]) -> int:
    """Upsert promotions; an older version never overwrites a newer one, nor an active version a
    cancelled one stamped alike (:func:`_replaces`)."""
    newest: dict[str, dict] = {}
    for promo in batch:
        row = promotion_row(promo)
        kept = newest.get(row["promo_id"])
        if kept is None or _replaces(row, kept):
            newest[row["promo_id"]] = row
    with engine.begin() as conn:
        upsert(
            conn,
            promotions,
            list(newest.values()),
            ["promo_id"],
            where=_not_older,
        )
    return len(newest)


def _no_value(i: int) -> bytes | None:
    return None


def count_promotions(
    engine: Engine, read: Sequence[bytes | None] | int, dead: Mapping[int, str], origin: Origin | None = None
) -> None:
    """Count a stored batch of promotion records (``read``: their values, or how many without an
    ``origin``): ``promotions/accepted`` for the stored ones, ``promotions_dead_letters/<reason>``
    for ``dead`` (position -> reason), in one transaction; with an ``origin``, only the records
    the counters lack (:mod:`fcplan.streams.counted`): a batch read again is not counted again."""
    n, value = (read, _no_value) if isinstance(read, int) else (len(read), read.__getitem__)
    with engine.begin() as conn:
        lock_for_write(conn)
        new = fresh(conn, origin, 0, n, value)
        counts = Counter((m.PROMOTIONS_DEAD_LETTERS, r) for p, r in dead.items() if new[p])
        counts[(m.PROMOTIONS, m.ACCEPTED)] = int(new.sum()) - counts.total()
        add_metrics(conn, counts)
