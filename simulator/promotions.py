"""Simulated promotions: announced ahead, some cancelled, each lifting demand while it runs.

A :class:`SimulatedPromotion` carries the fields of the promotion event contract. Its
``uplift`` multiplies the expected orders of its centers in every hour starting
in ``[start, end)``; overlapping promotions multiply, capped at
:data:`MAX_UPLIFT`. A cancelled promotion lifts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from fcplan.core.contracts import CANCELLED
from fcplan.core.locales import Locales
from fcplan.simulator.demand import (
    DEFAULT_TZ,
    STREAM_PROMOTIONS,
    CenterProfile,
    TimeLike,
    center_key,
    to_instant,
)

PROMOTION_KINDS = ("discount", "free_shipping", "flash_sale")
_KIND_PROBS = (0.55, 0.25, 0.20)
STATUSES = ("active", CANCELLED)
MAX_UPLIFT = 3.0
#: Share of promotions cancelled between their announcement and their start.
CANCEL_RATE = 0.1
FREE_SHIPPING_UPLIFT = 1.2


def promotion_uplift(kind: str, discount_pct: float) -> float:
    """Demand multiplier of a running promotion: ``1 + 2 * discount_pct / 100``,
    capped at 2.0 (2.5 for a flash sale); a free-shipping promotion gives 1.2."""
    if kind == "free_shipping":
        return FREE_SHIPPING_UPLIFT
    cap = 2.5 if kind == "flash_sale" else 2.0
    return float(min(1.0 + 2.0 * discount_pct / 100.0, cap))


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)


@dataclass(frozen=True)
class SimulatedPromotion:
    """One promotion as in the event contract.

    ``center_ids`` None means every center. ``start``, ``end``, ``announced_at``
    and ``cancelled_at`` are tz-aware datetimes; ``status`` is ``"active"`` or
    ``"cancelled"``; ``cancelled_at`` (set only when cancelled) lies between the
    announcement and the start.
    """

    promo_id: str
    center_ids: list[str] | None
    start: datetime
    end: datetime
    kind: str
    discount_pct: float
    status: str
    announced_at: datetime
    cancelled_at: datetime | None = None

    def __post_init__(self) -> None:
        stamps = {"start": self.start, "end": self.end, "announced_at": self.announced_at}
        naive = [name for name, value in stamps.items() if value.tzinfo is None]
        if naive:
            raise ValueError(f"promotion {self.promo_id}: {naive} must be tz-aware datetimes")
        if not self.start < self.end:
            raise ValueError(f"promotion {self.promo_id}: start {self.start} must be before end {self.end}")
        if self.kind not in PROMOTION_KINDS:
            raise ValueError(f"promotion {self.promo_id}: kind {self.kind!r} is not one of {PROMOTION_KINDS}")
        if self.status not in STATUSES:
            raise ValueError(f"promotion {self.promo_id}: status {self.status!r} is not one of {STATUSES}")

    @property
    def uplift(self) -> float:
        """Demand multiplier while it runs (1.0 when cancelled)."""
        return 1.0 if self.status == CANCELLED else promotion_uplift(self.kind, self.discount_pct)

    def applies_to(self, center_id: str) -> bool:
        return self.center_ids is None or center_id in self.center_ids

    def known_at(self, as_of: datetime) -> SimulatedPromotion | None:
        """The promotion as a planner sees it at ``as_of``: None before the
        announcement; still ``"active"`` if its cancellation comes later."""
        if self.announced_at > as_of:
            return None
        if self.status == CANCELLED and self.cancelled_at is not None and self.cancelled_at > as_of:
            return replace(self, status="active", cancelled_at=None)
        return self

    def to_event(self) -> dict[str, Any]:
        """A JSON-ready dict: datetimes as ISO 8601 strings with offset."""
        return {
            "promo_id": self.promo_id,
            "center_ids": None if self.center_ids is None else list(self.center_ids),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": self.kind,
            "discount_pct": float(self.discount_pct),
            "status": self.status,
            "announced_at": self.announced_at.isoformat(),
            "cancelled_at": None if self.cancelled_at is None else self.cancelled_at.isoformat(),
        }


def promotions_known_at(
    promotions: Sequence[SimulatedPromotion], as_of: TimeLike, tz: str = DEFAULT_TZ
) -> list[SimulatedPromotion]:
    """The promotions announced by ``as_of``, with cancellations known by then."""
    moment = to_instant(as_of, tz).to_pydatetime()
    known = (p.known_at(moment) for p in promotions)
    return [p for p in known if p is not None]


def cancellation_chance(promo: SimulatedPromotion, as_of: datetime, cancel_rate: float = CANCEL_RATE) -> float:
    """Probability that ``promo``, announced and not cancelled by ``as_of``, is
    cancelled later (the cancellation time is uniform between announcement and start)."""
    a, s, t = promo.announced_at.timestamp(), promo.start.timestamp(), as_of.timestamp()
    if t >= s or s <= a:
        return 0.0
    passed = min(max((t - a) / (s - a), 0.0), 1.0)
    return cancel_rate * (1.0 - passed) / (1.0 - cancel_rate * passed)


def promotion_factor(
    center_ids: Sequence[str], promotions: Sequence[SimulatedPromotion], hour_ns: np.ndarray
) -> np.ndarray:
    """Demand multiplier per center and hour, shape ``(len(center_ids), len(hour_ns))``.

    ``hour_ns``: sorted hour starts as UTC epoch nanoseconds.
    """
    factor = np.ones((len(center_ids), len(hour_ns)))
    index = {cid: i for i, cid in enumerate(center_ids)}
    for promo in promotions:
        if promo.status != "active":
            continue
        lo, hi = np.searchsorted(hour_ns, [_ns(promo.start), _ns(promo.end)], side="left")
        if lo >= hi:
            continue
        rows = (
            list(range(len(center_ids)))
            if promo.center_ids is None
            else [index[c] for c in promo.center_ids if c in index]
        )
        factor[rows, lo:hi] *= promo.uplift
    return np.minimum(factor, MAX_UPLIFT)


def _draw(
    rng: np.random.Generator,
    promo_id: str,
    center_ids: list[str] | None,
    month_start: pd.Timestamp,
    tz: str,
    cancel_rate: float,
) -> SimulatedPromotion:
    kind = str(rng.choice(PROMOTION_KINDS, p=_KIND_PROBS))
    day = month_start + pd.Timedelta(days=int(rng.integers(month_start.days_in_month)))
    if kind == "flash_sale":
        start = day + pd.Timedelta(hours=int(rng.choice([10, 12, 18, 20])))
        end = start + pd.Timedelta(hours=int(rng.integers(6, 25)))
        discount = float(rng.choice([30, 40, 50, 60]))
    else:
        start, end = day, day + pd.Timedelta(days=int(rng.integers(1, 6)))
        discount = float(rng.choice([5, 10, 15, 20, 25, 30])) if kind == "discount" else 0.0
    announced = start - pd.Timedelta(minutes=int(rng.integers(3 * 1440, 14 * 1440)))
    cancelled = rng.random() < cancel_rate
    lead_min = int((start - announced) / pd.Timedelta(minutes=1))
    cancelled_at = announced + pd.Timedelta(minutes=int(rng.integers(1, lead_min)))

    def aware(ts: pd.Timestamp) -> datetime:
        return ts.tz_localize(tz).to_pydatetime()

    return SimulatedPromotion(
        promo_id=promo_id,
        center_ids=center_ids,
        start=aware(start),
        end=aware(end),
        kind=kind,
        discount_pct=discount,
        status=CANCELLED if cancelled else "active",
        announced_at=aware(announced),
        cancelled_at=aware(cancelled_at) if cancelled else None,
    )


def make_promotions(
    centers: Sequence[CenterProfile],
    start: TimeLike,
    end: TimeLike,
    seed: int = 0,
    tz: str = DEFAULT_TZ,
    per_center_rate: float = 1.5,
    all_centers_rate: float = 1.0,
    cancel_rate: float = CANCEL_RATE,
    locales: Locales | None = None,
) -> list[SimulatedPromotion]:
    """Promotions running at some moment of ``[start, end)``, sorted by start.

    Per local calendar month: ``Poisson(all_centers_rate)`` promotions for all
    centers (one more in November) and ``Poisson(per_center_rate)`` for each
    center. Discounts and free shipping run 1-5 whole local days, flash sales
    6-24 hours from 10:00, 12:00, 18:00 or 20:00. Each is announced 3-14 days
    ahead; a share ``cancel_rate`` is cancelled between announcement and start.
    A month's promotions depend only on ``(seed, month, center id)``. Promotions for all
    centers keep ``tz``'s clock; with ``locales`` a center's own ones follow its zone.
    """
    lo, hi = to_instant(start, tz), to_instant(end, tz)
    first = (lo.tz_localize(None).to_period("M") - 1).to_timestamp()
    months = pd.date_range(first, hi.tz_localize(None), freq="MS")
    promos: list[SimulatedPromotion] = []
    for month_start in months:
        tag = f"{month_start.year}{month_start.month:02d}"
        ym = month_start.year * 12 + month_start.month - 1
        rng = np.random.default_rng([seed, STREAM_PROMOTIONS, ym])
        rate = all_centers_rate + (1.0 if month_start.month == 11 else 0.0)
        for k in range(int(rng.poisson(rate))):
            promos.append(_draw(rng, f"PROMO-{tag}-ALL-{k + 1:02d}", None, month_start, tz, cancel_rate))
        for center in centers:
            rng = np.random.default_rng([seed, STREAM_PROMOTIONS, ym, center_key(center.center_id)])
            for k in range(int(rng.poisson(per_center_rate))):
                promo_id = f"PROMO-{tag}-{center.center_id}-{k + 1:02d}"
                zone = locales.zone(center.center_id) if locales is not None else tz
                promos.append(_draw(rng, promo_id, [center.center_id], month_start, zone, cancel_rate))
    keep = [p for p in promos if p.end > lo and p.start < hi]
    return sorted(keep, key=lambda p: (p.start, p.promo_id))
