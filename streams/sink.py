"""The one sink that writes stream results to the database.

Orders: :mod:`streams.order_sink` (exactly once, in a few statements a batch);
:func:`write_orders` here takes :class:`~streams.contracts.Order` records.
Promotions: newest version wins; :func:`store_promotions` isolates the records
the database refuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from fcplan.storage import upsert
from fcplan.storage.outage import is_outage
from fcplan.storage.schema import promotions
from streams.aggregate import to_naive_utc
from streams.columns import OrderColumns
from streams.contracts import Order, Promotion
from streams.order_sink import OrderBatchResult, add_metrics, write_order_columns
from streams.poison import bisect_writes
from streams.validation import UNWRITABLE, exception_detail

__all__ = ["OrderBatchResult", "StoredPromotions", "bump_metrics", "store_promotions", "write_orders",
           "write_promotions"]


def write_orders(engine: Engine, batch: Sequence[Order], grace: timedelta) -> OrderBatchResult:
    """Store orders exactly once (see :mod:`streams.order_sink`); ``late`` holds the
    late :class:`Order` records themselves."""
    result = write_order_columns(engine, OrderColumns.from_orders(batch), grace)
    return replace(result, late=[batch[i] for i in result.late])


def bump_metrics(conn: Connection, counts: Counter[tuple[str, str]]) -> None:
    """Add to the worker's counters, e.g. ``{("orders_dead_letters", "late"): 3}``."""
    add_metrics(conn, counts)


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
    return excluded.updated_at >= table.c.updated_at


@dataclass(frozen=True)
class StoredPromotions:
    """``stored``: promotions of the batch written (versions included); ``unwritable``: ``(position in the batch,
    detail)`` of those the database refused, for the dead-letter topic (reason
    ``unwritable``)."""

    stored: int
    unwritable: list[tuple[int, str]]


def store_promotions(engine: Engine, batch: Sequence[Promotion]) -> StoredPromotions:
    """:func:`write_promotions`, with the records the database refuses isolated
    (:mod:`streams.poison`) instead of failing the batch; they are counted as
    ``promotions_dead_letters/unwritable``. A database outage propagates
    (:func:`fcplan.storage.outage.is_outage`): retry the whole batch later."""
    parts = bisect_writes(len(batch), lambda lo, hi: write_promotions(engine, batch[lo:hi]), is_outage)
    if parts.poison:
        with engine.begin() as conn:
            bump_metrics(conn, Counter({("promotions_dead_letters", UNWRITABLE): len(parts.poison)}))
    return StoredPromotions(len(batch) - len(parts.poison), [(k, exception_detail(e)) for k, e in parts.poison])


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
            where=_not_older,
        )
        bump_metrics(conn, Counter({("promotions", "accepted"): len(batch)}))
    return len(newest)
