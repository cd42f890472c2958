"""What-if promotions on a stored forecast: per-center, per-kind effects, never stacked.

The stored forecast already holds the promotions the calendar announced when it
was made (the retrainer feeds the largest discount running each day to the
models). A scenario promotion on such a day does not add its lift on top: the
day runs the larger of the two, so the forecast is scaled by
``max(new lift, existing lift) / existing lift``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fcplan.core.panel import DS
from fcplan.core.promotions import discount_uplift

KIND = "kind"
DISCOUNT_PCT = "discount_pct"


def existing_promotions(promos: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """``ds, kind, discount_pct``: the largest promotion running on each local day (0 and
    ``""`` when none). ``promos``: ``kind, discount_pct, start, end`` in local wall-clock
    time (tz-naive), active promotions of one center."""
    days = pd.DatetimeIndex(days).normalize()
    best = np.zeros(len(days))
    kinds = np.array([""] * len(days), dtype=object)
    for row in promos.itertuples(index=False):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        touched = (days < end) & (days + pd.Timedelta(days=1) > start) & (float(row.discount_pct) > best)
        best = np.where(touched, float(row.discount_pct), best)
        kinds = np.where(touched, str(row.kind), kinds)
    return pd.DataFrame({DS: days, KIND: kinds, DISCOUNT_PCT: best})


def promotion_factors(
    days: pd.DatetimeIndex,
    promo_days: pd.DatetimeIndex,
    kind: str,
    discount_pct: float,
    effects: Mapping[str, float],
    existing: pd.DataFrame | None = None,
    default: float = 0.0,
) -> np.ndarray:
    """The factor on each of ``days``' forecast when a ``kind`` promotion with
    ``discount_pct`` runs on ``promo_days``.

    ``effects``: effect per discount point by kind for this center (a kind missing
    from it has the ``default`` effect, e.g. the pooled one); ``existing``:
    :func:`existing_promotions` of the stored forecast.
    Off the promotion days the factor is 1; on them ``max(new, old) / old`` with
    ``new = (1 + effects[kind]) ** discount_pct`` and ``old`` the existing promotion's
    lift (1 when none)."""
    days = pd.DatetimeIndex(days).normalize()
    on = days.isin(pd.DatetimeIndex(promo_days).normalize())
    new = discount_uplift(float(effects.get(kind, default)), discount_pct)
    old = np.ones(len(days))
    if existing is not None and not existing.empty:
        held = existing.set_index(pd.DatetimeIndex(existing[DS]).normalize()).reindex(days)
        for i, (k, d) in enumerate(zip(held[KIND].fillna(""), held[DISCOUNT_PCT].fillna(0.0), strict=True)):
            if d > 0:
                old[i] = discount_uplift(float(effects.get(str(k), default)), float(d))
    return np.where(on, np.maximum(new, old) / old, 1.0)
