"""Promotion calendar -> daily known-future covariates per center."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fcplan.core.contracts import CANCELLED
from fcplan.core.panel import DS, UNIQUE_ID

PROMO = "promo"
PROMO_DISCOUNT = "promo_discount_frac"
PROMO_COLUMNS = [PROMO, PROMO_DISCOUNT]


def promotion_features(
    calendar: pd.DataFrame, centers: Sequence[str], days: pd.DatetimeIndex, tz: str
) -> pd.DataFrame:
    """``unique_id, ds, promo, promo_discount_frac`` for every center and local day.

    ``calendar`` has ``center_ids`` (list, or None for every center), ``start``
    and ``end`` (naive UTC), ``discount_pct`` and ``status``; cancelled
    promotions are ignored. ``promo`` is the share of the local day a promotion
    covers (1.0 for a whole day); ``promo_discount_frac`` the largest discount (in
    %/100) running that day.
    """
    days = pd.DatetimeIndex(days).normalize().as_unit("ns")
    grid = pd.MultiIndex.from_product([list(centers), days], names=[UNIQUE_ID, DS])
    out = pd.DataFrame(0.0, index=grid, columns=PROMO_COLUMNS)
    active = calendar[calendar["status"] != CANCELLED] if len(calendar) else calendar
    day_start = days.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").tz_convert("UTC")
    day_end = (days + pd.Timedelta(days=1)).tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    day_end = day_end.tz_convert("UTC")
    for row in active.itertuples(index=False):
        start = pd.Timestamp(row.start).tz_localize("UTC")
        end = pd.Timestamp(row.end).tz_localize("UTC")
        overlap = np.minimum(day_end.asi8, end.as_unit("ns").value) - np.maximum(
            day_start.asi8, start.as_unit("ns").value
        )
        share = np.clip(overlap / (day_end.asi8 - day_start.asi8), 0.0, 1.0)
        if not share.any():
            continue
        targets = (
            list(centers) if row.center_ids is None else [c for c in row.center_ids if c in set(centers)]
        )
        for center in targets:
            block = out.loc[center]
            block[PROMO] = np.maximum(block[PROMO].to_numpy(), share)
            block[PROMO_DISCOUNT] = np.maximum(
                block[PROMO_DISCOUNT].to_numpy(), np.where(share > 0, row.discount_pct / 100.0, 0.0)
            )
            out.loc[center, PROMO_COLUMNS] = block[PROMO_COLUMNS].to_numpy()
    return out.reset_index()
