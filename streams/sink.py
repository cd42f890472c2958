"""The one sink that writes stream results to the database.

Orders: :mod:`fcplan.streams.order_sink` (exactly once, in a few statements a batch);
Promotions: newest version wins; :func:`store_promotions` isolates the records
the database refuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from fcplan.core.contracts import Promotion
from fcplan.storage import metrics as m
from fcplan.storage import upsert
from fcplan.storage.orders_sql import add_metrics
from fcplan.storage.outage import is_outage
from fcplan.storage.schema import promotions
from fcplan.streams.hours import to_naive_utc
from fcplan.streams.order_sink import OrderBatchResult
from fcplan.streams.poison import bisect_writes
from fcplan.streams.validation import UNWRITABLE, exception_detail

__all__ = ["OrderBatchResult", "StoredPromotions", "bump_metrics", "store_promotions", "write_promotions"]


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
    (:mod:`fcplan.streams.poison`) instead of failing the batch; they are counted as
    ``promotions_dead_letters/unwritable``. A database outage propagates
    (:func:`fcplan.storage.outage.is_outage`): retry the whole batch later."""
    parts = bisect_writes(len(batch), lambda lo, hi: write_promotions(engine, batch[lo:hi]), is_outage)
    if parts.poison:
        with engine.begin() as conn:
            bump_metrics(conn, Counter({(m.PROMOTIONS_DEAD_LETTERS, UNWRITABLE): len(parts.poison)}))
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
        bump_metrics(conn, Counter({(m.PROMOTIONS, m.ACCEPTED): len(batch)}))
    return len(newest)
