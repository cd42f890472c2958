"""The promotion effect as the retrainer stores it and the what-if page applies it.

A discount of ``d`` percent lifts daily orders by ``(1 + effect_per_pct) ** d``.
"""

from __future__ import annotations

EFFECT_PER_PCT = "effect_per_pct"
PROMO_DAYS = "promo_days"
#: Fewer promotion days than this (over the whole panel) and no effect is estimated.
MIN_PROMO_DAYS = 5


def discount_uplift(effect_per_pct: float, discount_pct: float) -> float:
    """The factor on daily orders of a ``discount_pct`` percent discount."""
    return (1.0 + effect_per_pct) ** discount_pct
